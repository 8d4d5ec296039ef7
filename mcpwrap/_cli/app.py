"""The typer application: a thin layer that parses options, builds library objects and runs them.

Each command group lives next to the code it drives and registers itself through ``register(app)``;
:data:`COMMAND_MODULES` lists them. ``wrap`` itself is parsed by :mod:`mcpwrap._cli.wrap` (lean start-up); the
entry here only makes it appear in ``mcpwrap --help``.

Conventions every command shares, applied here once rather than repeated in each module: ``-h`` and
``--help``; ``--version``, ``--install-completion`` and ``--show-completion`` on ``mcpwrap`` itself; an
``Exit status`` epilog from :mod:`mcpwrap._cli.exitcodes` on every command and group; option values shown
by a metavar in capitals (each option declares one; a test walks the tree). Output rules are
:mod:`mcpwrap._cli.output`.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

from .. import __version__
from .._wrapargs import wrap_help
from .exitcodes import EXIT_CODES, epilog

__all__ = ["app", "COMMAND_MODULES"]

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}  # inherited by every subcommand's context


def _argument_name(param: Any) -> str:
    return param.metavar or (param.name or "").upper()


def _argument_help(param: Any, ctx: Any) -> tuple[str, str]:
    """``NAME  help  [required]`` — without the type that some typer versions append (``ID <str>``)."""
    extra = []
    if param.required:
        extra.append("required")
    elif param.show_default and param.default not in (None, [], ()):
        extra.append(f"default: {param.default}")
    text = param.help or ""
    if extra:
        text = f"{text}  [{'; '.join(extra)}]" if text else f"[{'; '.join(extra)}]"
    return _argument_name(param), text


def _argument_usage(param: Any, ctx: Any) -> list[str]:
    name = _argument_name(param)
    if param.nargs != 1:
        name += "..."
    return [name if param.required else f"[{name}]"]


def _normalise(command: Any) -> None:
    """Positional arguments shown by their metavar alone, in usage and help, whatever typer's version."""
    for param in getattr(command, "params", ()):
        if getattr(param, "param_type_name", "") == "argument":
            param.get_help_record = lambda ctx, p=param: _argument_help(p, ctx)
            param.get_usage_pieces = lambda ctx, p=param: _argument_usage(p, ctx)
    for sub in getattr(command, "commands", {}).values():
        _normalise(sub)


class _RootGroup(TyperGroup):
    """The ``mcpwrap`` group: typer builds it (and the tree under it) on every run; the conventions that
    typer has no setting for are applied to that tree here, once per run."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        _normalise(self)

app = typer.Typer(
    name="mcpwrap",
    help="Security wrapper for local MCP servers: relay, inspect, enforce and audit every message.",
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT_SETTINGS,
    epilog=epilog(""),
    cls=_RootGroup,
)

COMMAND_MODULES: list[str] = [
    # modules with a register(app) function, one group each

    # policy: init / validate / test
    "mcpwrap._cli.policy",

    # enable / disable / status
    "mcpwrap._cli.clients",

    # audit: verify / tail / stats / export, dashboard
    "mcpwrap._cli.audit",

    # tools: list / review / approve / reject
    "mcpwrap._cli.tools",

    # approvals / approve / deny
    "mcpwrap._cli.approvals",

    # sandbox: check
    "mcpwrap._cli.sandbox",
    "mcpwrap._cli.scan",  # scan FILE: why content or definitions would be withheld

]


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"mcpwrap {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_print_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Security wrapper for local MCP servers: relay, inspect, enforce and audit every message."""


@app.command(
    "wrap",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    help="Spawn a stdio MCP server and relay + inspect every message: mcpwrap wrap [OPTIONS] -- COMMAND [ARGS...]"
    " (see mcpwrap wrap --help).",
)
def wrap(ctx: typer.Context) -> None:  # pragma: no cover - reached only via mcpwrap._cli.app directly
    from .wrap import main as wrap_main

    raise typer.Exit(wrap_main(list(ctx.args)))


@app.command("version", help="Print the version (the same as mcpwrap --version).")
def version() -> None:
    typer.echo(f"mcpwrap {__version__}")


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def _apply_epilogs(typer_app: typer.Typer, prefix: str) -> None:
    """Give every registered command and group its ``Exit status`` epilog (a missing entry is a KeyError:
    a new command must say what its exit statuses mean)."""
    for command in typer_app.registered_commands:
        name = command.name or (command.callback.__name__.replace("_", "-") if command.callback else "")
        command.epilog = epilog(f"{prefix}{name}")
    for group in typer_app.registered_groups:
        path = f"{prefix}{group.name}"
        group.epilog = epilog(path)
        assert group.typer_instance is not None
        _apply_epilogs(group.typer_instance, path + " ")


_apply_epilogs(app, "")
assert "" in EXIT_CODES

_ = wrap_help  # the wrap option table is shared with `mcpwrap wrap --help`
