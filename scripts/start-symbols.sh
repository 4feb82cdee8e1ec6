#!/usr/bin/env bash
# Writes scripts/start-symbols.txt: every function (demangled) that the deployed functions run
# from exec to their first answer on /health, traced with valgrind's callgrind on release
# builds with symbols, against this script's own PostgreSQL and Redis (as production starts:
# a pool, the limits' Redis). scripts/linker.sh links them together in release binaries
# (docs/BENCHMARKS.md, "Memory at start"). Run it again after dependency updates or changes
# to what a start does: a stale list still links, it only groups less.
#   ./scripts/start-symbols.sh [function ...]    default: every service and worker
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/services.sh
source scripts/services.sh
traced=""
cleanup() {
  [ -z "$traced" ] || kill "$traced" 2>/dev/null || true
  stop_services
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v valgrind >/dev/null || apt_install valgrind
[ -x /usr/bin/curl ] || apt_install curl
functions="$*"
[ -n "$functions" ] || functions=$(python3 -c 'import json; print(" ".join(f["name"] for f in json.load(open("functions.json"))["functions"] if f["kind"] != "job"))')
log "building with symbols (release): $functions"
# shellcheck disable=SC2046
CARGO_PROFILE_RELEASE_STRIP=false cargo build --release --quiet $(printf -- '-p %s ' migrate $functions)
bin="${CARGO_TARGET_DIR:-target}/release"

unset REDIS_URL
start_postgres
start_redis
services_dir
"$bin/migrate" >/dev/null
export APP_ENV=development LOG_LEVEL=warn RUST_LOG=warn EMAIL_OUTBOX_DIR="$SERVICES_DIR/outbox"

for f in $functions; do
  port=$(free_port)
  log "tracing $f"
  PORT=$port HOST=127.0.0.1 valgrind --tool=callgrind --callgrind-out-file="$SERVICES_DIR/$f.callgrind" \
    --compress-strings=no --compress-pos=no --demangle=no "$bin/$f" >"$SERVICES_DIR/$f.log" 2>&1 &
  traced=$!
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 "$traced" 2>/dev/null || { cat "$SERVICES_DIR/$f.log" >&2; die "$f exited under valgrind"; }
    sleep 0.2
  done
  curl -sf "http://127.0.0.1:$port/health" >/dev/null || die "$f did not answer /health under valgrind"
  # callgrind writes the profile at exit (the drain's few functions come with it).
  kill -TERM "$traced"
  wait "$traced" 2>/dev/null || true
  traced=""
  # Its functions by mangled name, demangled through the binary's own symbol table (two
  # listings of the same symbols in the same order).
  paste -d '\t' <(nm --defined-only --format=just-symbols "$bin/$f") <(nm -C --defined-only --format=just-symbols "$bin/$f") \
    | awk -F '\t' 'NR == FNR { demangled[$1] = $2; next }
        { sub(/^c?fn=(\([0-9]+\) )?/, "") } ($0 in demangled) { print demangled[$0] }' \
      - <(grep -E '^c?fn=' "$SERVICES_DIR/$f.callgrind") >"$SERVICES_DIR/$f.symbols"
  log "$f: $(sort -u "$SERVICES_DIR/$f.symbols" | wc -l) functions"
done
sort -u "$SERVICES_DIR"/*.symbols >scripts/start-symbols.txt
log "scripts/start-symbols.txt: $(wc -l <scripts/start-symbols.txt) functions"
