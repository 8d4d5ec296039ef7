"""The smallest possible stdio relay: two threads copying bytes, no parsing, no policy, no audit.

bench_relay.py runs it beside mcpwrap to show what a process in the middle costs on the machine at hand
(pipe hops and thread wake-ups), apart from anything mcpwrap does.

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
        if not d: break
        os.write(dst, d)
    if dst != 1: os.close(dst)
t = threading.Thread(target=pump, args=(0, p.stdin.fileno()), daemon=True); t.start()
pump(p.stdout.fileno(), 1)
sys.exit(p.wait())
