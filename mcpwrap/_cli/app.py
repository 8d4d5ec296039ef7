"""The typer application: a thin layer that parses options, builds library objects and runs them.

Each command group lives next to the code it drives and registers itself through ``register(app)``;
:data:`COMMAND_MODULES` lists them. ``wrap`` itself is parsed by :mod:`mcpwrap._cli.wrap` (lean start-up); the
entry here only makes it appear in ``mcpwrap --help``.
"""

from __future__ import annotations

import importlib

import typer

from .. import __version__
from .._wrapargs import wrap_help

__all__ = ["app", "COMMAND_MODULES"]

app = typer.Typer(
    name="mcpwrap",
    help="Security wrapper for local MCP servers: relay, inspect, enforce and audit every message.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
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

]


@app.command(
    "wrap",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []},
    help="Spawn a stdio MCP server and relay + inspect every message: mcpwrap wrap [OPTIONS] -- COMMAND [ARGS...]"
    " (see mcpwrap wrap --help).",
)
def wrap(ctx: typer.Context) -> None:  # pragma: no cover - reached only via mcpwrap._cli.app directly
    from .wrap import main as wrap_main

    raise typer.Exit(wrap_main(list(ctx.args)))


@app.command("version", help="Print the version.")
def version() -> None:
    typer.echo(__version__)


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)

_ = wrap_help  # the wrap option table is shared with `mcpwrap wrap --help`
