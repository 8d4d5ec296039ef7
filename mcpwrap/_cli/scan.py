"""``mcpwrap scan``: see why content or a tool definition would be withheld, without running a server.

    mcpwrap scan FILE [--definitions] [--json] [--sensitivity low|medium|high|N] [--tool NAME ...]

``FILE`` (``-`` for standard input) is a JSON value — a ``tools/call`` result, a whole JSON-RPC response, any
JSON a server could return — or plain text. It is read exactly as the injection interceptor reads a result:
one view of every string and prose key (:mod:`mcpwrap.detect.view`), scored by the phrase tier and the learned
tier, with the tier, scores, thresholds, the window (JSON path and excerpt) and the signals or strongest
features printed. ``--tool`` adds session tool names for the context signals.

``--definitions``: ``FILE`` is a ``tools/list`` result (``{"tools": [...]}``, a response holding one, or a
list of tools); every tool is scanned as the integrity interceptor scans it and its findings are printed.

Exit status: 0 nothing would be withheld; 1 something would be withheld (or, for content, the learned tier
alone flagged it in enforce mode); 2 the file cannot be read or the options are wrong.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from .exitcodes import EXIT_CODES

__all__ = ["register", "scan_content", "scan_definitions"]

EXIT_CODES.setdefault(
    "scan",
    [
        ("0", "nothing in the file would be withheld"),
        ("1", "something would be withheld (each reason printed)"),
        ("2", "the file cannot be read, or a usage error"),
    ],
)


def _read(path: str) -> tuple[Any, bool]:
    raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    text = raw.decode("utf-8", "replace")
    try:
        return json.loads(text), True
    except ValueError:
        return text, False


def scan_content(value: Any, *, sensitivity: Any = "medium", tools: frozenset[str] = frozenset(), model_setting: str = "auto") -> dict:
    """The interceptor's verdict on ``value`` as a dict: ``withheld`` and ``detection`` (see its ``explain``)."""
    from ..detect import injection, model
    from ..detect.view import view_of
    from ..interceptors.injection import explain, model_mode, why

    if isinstance(value, dict) and "jsonrpc" in value and isinstance(value.get("result"), dict):
        value = value["result"]
    threshold = injection.threshold_for(sensitivity)
    view = view_of(value)
    res = injection.scan(view.text, threshold, tools=tools)
    mode = model_mode(model_setting)
    learned = model.score(view.text, model.Context.of(tools=tools)) if mode != "off" and view.text else None
    phrase = res if res.is_injection else None
    detection = explain(view, phrase, learned, threshold, mode)
    if phrase is None and res.signals:
        detection["below_threshold"] = {"score": res.score, "threshold": threshold, "signals": list(res.signals)}
    withheld = phrase is not None or bool(learned is not None and learned.flagged and mode == "enforce")
    return {"withheld": withheld, "reason": why(detection), "detection": detection, "view_chars": len(view.text)}


def _tools_of(value: Any) -> list[dict]:
    if isinstance(value, dict) and isinstance(value.get("result"), dict):
        value = value["result"]
    if isinstance(value, dict) and isinstance(value.get("tools"), list):
        value = value["tools"]
    if isinstance(value, dict) and "name" in value:
        value = [value]
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise ValueError("expected a tools/list result: {\"tools\": [...]}, a response holding one, or a list of tools")
    return value


def scan_definitions(value: Any) -> dict:
    from ..detect.poison import scan_tool

    tools = _tools_of(value)
    names = [str(t.get("name", "")) for t in tools]
    report = []
    for tool in tools:
        findings = [f.to_dict() for f in scan_tool(tool, own_names=names)]
        report.append({"tool": tool.get("name"), "withheld": bool(findings), "findings": findings})
    return {"withheld": any(r["withheld"] for r in report), "tools": report}


def _print_content(out: dict) -> None:
    d = out["detection"]
    head = "WITHHELD" if out["withheld"] else "passes"
    typer.echo(f"{head}: {out['reason']}")
    if "phrases" in d:
        p = d["phrases"]
        typer.echo(f"  phrases: score {p['score']:g} (threshold {p['threshold']:g}); signals: {', '.join(p['signals'])}")
    elif "below_threshold" in d:
        b = d["below_threshold"]
        typer.echo(f"  phrases: score {b['score']:g} below {b['threshold']:g}; signals: {', '.join(b['signals'])}")
    else:
        typer.echo("  phrases: no signal")
    if "model" in d:
        m = d["model"]
        state = "flagged" if m["flagged"] else "below threshold"
        features = ", ".join(repr(f) for f in m["features"])
        typer.echo(f"  model ({m['mode']}): score {m['score']:g}, threshold {m['threshold']:g}, {state}; strongest features: {features}")
    win = d.get("window")
    if win:
        typer.echo(f"  window: {win['path']}" + (f" (spans {', '.join(win['paths'])})" if len(win.get("paths") or []) > 1 else ""))
        typer.echo(f"    {win['excerpt']}")


def _print_definitions(out: dict) -> None:
    for r in out["tools"]:
        if not r["withheld"]:
            typer.echo(f"passes    {r['tool']}")
            continue
        typer.echo(f"WITHHELD  {r['tool']}")
        for f in r["findings"]:
            typer.echo(f"    {f['rule']} at {f['path']}: {f['excerpt']}")


def register(app: typer.Typer) -> None:
    @app.command("scan", help="Show why a result or tool definitions would be withheld (the injection and poisoning scans, offline).")
    def scan(
        file: str = typer.Argument(..., metavar="FILE", help="A JSON result (or response), a tools/list result (--definitions), or a text file; - for stdin."),
        definitions: bool = typer.Option(False, "--definitions", help="FILE is a tools/list result: run the poisoning scan on each tool."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of text."),
        sensitivity: str = typer.Option("medium", "--sensitivity", metavar="LEVEL", help="low, medium, high or a number (the phrase tier's threshold)."),
        tool: list[str] = typer.Option([], "--tool", metavar="NAME", help="A session tool name, for the context signals (repeatable)."),
    ) -> None:
        try:
            value, _is_json = _read(file)
        except OSError as exc:
            typer.echo(f"mcpwrap scan: cannot read {file}: {exc.strerror or exc}", err=True)
            raise typer.Exit(2) from None
        sens: Any = sensitivity
        if sensitivity not in ("low", "medium", "high"):
            try:
                sens = float(sensitivity)
            except ValueError:
                typer.echo("mcpwrap scan: --sensitivity must be low, medium, high or a number", err=True)
                raise typer.Exit(2) from None
        try:
            out = scan_definitions(value) if definitions else scan_content(value, sensitivity=sens, tools=frozenset(tool))
        except ValueError as exc:
            typer.echo(f"mcpwrap scan: {exc}", err=True)
            raise typer.Exit(2) from None
        if as_json:
            typer.echo(json.dumps(out, ensure_ascii=False, indent=1))
        elif definitions:
            _print_definitions(out)
        else:
            _print_content(out)
        raise typer.Exit(1 if out["withheld"] else 0)
