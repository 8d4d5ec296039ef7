"""Pinned definitions as a person reviews them: rows, the readable form, and the diff of a held change."""

from __future__ import annotations

from mcpwrap._state.pins import INSTRUCTIONS, PinStore, new_entry
from mcpwrap._state.pinview import WRAP_WIDTH, diff_lines, entry_label, list_rows, readable_lines, requested_key


def test_keys_and_labels_name_tools_and_instructions():
    assert requested_key("echo") == "tool:echo" and requested_key("tool:instructions") == "tool:instructions"
    assert requested_key(INSTRUCTIONS) == INSTRUCTIONS
    assert entry_label("tool:echo") == "echo" and entry_label(INSTRUCTIONS) == "(instructions)"


def test_long_text_is_wrapped_so_the_diff_names_the_changed_sentence():
    sentences = [f"Sentence number {i} says something ordinary about the tool." for i in range(12)]
    old = {"name": "t", "description": " ".join(sentences)}
    swapped = sentences[:6] + [sentences[6].replace("ordinary", "~/.ssh/x")] + sentences[7:]  # same word lengths
    new = {"name": "t", "description": " ".join(swapped)}
    lines = readable_lines(old)
    assert lines[0] == "description: |" and all(len(line) <= WRAP_WIDTH + 2 for line in lines[1:])
    changed = [line for line in diff_lines(old, new) if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))]
    assert [line[0] for line in changed] == ["-", "+"] and "~/.ssh/x" in changed[1]
    assert len(readable_lines(new)) > 5  # one wrapped line changed, not one 700-character line


def test_the_readable_form_shows_what_a_terminal_would_hide():
    lines = readable_lines({"description": "Reads a file.\u200b\U000e0041", "k\u202ey": ["\x1b[2J"]})
    assert 'description: "Reads a file.\\u200b\\U000e0041"' in lines
    assert "k\\u202ey:" in lines and '  - "\\u001b[2J"' in lines


def test_rows_list_every_server_and_name_a_broken_pin_file(tmp_path):
    store = PinStore(tmp_path)

    def pin(doc: dict) -> None:
        entry = new_entry("tool", "echo")
        entry["approved"] = {"hash": "h", "definition": {"name": "echo"}, "at": "2026-01-01T00:00:00Z", "by": "first-use"}
        doc["entries"]["tool:echo"] = entry

    store.update("good", pin)
    store.path("broken").write_text("{not json")
    rows = {r["server"]: r for r in list_rows(store)}
    assert rows["good"]["tool"] == "echo" and rows["good"]["status"] == "approved" and rows["good"]["pinned_by"] == "first-use"
    assert rows["broken"]["status"] == "error" and "not valid JSON" in rows["broken"]["error"]
    assert [r["server"] for r in list_rows(store, "good")] == ["good"]
