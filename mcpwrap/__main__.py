"""Entry point: ``mcpwrap`` and ``python -m mcpwrap``.

``wrap`` is dispatched before the CLI framework is imported, so a wrapped server starts fast; every other
command goes through the typer application in :mod:`mcpwrap._cli.app`.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "wrap":
        from ._cli.wrap import main as wrap_main

        sys.exit(wrap_main(args[1:]))
    from ._cli.app import app
    from ._log import configure

    configure()  # wrap configures on its first message instead: a quiet start-up never imports logging
    app(args=args, prog_name="mcpwrap")


if __name__ == "__main__":
    main()
