#!/usr/bin/env bash
# The main user flow under an open-loop load (figures: docs/BENCHMARKS.md, "The user flow
# under load"). The release build of the local server (every function in one process) on
# its own PostgreSQL and Redis, USERS people made in SQL (sharing one password hash), and
# tools/load (a one-thread Rust client: each person on a keep-alive connection of their own,
# requests due at a fixed total rate, latency measured from when each was due).
#   ./scripts/load.sh              1,000 people, 1,000 requests/s for 60 s; fails unless
#                                  p99 ≤ 25 ms for reads, ≤ 50 ms for writes, every answer 2xx
#   ./scripts/load.sh saturation   the same at rising rates (RATES), p99 only; then pgbench -S
#                                  on the same server for scale
# Environment: USERS (1000), RATE (1000), DURATION (60 s), RATES ("1000 1500 2000 2500 3000").
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/services.sh
source scripts/services.sh
server=""
cleanup() {
  [ -z "$server" ] || kill "$server" 2>/dev/null || true
  stop_services
}
trap cleanup EXIT
trap 'exit 130' INT TERM

what="${1:-flow}"
users="${USERS:-1000}"
unset REDIS_URL
start_postgres
start_redis
log "building the local server and the load client (release)"
cargo build --release --quiet -p local -p load
port=$(free_port)
services_dir
# The limits still run (their Redis round trip is part of every request); a thousand people
# behind one address and a minute of traffic each stay under them. Pool: 2 × cores, as the
# benchmarks (docs/BENCHMARKS.md).
PORT=$port HOST=127.0.0.1 APP_ENV=development LOG_LEVEL=warn RUST_LOG=warn \
  EMAIL_OUTBOX_DIR="$SERVICES_DIR/outbox" STORAGE_DIR="$SERVICES_DIR/files" \
  RATE_LIMIT_GENERAL=1000000/15minute RATE_LIMIT_LOGIN=1000000/15minute RATE_LIMIT_AI_CHAT=1000000/hour \
  RATE_LIMIT_REGISTER=1000000/hour \
  DATABASE_POOL_SIZE="$(( 2 * $(nproc) ))" DATABASE_MAX_OVERFLOW=0 \
  ./target/release/local >"$SERVICES_DIR/local.log" 2>&1 &
server=$!
wait_for_port 127.0.0.1 "$port" 60 || { cat "$SERVICES_DIR/local.log" >&2; die "the local server did not start"; }
base="http://127.0.0.1:$port"

log "making $users people (one registration, its password hash shared)"
curl -sf -X POST "$base/api/v1/auth/register" -H 'content-type: application/json' \
  -d '{"email":"load0@example.com","password":"load test password","nickname":"부하0"}' >/dev/null
psql -q "$DATABASE_URL" -v ON_ERROR_STOP=1 <<SQL
INSERT INTO users (id, email, password_hash, nickname, email_verified_at)
SELECT gen_random_uuid(), 'load' || i || '@example.com', u.password_hash, '부하' || i, now()
FROM generate_series(1, $users - 1) i, (SELECT password_hash FROM users WHERE email = 'load0@example.com') u;
-- A community to read: 2,000 posts by them.
INSERT INTO posts (id, author_id, title, content, category)
SELECT gen_random_uuid(), a.id, '오늘의 이야기 ' || i, '천천히 괜찮아지고 있어요. ' || i, 'daily'
FROM generate_series(1, 2000) i
JOIN (SELECT id, row_number() OVER () - 1 AS n FROM users) a ON a.n = i % $users;
ANALYZE;
SQL

flow() { # rate seconds [read-p99-ms write-p99-ms]
  ./target/release/load "$base" "$users" "$@"
}

machine() {
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -r)"
}

case "$what" in
  flow)
    machine
    flow "${RATE:-1000}" "${DURATION:-60}"
    ;;
  saturation)
    machine
    for rate in ${RATES:-1000 1500 2000 2500 3000}; do
      log "rate $rate/s"
      # The bound that matters here is p99 ≤ 100 ms.
      flow "$rate" "${DURATION:-30}" 100 100 || true
    done
    log "pgbench -S on the same server (its own tables, scale 10; 64 clients, 30 s)"
    psql -q "$DATABASE_URL" -c "CREATE DATABASE pgbench"
    pgbench_url="${DATABASE_URL%/*}/pgbench"
    pgbench -q -i -s 10 "$pgbench_url"
    pgbench -n -S -c 64 -j 2 -T 30 "$pgbench_url" | grep -E "tps|latency"
    ;;
  *) die "unknown part: $what" ;;
esac
