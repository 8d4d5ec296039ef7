"""How commands print: rich on a terminal, full-width plain text everywhere else.

A person at a terminal gets rich tables (boxes, colours, columns folded to the terminal's width). Output that
goes to a pipe, a file or a log is read by programs and by people who scroll: there it is plain text, one line
per row, columns aligned with two spaces, nothing cut at 80 columns and no escape codes. Scripts should still
prefer ``--json`` where a command has it.

A command builds a :class:`Grid` (columns and rows of plain strings, with optional styles for the terminal)
and hands it to :meth:`Output.table`; :meth:`Output.line` prints a line of text. Richer layouts (the
dashboard's panel, the stats' sections) ask :attr:`Output.terminal` and draw their plain form themselves from
grids and lines.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Cell", "Column", "Grid", "Output", "is_terminal", "plain_lines"]

COLUMN_GAP = "  "  # between columns of plain output


def is_terminal(stream: Any = None) -> bool:
    """Whether ``stream`` (default stdout) is a terminal a person reads, as rich decides it (``FORCE_COLOR``,
    ``TTY_COMPATIBLE`` and a dumb ``TERM`` are honoured)."""
    from rich.console import Console

    console = Console(file=stream or sys.stdout)
    return console.is_terminal and not console.is_dumb_terminal


@dataclass(frozen=True)
class Cell:
    """A cell's text and, for the terminal only, its rich style."""

    text: str
    style: str = ""


@dataclass(frozen=True)
class Column:
    header: str
    justify: str = "left"  # "left" or "right"
    style: str = ""  # rich style of the column on a terminal
    no_wrap: bool = False  # on a terminal: fold long cells (False) or keep them on one line


@dataclass
class Grid:
    """A table: columns and rows of text."""

    columns: Sequence[Column | str]
    title: str | None = None
    rows: list[list[Cell]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.columns = [c if isinstance(c, Column) else Column(c) for c in self.columns]

    def add_row(self, *cells: Cell | str | None) -> None:
        row = [c if isinstance(c, Cell) else Cell("" if c is None else str(c)) for c in cells]
        if len(row) != len(self.columns):
            raise ValueError(f"{len(row)} cells for {len(self.columns)} columns")
        self.rows.append(row)

    # --- renderings ---------------------------------------------------------------------------------------------

    def plain(self) -> list[str]:
        """Aligned lines: a title, a header, one line per row (the lines of a cell joined, see _one_line)."""
        columns: list[Column] = list(self.columns)  # type: ignore[arg-type]
        texts = [[_one_line(c.text) for c in row] for row in self.rows]
        headers = [c.header for c in columns]
        widths = [max([len(h), *(len(r[i]) for r in texts)]) for i, h in enumerate(headers)]
        out = [self.title] if self.title else []
        if any(headers):
            out.append(_join(headers, widths, columns))
        out += [_join(r, widths, columns) for r in texts]
        return out

    def rich(self, **table_options: Any) -> Any:
        from rich.table import Table
        from rich.text import Text

        options: dict[str, Any] = {"title": self.title, "title_justify": "left"}
        options.update(table_options)
        table = Table(**options)
        for c in self.columns:
            assert isinstance(c, Column)
            table.add_column(c.header, justify=c.justify, style=c.style or None, no_wrap=c.no_wrap, overflow="fold")  # type: ignore[arg-type]
        for row in self.rows:
            # Text, never markup: cells hold what servers and models wrote ("[white on white]" must stay visible)
            table.add_row(*(Text(c.text, style=c.style) for c in row))
        return table


def _one_line(text: str) -> str:
    """A cell's lines on one line: "a → b" reads on; other lines are separate clauses ("; ")."""
    if "\n" not in text:
        return text
    out = ""
    for part in (p for p in text.splitlines() if p.strip()):
        out += part if not out else (" " if part.startswith("→") else "; ") + part
    return out


def _join(cells: Sequence[str], widths: Sequence[int], columns: Sequence[Column]) -> str:
    parts = []
    last = len(cells) - 1
    for i, (text, width, col) in enumerate(zip(cells, widths, columns, strict=True)):
        if col.justify == "right":
            parts.append(text.rjust(width))
        else:
            parts.append(text if i == last else text.ljust(width))
    return COLUMN_GAP.join(parts).rstrip()


def plain_lines(lines: Iterable[str]) -> str:
    return "".join(line + "\n" for line in lines)


class Output:
    """Where a command prints: stdout (or ``stream``), rich if that is a terminal, plain text otherwise."""

    def __init__(self, stream: Any = None, *, terminal: bool | None = None) -> None:
        self.stream = stream
        self.terminal = is_terminal(stream) if terminal is None else terminal
        self._console: Any = None

    @property
    def console(self) -> Any:
        """The rich console (a terminal only; no highlighting of numbers and paths, no soft wrapping)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(file=self.stream, highlight=False, soft_wrap=False)
        return self._console

    @property
    def width(self) -> int:
        return self.console.width if self.terminal else 0  # 0: as wide as the content

    def _write(self, text: str) -> None:
        stream = self.stream or sys.stdout
        stream.write(text)
        stream.flush()

    def line(self, text: str = "", style: str = "") -> None:
        if self.terminal:
            from rich.text import Text

            self.console.print(Text(text, style=style))
        else:
            self._write(text + "\n")

    def lines(self, lines: Iterable[str]) -> None:
        for text in lines:
            self.line(text)

    def table(self, grid: Grid, **rich_options: Any) -> None:
        if self.terminal:
            self.console.print(grid.rich(**rich_options))
        else:
            self._write(plain_lines(grid.plain()))

    def rich(self, renderable: Any, plain: Iterable[str]) -> None:
        """A rich renderable on a terminal; its plain form (given as lines) elsewhere."""
        if self.terminal:
            self.console.print(renderable)
        else:
            self._write(plain_lines(plain))
