#!/usr/bin/env bash
# Searches the logs of a test run (TEST_LOG_DIR, written by every test process and every
# local server the tests start, from DEBUG up) for what no log may hold: a token, a
# password of the tests, an email address, anyone's words (the tests write them in Korean:
# any Hangul in a log is someone's note, message, post or name). Prints each finding with
# its file and line; fails when there is one.
set -euo pipefail
dir="${1:?usage: scan-test-logs.sh DIR}"
python3 - "$dir" <<'PY'
import pathlib, re, sys

FINDINGS = {
    "token": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "bearer": re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/-]{16,}"),
    "password": re.compile(r"horse battery|whatever pass|new long password|brand new secret"),
    "email address": re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"),
    "someone's words": re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]+"),
}
files = sorted(pathlib.Path(sys.argv[1]).glob("*.log"))
lines = found = 0
for path in files:
    with path.open(encoding="utf-8", errors="replace") as log:
        for number, line in enumerate(log, 1):
            lines += 1
            for kind, pattern in FINDINGS.items():
                match = pattern.search(line)
                if match:
                    found += 1
                    if found <= 50:
                        print(f"{path.name}:{number}: {kind}: {match.group(0)[:40]!r} in {line.strip()[:300]}")
print(f"scan-test-logs: {len(files)} logs, {lines} lines, {found} findings", file=sys.stderr)
sys.exit(1 if found else 0)
PY
