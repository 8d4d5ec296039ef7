#!/usr/bin/env python3
"""A fast Python stdio MCP server for the relay benchmark (the "echo server" of bench_relay.py).

    python benchmarks/echo_server.py [--payload-bytes N] [--prose-bytes N]

Answers ``initialize``, ``tools/list`` (``echo`` and ``prose``), ``tools/call`` and ``ping``; ignores
notifications. ``echo`` returns its arguments as text, or ``N`` bytes of ``x`` with ``--payload-bytes``.
``prose`` returns ``--prose-bytes`` (default 4096) of ordinary English prose — text with nothing a detector
should flag, cut at a word boundary — which is what most tool results are.

It answers the way tests/fake_server.py does (stdlib ``json``, one ``write`` and ``flush`` per answer), so its
own cost is the same as the server the earlier figures were taken with.
"""

from __future__ import annotations

import argparse
import json
import sys

PROSE = """\
The community garden on the east side of the river had a good year. The spring was cold and wet, and the
first planting of beans rotted in the ground, but the second planting in early June came up well, and by the
middle of July the volunteers were picking more beans than the food bank could take in a week. The tomatoes
were late. Most of the plants had flowers by the end of June, yet the fruit stayed green until the nights
grew warmer in August, and then everything ripened at once. Two long evenings were spent making sauce in the
church kitchen, and the jars were shared among the families who had helped with the watering.

The new rain barrels were the biggest change. Last winter the group collected donations to buy six barrels
and a length of hose, and a retired plumber who lives near the park fitted them to the gutters of the tool
shed. During the dry weeks in August the barrels were empty within two days, so the city water was still
needed, but the water bill for the season was a little under half of last year's. Several people asked
whether more barrels could be added to the roof of the community hall. That will be discussed at the
planning meeting in February, once the hall committee has said whether the roof can carry the weight.

The children's beds were a success again. Each class from the primary school had its own small plot, and the
teachers arranged visits on Tuesday and Thursday mornings. The radishes and lettuce were ready early enough
for the children to take some home before the summer holidays, and the sunflowers along the fence grew
taller than anyone expected. One of the classes measured them every week and drew a chart on the wall of
their classroom. The tallest reached a little over three metres before the wind bent it in September.

There were some problems. The compost bins were not turned often enough, and by midsummer two of them
smelled so strongly that neighbours complained. A rota has now been agreed, with two people responsible for
the bins each month, and a sign explains what can and cannot go in them. Slugs ate most of the early
cabbages, and the copper tape that was tried on three beds did not seem to make much difference. Next year
the plan is to start the cabbages in pots and plant them out when they are larger and tougher.

Attendance at the work mornings was steady. On an ordinary Saturday between eight and fifteen people came,
and the bigger days, such as the spring clear-up and the autumn bulb planting, drew more than thirty. Tea
and cake after the work has become a tradition, and several new members said that the social side was what
made them come back. The group would still like more help on weekday evenings in the summer, when the
watering matters most and many of the regular volunteers are away on holiday.

The accounts for the year were presented by the treasurer. Income came mainly from the plant sale in May,
the harvest supper in October and a small grant from the neighbourhood fund. Spending went on seeds,
compost, the rain barrels, a new wheelbarrow and repairs to the shed door. The group ends the year with a
modest balance, which will be kept for replacing the raised beds on the north side, whose timber is starting
to rot after eight years. Quotes for new timber will be gathered over the winter.

Finally, everyone thanked the two members who are stepping down after many years of looking after the seed
library. They catalogued every packet, kept the old varieties going by saving seed each autumn, and taught a
great many people how to do the same. The library will continue, and three volunteers have offered to share
the work between them. The next meeting is on the second Saturday of February, at ten in the morning, in
the community hall, and everyone who has a plot or would like one is welcome to come along.
"""


def prose(size: int) -> str:
    text = PROSE
    while len(text) < size:
        text += "\n" + PROSE
    cut = text.rfind(" ", 0, size)
    return text[: cut if cut > 0 else size]


TOOLS = [
    {"name": "echo", "description": "Echo the arguments back.", "inputSchema": {"type": "object", "properties": {"message": {"type": "string"}}}},
    {"name": "prose", "description": "Return a few kilobytes of text.", "inputSchema": {"type": "object", "properties": {}}},
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--payload-bytes", type=int, default=0)
    parser.add_argument("--prose-bytes", type=int, default=4096)
    opts = parser.parse_args()
    payload = "x" * opts.payload_bytes
    prose_result = prose(opts.prose_bytes)
    out = sys.stdout.buffer

    def answer(msg: dict) -> dict:
        method = msg.get("method")
        params = msg.get("params") or {}
        if method == "initialize":
            version = params.get("protocolVersion", "2025-06-18")
            return {"protocolVersion": version, "capabilities": {"tools": {}}, "serverInfo": {"name": "echo", "version": "1.0"}}
        if method == "tools/list":
            return {"tools": TOOLS}
        if method == "tools/call":
            if params.get("name") == "prose":
                return {"content": [{"type": "text", "text": prose_result}]}
            return {"content": [{"type": "text", "text": payload or json.dumps(params.get("arguments", {}))}]}
        return {}

    for raw in sys.stdin.buffer:
        if not raw.strip():
            continue
        msg = json.loads(raw)
        if "id" not in msg or "method" not in msg:
            continue
        out.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": answer(msg)}, separators=(",", ":")).encode() + b"\n")
        out.flush()


if __name__ == "__main__":
    main()
