"""The attack demo as a test: every attack succeeds without mcpwrap and is stopped with it.

The demo (demos/agent.py) runs once per module, exactly as `bash demos/run.sh` runs it, writing its results
as JSON. Four of the six attacks are stopped by other concerns than tool-definition integrity; while such a
concern is not registered in the interceptor chain, its attack is an expected failure — strict, so the
moment the concern is present the attack must be stopped, and a stale marker fails loudly instead of hiding.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import rig

pytestmark = pytest.mark.integration

AGENT = rig.ROOT / "demos" / "agent.py"
DEMO_TIMEOUT = 180  # generous: the machine running CI may be busy; the demo itself needs a few seconds


# attack → the outcomes that count as stopped, and the interceptor: rule that must have stopped it
EXPECTED = [
    pytest.param("poisoning", {"withheld"}, "integrity.poisoned", id="poisoning"),
    pytest.param("rug_pull", {"held"}, "integrity.changed", id="rug_pull"),
    pytest.param("injection", {"blocked"}, "injection: injection-block", id="injection"),
    pytest.param("leak", {"redacted"}, "secrets: secrets-redact", id="leak"),
    pytest.param("exec", {"blocked"}, "policy: block-dangerous-exec", id="exec"),
    pytest.param("ssh_key", {"blocked"}, "policy: block-sensitive-reads", id="ssh_key"),
]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    out = work / "results.json"
    env = {k: v for k, v in rig.child_env(COLUMNS="160").items() if not k.startswith("MCPWRAP_")}
    proc = subprocess.run(
        [sys.executable, str(AGENT), "--json", str(out), "--workdir", str(work / "run")],
        capture_output=True, text=True, env=env, timeout=DEMO_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout


@pytest.mark.parametrize("attack", [p.values[0] for p in EXPECTED])
def test_every_attack_succeeds_without_mcpwrap(demo, attack):
    results, _ = demo
    assert results["direct"][attack]["succeeded"], results["direct"][attack]


@pytest.mark.parametrize("attack, stopped_as, rule", EXPECTED)
def test_every_attack_is_stopped_with_mcpwrap(demo, attack, stopped_as, rule):
    results, _ = demo
    outcome = results["wrapped"][attack]
    assert not outcome["succeeded"], outcome
    assert outcome["outcome"] in stopped_as, outcome
    assert rule in outcome["by"], outcome


def test_the_poisoned_listing_and_the_rug_pull_are_audited_with_their_json_paths(demo):
    results, stdout = demo
    records = rig.read_audit(results["audit_log"])
    listings = [r for r in records if r.get("method") == "tools/list" and r.get("interceptor") == "integrity"]
    assert len(listings) == 2
    first, second = (r["details"]["definitions"] for r in listings)
    assert [(d["tool"], d["status"]) for d in first] == [("save_note", "poisoned")]
    assert {"$.description", "$.inputSchema.properties.metadata"} <= {f["path"] for f in first[0]["findings"]}
    assert ("daily_quote", "held") in [(d["tool"], d["status"]) for d in second]
    # the side-by-side table and the audit section were printed
    assert "without mcpwrap" in stdout and "with mcpwrap" in stdout and "audit log of the protected run" in stdout


def test_the_demo_server_works_only_in_its_fake_home(demo, tmp_path):
    results, _ = demo
    spec = importlib.util.spec_from_file_location("demo_agent", AGENT)
    agent = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("demo_agent", agent)  # dataclasses look their module up there
    spec.loader.exec_module(agent)
    # the key it returned is the generated fake one
    assert results["plays"]["direct"]["calls"]["ssh_key"]["text"] == agent.fake_secrets()["ssh_key"]
    # `rm -rf` is only pretended: the fake projects are all still there after the unprotected run
    home = agent.make_fake_home(tmp_path, agent.fake_secrets())
    assert "would have deleted 12 files" in results["direct"]["exec"]["summary"]
    run_home = Path(results["audit_log"]).parent.parent / "direct" / "home"
    assert sorted(p.relative_to(run_home) for p in (run_home / "projects").rglob("*.txt")) == sorted(
        p.relative_to(home) for p in (home / "projects").rglob("*.txt")
    )


SANDBOX_DEMO = rig.ROOT / "demos" / "sandbox_demo.py"


@pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux's")
def test_the_attack_only_the_sandbox_stops(tmp_path):
    out = tmp_path / "sandbox.json"
    env = {k: v for k, v in rig.child_env().items() if not k.startswith("MCPWRAP_")}
    proc = subprocess.run([sys.executable, str(SANDBOX_DEMO), "--json", str(out)], capture_output=True, text=True, env=env, timeout=DEMO_TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = {r["run"]: r for r in json.loads(out.read_text())["runs"]}
    # The server answers the same harmless text every time: nothing crosses MCP for an interceptor to see.
    assert len({r["model_saw"] for r in runs.values()}) == 1
    assert runs["directly (no mcpwrap)"]["attacker_received"] == ["audit key", "ssh key"]
    assert runs["mcpwrap, sandbox off"]["attacker_received"] == ["audit key", "ssh key"]
    assert runs["mcpwrap, default sandbox"]["attacker_received"] == []
    denied = [r for r in json.loads(out.read_text())["audit"] if r["event"] == "sandbox-denied"]
    assert {Path(r["path"]).name for r in denied} >= {"id_rsa", "audit.key"}
    assert "only the sandbox stops" in proc.stdout
