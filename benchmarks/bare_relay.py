"""The smallest possible stdio relay: two threads copying bytes, no framing, no parsing, no policy, no audit.

The two-thread counterpart of floor_relay.py (one loop, whole lines). Kept because it answers a question the
floor alone does not: what blocking reads in two threads cost against one readiness loop. Measured side by
side in RELAY-DESIGN.md, it adds about what the floor adds to a round trip (a blocking read needs no
readiness call), so threads are not what made mcpwrap slow.

    python benchmarks/bare_relay.py SERVER [ARGS...]
"""
import os
import subprocess
import sys
import threading

p = subprocess.Popen(sys.argv[1:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)


def pump(src, dst):
    while True:
        d = os.read(src, 1 << 20)
        if not d:
            break
        os.write(dst, d)
    if dst != 1:
        os.close(dst)


t = threading.Thread(target=pump, args=(0, p.stdin.fileno()), daemon=True)
t.start()
pump(p.stdout.fileno(), 1)
sys.exit(p.wait())
