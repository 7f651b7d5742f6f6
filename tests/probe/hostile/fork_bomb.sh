#!/bin/sh
# Hostile sample: a fork bomb, bounded so that a sandbox without a process
# limit would still end: up to 4000 sleeping processes, held for 3 s, then
# exit. In Python, because dash exits at its first failed fork: that fork
# bomb died 0.2-0.5 s after reaching the limit, and a sampler starved on a
# loaded machine could miss the peak (the limit held, but went unreported: a
# flake of e2e_probe_hostile under ctest -j2 with both cores busy). This one
# keeps trying, as a fork bomb does, and holds what it started.
exec python3 -c '
import os, time
kids = 0
for _ in range(4000):
    try:
        pid = os.fork()
    except OSError:
        continue
    if pid == 0:
        time.sleep(20)
        os._exit(0)
    kids += 1
print("started", kids, flush=True)
time.sleep(3)
'
