"""``mcpwrap sandbox check``: what this kernel supports and what a given server would get.

    mcpwrap sandbox check [--policy FILE] [--name NAME] [--json] [-- COMMAND ARGS...]

Without a command only the kernel's support is shown. With one, the plan for that server is computed exactly
as ``mcpwrap wrap`` would (policy, per-server overrides, mcpwrap's protected files) and described — nothing
is started.
"""

from __future__ import annotations

import json
import os
from typing import Any

import typer

__all__ = ["register", "describe"]

_READABLE = {
    "landlock": "Landlock",
    "seccomp": "seccomp filter",
    "namespaces": "namespaces",
    "environment": "environment",
    "no_new_privs": "no_new_privs",
    "capabilities": "capabilities",
}


def describe(support: dict[str, Any], plan: Any | None) -> dict[str, Any]:
    out: dict[str, Any] = {"kernel": support}
    if plan is not None:
        report = plan.report
        out["server"] = report.record()
        out["server"]["protected"] = report.protected
        out["server"]["denied"] = sorted({lim.path for lim in plan.limits if lim.allowed == 0 and os.path.lexists(lim.path)})
        out["server"]["read_only"] = sorted({lim.path for lim in plan.limits if lim.allowed and os.path.lexists(lim.path)})
        out["server"]["writable"] = sorted({g.path for g in plan.grants if g.rights & 2 and os.path.lexists(g.path)})
    return out


def _text(info: dict[str, Any]) -> str:
    k = info["kernel"]
    lines = []
    if not k.get("kernel"):
        lines.append(f"platform {k['platform']}: no sandbox ({k.get('reason', '')}); servers run with all of this user's access")
    else:
        ll = k["landlock"]
        feats = [name for name in ("filesystem", "refer", "truncate", "tcp", "ioctl_dev", "scopes") if ll[name]]
        lines.append(f"kernel {k['kernel']} ({k['machine']})")
        lines.append(f"  Landlock      ABI {ll['abi']}" + (f": {', '.join(feats)}" if feats else ": unavailable"))
        ns = k["namespaces"]
        lines.append("  namespaces    " + ("user, pid, mount, net" if ns["user"] else f"unavailable ({ns.get('reason', '')})"))
        lines.append("  seccomp       " + ("yes" if k["seccomp"] else "no filter for this machine"))
        lines.append("  bubblewrap    " + (k["bubblewrap"] or "not installed (not needed)"))
    server = info.get("server")
    if server:
        lines.append("")
        state = "disabled by the policy" if not server["enabled"] else "complete" if server["complete"] else "partial"
        lines.append(f"server {server['server']!r}: sandbox {state}")
        for key, value in server["applied"].items():
            lines.append(f"  {_READABLE.get(key, key):<14}{json.dumps(value)}")
        net = server["network"]
        hosts = f" {net['hosts']}" if net.get("hosts") else ""
        enforced = f" (enforced by {net['enforced_by']})" if net.get("enforced_by") else ""
        lines.append(f"  {'network':<14}{net.get('mode')}{hosts}{enforced}")
        for m in server["missing"]:
            lines.append(f"  missing       {m['feature']}: {m['consequence']}")
        lines.append(f"  writable      {', '.join(server['writable'])}")
        lines.append(f"  read only     {len(server['read_only'])} existing paths (client configs, start-up files, PATH)")
        lines.append(f"  denied        {', '.join(server['denied'])}")
        for note in server["notes"]:
            lines.append(f"  note          {note}")
        for p in server["unprotected"]:
            lines.append(f"  unprotected   {p} (absent: a server could create it)")
    return "\n".join(lines) + "\n"


def register(app: Any) -> None:
    sandbox_app = typer.Typer(help="The kernel sandbox of wrapped servers.", no_args_is_help=True, rich_markup_mode=None)
    app.add_typer(sandbox_app, name="sandbox")

    @sandbox_app.command(
        "check",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": False},
        help="Show what this kernel supports and, given `-- COMMAND ARGS...`, what that server would get under the policy.",
    )
    def check(
        ctx: typer.Context,
        policy: str | None = typer.Option(None, "--policy", metavar="PATH", help="policy file (default: as mcpwrap wrap)"),
        name: str | None = typer.Option(None, "--name", metavar="NAME", help="the server's name (default: the command's name)"),
        audit_log: str | None = typer.Option(None, "--audit-log", metavar="PATH", help="as given to mcpwrap wrap (it is protected)"),
        as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    ) -> None:
        from .._errors import McpwrapError
        from .._paths import resolve_policy_path
        from .._sandbox.plan import prepare
        from .._sandbox.probe import kernel_support
        from .._sandbox.wrap import protected_paths
        from ..interceptors import load_policy

        command = list(ctx.args)
        plan = None
        if command:
            try:
                policy_path = resolve_policy_path(policy)
                config = load_policy(policy_path)  # the full, strict load: a bad policy is an error here
                server = name or os.path.basename(command[0])
                protect = protected_paths(policy_path, audit_log, config.raw)
                plan = prepare(command, None, None, config["sandbox"].for_server(server), server, protect=protect)
            except McpwrapError as exc:
                typer.echo(f"mcpwrap: {exc}", err=True)
                raise typer.Exit(2) from None
        info = describe(kernel_support(), plan)
        if plan is not None and plan.launcher is not None and plan.launcher.ruleset is not None:
            plan.launcher.ruleset.close()
        typer.echo(json.dumps(info, indent=2) if as_json else _text(info), nl=not as_json)
