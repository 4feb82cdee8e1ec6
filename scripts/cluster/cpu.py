"""Where the cores went during a throughput round (scripts/cluster.sh throughput).

    python3 cpu.py SECONDS NAME... [LABEL=CGROUP_GLOB...]

Sleeps SECONDS and prints, for each process name given (the kernel's `comm`, e.g. `emotions`,
`postgres`, `nginx`, `wrk`, `redis-server`), the cores its processes used meanwhile, as
`name=1.23`; then `idle=` for what nobody used; then, for each LABEL=CGROUP_GLOB, the share of
the CPU cgroups' periods in which they were held back by their quota (`throttled LABEL=85%`):
near 100 % is a part working at its allotment, the bottleneck. Counted per process: one that ends during the
interval (a pool's idle connection closing) takes only its share since the start with it.
"""

import glob
import os
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def ticks_by_process(names):
    """{(pid, name): utime + stime} of the processes with one of the names."""
    ticks = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # comm is in parentheses and may hold spaces; the fields after it are space separated.
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if name in names:
            fields = stat[stat.rindex(")") + 2 :].split()
            ticks[(pid, name)] = int(fields[11]) + int(fields[12])
    return ticks


def throttling(cgroups):
    """{label: (periods, throttled periods)} summed over each label's cgroups."""
    counts = {}
    for label, pattern in cgroups.items():
        periods = throttled = 0
        for directory in glob.glob(pattern):
            with open(os.path.join(directory, "cpu.stat")) as f:
                stat = dict(line.split() for line in f)
            periods += int(stat["nr_periods"])
            throttled += int(stat["nr_throttled"])
        counts[label] = (periods, throttled)
    return counts


def idle_ticks():
    with open("/proc/stat") as f:
        cpu = f.readline().split()
    return int(cpu[4]) + int(cpu[5])  # idle + iowait


def main():
    seconds = float(sys.argv[1])
    names = [a for a in sys.argv[2:] if "=" not in a]
    cgroups = dict(a.split("=", 1) for a in sys.argv[2:] if "=" in a)
    before, idle_before, start = ticks_by_process(names), idle_ticks(), time.monotonic()
    held_before = throttling(cgroups)
    time.sleep(seconds)
    after, idle_after, elapsed = ticks_by_process(names), idle_ticks(), time.monotonic() - start
    held_after = throttling(cgroups)
    used = dict.fromkeys(names, 0.0)
    for process, ticks in after.items():
        used[process[1]] += (ticks - before.get(process, 0)) / TICKS / elapsed
    used["idle"] = (idle_after - idle_before) / TICKS / elapsed
    line = " ".join(f"{n}={c:.2f}" for n, c in used.items())
    if cgroups:
        held = []
        for label, (periods, throttled) in held_after.items():
            periods -= held_before[label][0]
            throttled -= held_before[label][1]
            held.append(f"{label}={100 * throttled / max(periods, 1):.0f}%")
        line += "; throttled " + " ".join(held)
    print(line)


main()
