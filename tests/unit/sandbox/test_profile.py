from __future__ import annotations

from mcpwrap._sandbox.landlock import FILE_RIGHTS, READ, WRITE
from mcpwrap._sandbox.profile import Grant, Limit, compile_rules, expand, mount_aliases


def tree(root, *names):
    for name in names:
        p = root / name
        if name.endswith("/"):
            p.mkdir(parents=True, exist_ok=True)
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("x")


def effective(rules, path):
    """What Landlock would allow at ``path``: the union of the rules on it and its ancestors."""
    rights = 0
    for rule_path, r in rules.rules.items():
        if path == rule_path or path.startswith(rule_path.rstrip("/") + "/"):
            rights |= r
    return rights


def test_a_grant_without_limits_is_one_rule(tmp_path):
    tree(tmp_path, "a/", "b/f")
    rules = compile_rules([Grant(str(tmp_path), WRITE, "cwd")], [])
    assert rules.rules == {str(tmp_path): WRITE}


def test_a_limit_splits_every_ancestor_and_keeps_the_siblings(tmp_path):
    tree(tmp_path, ".ssh/id_rsa", ".config/gcloud/creds", ".config/other/x", "notes/n.txt", "file.txt")
    limits = [Limit(str(tmp_path / ".ssh"), 0, "credentials"), Limit(str(tmp_path / ".config/gcloud"), 0, "credentials")]
    rules = compile_rules([Grant(str(tmp_path), WRITE, "cwd")], limits)
    assert effective(rules, str(tmp_path / ".ssh/id_rsa")) == 0
    assert effective(rules, str(tmp_path / ".config/gcloud/creds")) == 0
    assert effective(rules, str(tmp_path / ".config/other/x")) == WRITE
    assert effective(rules, str(tmp_path / "notes/n.txt")) == WRITE
    assert effective(rules, str(tmp_path / "file.txt")) == WRITE & FILE_RIGHTS
    # the split directories themselves get nothing: a new entry there could be the protected name
    assert effective(rules, str(tmp_path)) == 0
    assert effective(rules, str(tmp_path / ".config")) == 0


def test_a_read_only_limit_keeps_read_on_the_way_down(tmp_path):
    tree(tmp_path, ".claude/settings.json", "work/x")
    rules = compile_rules([Grant(str(tmp_path), WRITE, "cwd")], [Limit(str(tmp_path / ".claude"), READ, "read-only")])
    assert effective(rules, str(tmp_path / ".claude/settings.json")) == READ
    assert effective(rules, str(tmp_path / ".claude")) == READ
    assert effective(rules, str(tmp_path)) == READ
    assert effective(rules, str(tmp_path / "work/x")) == WRITE


def test_symlinks_get_no_rule_of_their_own(tmp_path):
    tree(tmp_path, ".ssh/id_rsa", "real/")
    (tmp_path / "link-to-ssh").symlink_to(tmp_path / ".ssh")
    rules = compile_rules([Grant(str(tmp_path), WRITE, "cwd")], [Limit(str(tmp_path / ".ssh"), 0, "credentials")])
    assert str(tmp_path / "link-to-ssh") not in rules.rules
    assert str(tmp_path / "real") in rules.rules


def test_policy_grants_may_reach_into_default_credentials_but_never_mcpwrap_files(tmp_path):
    tree(tmp_path, ".ssh/known_hosts", ".ssh/id_rsa", "mcpwrap/audit.key")
    limits = [Limit(str(tmp_path / ".ssh"), 0, "credentials"), Limit(str(tmp_path / "mcpwrap"), 0, "mcpwrap", overridable=False)]
    grants = [
        Grant(str(tmp_path / ".ssh/known_hosts"), READ, "policy", override=True),
        Grant(str(tmp_path / "mcpwrap"), WRITE, "policy", override=True),
        Grant(str(tmp_path / ".ssh/id_rsa"), WRITE, "argument"),  # a path on the command line does not override
    ]
    rules = compile_rules(grants, limits)
    assert effective(rules, str(tmp_path / ".ssh/known_hosts")) == READ & FILE_RIGHTS
    assert effective(rules, str(tmp_path / ".ssh/id_rsa")) == 0
    assert effective(rules, str(tmp_path / "mcpwrap/audit.key")) == 0


def test_expand_handles_home_variables_and_globs(tmp_path):
    tree(tmp_path, ".claude.json", ".claude.json.backup1", ".claude.json.backup2")
    env = {"XDG_RUNTIME_DIR": "/run/user/1000"}
    assert expand("~/.ssh", str(tmp_path), env) == [str(tmp_path / ".ssh")]
    assert expand("$XDG_RUNTIME_DIR/containers/auth.json", str(tmp_path), env) == ["/run/user/1000/containers/auth.json"]
    assert expand("$UNSET/x", str(tmp_path), env) == []
    assert expand("~/.claude.json.backup*", str(tmp_path), env) == [str(tmp_path / ".claude.json.backup1"), str(tmp_path / ".claude.json.backup2")]


def test_bind_mounts_of_a_protected_directory_are_found():
    mountinfo = "\n".join([
        "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw",
        "40 22 8:1 /home/u/.ssh /mnt/keys rw - ext4 /dev/sda1 rw",
        "41 22 8:1 /home /srv/homes rw - ext4 /dev/sda1 rw",
        "42 22 0:5 / /proc rw - proc proc rw",
    ])
    aliases = mount_aliases(["/home/u/.ssh"], mountinfo)
    assert aliases == {"/home/u/.ssh": ["/mnt/keys", "/srv/homes/u/.ssh"]}
    assert mount_aliases(["/proc/x"], mountinfo) == {}


def test_pins_keep_a_directory_in_place_without_splitting_it(tmp_path):
    from mcpwrap._sandbox.profile import RENAME_RIGHTS, pins_for

    tree(tmp_path, "project/.mcp.json", "project/src/a.py", "other/x")
    protected = str(tmp_path / "project" / ".mcp.json")
    rules = compile_rules([Grant(str(tmp_path), WRITE, "temp")], pins_for(protected))
    project = str(tmp_path / "project")
    # the project keeps every right (new files beside .mcp.json), but its parent cannot rename or remove it
    assert effective(rules, project) == WRITE
    assert effective(rules, str(tmp_path)) == WRITE & ~RENAME_RIGHTS
    assert effective(rules, str(tmp_path / "other")) == WRITE
