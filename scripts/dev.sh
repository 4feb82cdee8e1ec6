#!/usr/bin/env bash
# The first README command: run the whole backend on a laptop. Starts a throwaway PostgreSQL
# and Redis unless DATABASE_URL / REDIS_URL are given, builds and runs the all-in-one local
# server on PORT (default 8000). Every other environment variable passes through. Ctrl-C
# stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/services.sh
source scripts/services.sh
trap stop_services EXIT
trap 'exit 130' INT TERM

command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
command -v python3 >/dev/null || apt_install python3

[ -n "${DATABASE_URL:-}" ] || start_postgres
[ -n "${REDIS_URL:-}" ] || start_redis
export PORT="${PORT:-8000}"
export EMAIL_OUTBOX_DIR="${EMAIL_OUTBOX_DIR:-.data/outbox}"
mkdir -p "$EMAIL_OUTBOX_DIR"

log "building the local server"
cargo build -p local
log "MindPause on http://127.0.0.1:$PORT  (docs: http://127.0.0.1:$PORT/docs)"
./target/debug/local &
server=$!
trap 'kill -INT $server 2>/dev/null; wait $server 2>/dev/null; exit 130' INT TERM
wait $server
