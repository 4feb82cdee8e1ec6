"""The verdict of scripts/cluster.sh throughput, from its round lines on stdin.

Passes when, in the median round, 2 instances of each function answer at least 1.5 times what
1 answers while the instances are the limit (held back by their CPU quota in most periods),
and at the most instances PostgreSQL is the limit (held back in most periods, the instances
not): throughput grows with instances until PostgreSQL saturates.
"""

import re
import statistics
import sys

ROUND = re.compile(
    r"round \d+: (\d+) instance\(s\) .*?: ([\d.]+) .*throttled emotions=(\d+)% postgres=(\d+)%"
)

rounds = {}
for line in sys.stdin:
    if match := ROUND.search(line):
        instances, rate, instances_held, database_held = match.groups()
        rounds.setdefault(int(instances), []).append(
            (float(rate), int(instances_held), int(database_held))
        )
if 1 not in rounds or 2 not in rounds:
    sys.exit("growth: no rounds with 1 and 2 instances")


def median(instances, column):
    return statistics.median(r[column] for r in rounds[instances])


most = max(rounds)
growth = median(2, 0) / median(1, 0)
checks = [
    (growth >= 1.5, f"1 -> 2 instances: x{growth:.2f} requests/s (at least x1.5)"),
    (median(1, 1) >= 90, f"1 instance held back by its quota in {median(1, 1):.0f}% of periods"),
    (
        median(most, 2) >= 90 and median(most, 1) < 50,
        f"{most} instances: PostgreSQL held back in {median(most, 2):.0f}% of periods, "
        f"the instances in {median(most, 1):.0f}% (PostgreSQL saturated)",
    ),
]
for ok, what in checks:
    print(("ok   " if ok else "FAIL ") + what)
sys.exit(0 if all(ok for ok, _ in checks) else 1)
