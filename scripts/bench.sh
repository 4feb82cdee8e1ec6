#!/usr/bin/env bash
# Benchmarks (never timed tests): results go to docs/BENCHMARKS.md by hand, with this
# command and the machine. Starts its own PostgreSQL and Redis.
#   ./scripts/bench.sh functions   size, cold start and idle RSS of every function binary, each built alone
#   ./scripts/bench.sh accounts    login and GET /users/me under load; revocation check cost
#   ./scripts/bench.sh emotions    1M logs: stats and list latency, GET /emotions/{id} vs pgbench -S
#   ./scripts/bench.sh notifications  GET /notifications in a table of 1M; purge of 9M old rows of 10M
#                                  while GET /notifications runs
#   ./scripts/bench.sh community   100k posts, 1M comments, 2M likes: the feed's first and tenth pages,
#                                  GET /posts/{id} vs pgbench -S, likes on one hot post from 10,000 people
#   ./scripts/bench.sh challenges  1M challenges: PATCH check-in and GET /challenges
#   ./scripts/bench.sh admin       1M people, 10M logs: GET /admin/stats (cached, computed), search
#   ./scripts/bench.sh files       uploads: MiB/s and peak RSS of `files` for 20 parallel 5 MiB uploads (to the
#                                  storage emulator); the image worker on a 40-megapixel JPEG: time, peak RSS
#   ./scripts/bench.sh writes      POST, PATCH and DELETE /emotions, a chat message (offline companion) and
#                                  POST /auth/refresh from 64 people (wrk, 64 connections), each vs the same
#                                  rows written by plain SQL (pgbench -f, 64 clients), alternating rounds
#   ./scripts/bench.sh chat        time our server adds to the first streamed token (instant fake provider,
#                                  functions/chat/examples/ttft.rs as the client)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/services.sh
source scripts/services.sh
pids=()
cleanup() {
  [ ${#pids[@]} -eq 0 ] || kill "${pids[@]}" 2>/dev/null || true
  stop_services
}
trap cleanup EXIT
trap 'exit 130' INT TERM

what="${1:-all}"
command -v wrk >/dev/null || apt_install wrk
[ -x /usr/bin/time ] || apt_install time
unset REDIS_URL
start_postgres
start_redis
export APP_ENV=development LOG_LEVEL=warn RUST_LOG=warn
# The benches register their people from one address.
export RATE_LIMIT_REGISTER=100000000/minute
services_dir
export EMAIL_OUTBOX_DIR="$SERVICES_DIR/outbox"

functions=$(python3 -c 'import json; print(" ".join(f["name"] for f in json.load(open("functions.json"))["functions"]))')
# Fat LTO builds take minutes each: a part builds only what it runs (`functions` builds each
# function alone, below).
case "$what" in
  functions) build="migrate" ;;
  accounts) build="migrate auth users" ;;
  emotions) build="migrate auth emotions" ;;
  notifications) build="migrate auth notifications notification-purge" ;;
  community) build="migrate auth community" ;;
  challenges) build="migrate auth challenges" ;;
  admin) build="migrate auth admin" ;;
  chat) build="migrate auth chat" ;;
  writes) build="migrate auth emotions chat" ;;
  files) build="migrate auth files image-worker" ;;
  *) build=$functions ;;
esac
log "building release binaries: $build"
# shellcheck disable=SC2046
cargo build --release --quiet $(printf -- '-p %s ' $build)
bin="${CARGO_TARGET_DIR:-target}/release"
"$bin/migrate"

# PostgreSQL shares these cores with everything else here: pools of 2 × cores connections
# (PostgreSQL's rule of thumb). 32 connections measured 25-40% slower.
pool_size=$((2 * $(nproc)))

# `GET $2` with $token (wrk, 64 connections) against `pgbench -S` (64 clients) on the same
# database, in the same state, with no autovacuum running, in 3 alternating rounds of 10 s:
# this VM's speed drifts by ±20% within minutes. $1 names the request.
versus_pgbench() {
  local label=$1 url=$2 out="$SERVICES_DIR/wrk.out" ratios=()
  pgbench -q -i -s 10 "$DATABASE_URL" >/dev/null 2>&1
  for _ in $(seq 60); do
    [ "$(psql -tA "$DATABASE_URL" -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'")" = 0 ] && break
    sleep 1
  done
  echo "## $label (wrk, 64 connections) vs pgbench -S (64 clients), 3 alternating rounds of 10 s"
  for round in 1 2 3; do
    wrk -t2 -c64 -d10s --latency -H "Authorization: Bearer $token" "$url" > "$out"
    api_rps=$(awk '/Requests\/sec/ {print $2}' "$out")
    api_p50=$(awk '$1 == "50%" {print $2}' "$out"); api_p99=$(awk '$1 == "99%" {print $2}' "$out")
    ! grep -q "Non-2xx" "$out" || { grep "Non-2xx" "$out"; exit 1; }
    pg_tps=$(pgbench -S -c 64 -j 2 -T 10 "$DATABASE_URL" 2>/dev/null | awk '/^tps/ {print $3; exit}')
    ratios+=("$(python3 -c "print(f'{$api_rps / $pg_tps:.2f}')")")
    echo "round $round: API $api_rps requests/s (p50 $api_p50, p99 $api_p99), pgbench -S $pg_tps tps, ratio ${ratios[-1]}"
  done
  python3 -c "import statistics, sys; print(f'ratio {sys.argv[1]} / pgbench -S, median of 3 rounds = {statistics.median(map(float, sys.argv[2:])):.2f}')" "$label" "${ratios[@]}"
}

machine() {
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), rustc $(rustc --version | cut -d' ' -f2)"
}

if [ "$what" = functions ] || [ "$what" = all ]; then
  machine
  echo "| function | stripped size | cold start p50 / p95 | idle RSS |"
  echo "|---|---|---|---|"
  for f in $functions; do
    # Alone, as its image builds it: built together, the functions share `shared`'s features.
    cargo build --release --quiet -p "$f"
    if [ "$f" = migrate ]; then
      python3 -c "import os; print(f'| $f | {os.path.getsize(\"$bin/$f\")/1048576:.1f} MiB | (one-shot job) | |')"
      continue
    fi
    python3 scripts/bench/coldstart.py "$bin/$f" 20
  done
fi

if [ "$what" = accounts ] || [ "$what" = all ]; then
  machine
  export RATE_LIMIT_LOGIN=100000000/minute RATE_LIMIT_GENERAL=100000000/minute DATABASE_POOL_SIZE=$pool_size DATABASE_MAX_OVERFLOW=0
  auth_port=$(free_port); users_port=$(free_port)
  PORT=$auth_port "$bin/auth" & auth_pid=$!; pids+=("$auth_pid")
  PORT=$users_port "$bin/users" & users_pid=$!; pids+=("$users_pid")
  wait_for_port 127.0.0.1 "$auth_port" 10; wait_for_port 127.0.0.1 "$users_port" 10
  token=$(curl -sf -X POST "http://127.0.0.1:$auth_port/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"email":"bench@example.com","password":"correct horse battery","nickname":"bench"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tokens"]["access_token"])')
  echo "## POST /api/v1/auth/login (argon2id m=19456 t=2 p=1: CPU-bound by design), 64 connections, 20 s"
  wrk -t2 -c64 -d20s --latency -s scripts/bench/login.lua "http://127.0.0.1:$auth_port/api/v1/auth/login" | grep -E "Requests/sec|50%|99%|Non-2xx"
  echo "auth peak RSS under the login load: $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' "/proc/$auth_pid/status")"
  echo "## GET /api/v1/users/me (JWT + revocation gate in Redis + one row), 64 connections, 20 s"
  wrk -t2 -c64 -d20s --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$users_port/api/v1/users/me" | grep -E "Requests/sec|50%|99%|Non-2xx"
  echo "## revocation check alone"
  cargo bench -p shared --bench revocation --quiet 2>/dev/null | grep -v "^$"
fi

if [ "$what" = emotions ] || [ "$what" = all ]; then
  machine
  export RATE_LIMIT_GENERAL=100000000/minute DATABASE_POOL_SIZE=$pool_size DATABASE_MAX_OVERFLOW=0
  auth_port=$(free_port); emotions_port=$(free_port)
  PORT=$auth_port "$bin/auth" & auth_pid=$!; pids+=("$auth_pid")
  PORT=$emotions_port "$bin/emotions" & emotions_pid=$!; pids+=("$emotions_pid")
  wait_for_port 127.0.0.1 "$auth_port" 10; wait_for_port 127.0.0.1 "$emotions_port" 10
  register=$(curl -sf -X POST "http://127.0.0.1:$auth_port/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"email":"emotions-bench@example.com","password":"correct horse battery","nickname":"emobench"}')
  token=$(echo "$register" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tokens"]["access_token"])')
  user=$(echo "$register" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["user"]["id"])')
  log "seeding 1,000,000 logs"
  psql -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -v bench_user="$user" -f scripts/bench/emotions_seed.sql
  # VACUUM sets the visibility map (index-only reads) only for rows older than every open
  # snapshot; autovacuum's ANALYZE of the fresh million rows may hold one: repeat until set.
  settle() {
    for _ in $(seq 30); do
      psql -q "$DATABASE_URL" -c "VACUUM ANALYZE emotion_logs" -c "VACUUM ANALYZE emotion_days" -c "VACUUM ANALYZE emotion_daily_tags"
      visible=$(psql -tA "$DATABASE_URL" -c "SELECT bool_and(relallvisible >= relpages * 0.99) FROM pg_class
        WHERE relname IN ('emotion_logs', 'emotion_days', 'emotion_daily_tags')")
      [ "$visible" = t ] && break
      sleep 1
    done
  }
  settle
  base="http://127.0.0.1:$emotions_port/api/v1/emotions"
  echo "## GET /emotions (a page of 20 with notes), notes as written before encryption"
  python3 scripts/bench/latency.py "$base?limit=20" "$token" 500
  echo "## migrate rekey: sealing the notes written before encryption"
  psql -tA "$DATABASE_URL" -c "SELECT count(*) AS notes FROM emotion_logs WHERE note IS NOT NULL"
  /usr/bin/time -f 'rekey: %e s, peak RSS %M KiB' "$bin/migrate" rekey --batch 1000
  settle
  psql -tA "$DATABASE_URL" -c "SELECT count(*) AS logs FROM emotion_logs"
  redis_port=${REDIS_URL##*:}
  echo "## GET /emotions/stats, 365 days, the user with 10,000 logs"
  printf 'uncached: '
  python3 scripts/bench/latency.py "$base/stats?from=$(date -u -d '364 days ago' +%F)" "$token" 200 \
    --before "redis-cli -p $redis_port SET stats-ver:$user \$(date +%s%N)"
  printf 'cached:   '
  python3 scripts/bench/latency.py "$base/stats?from=$(date -u -d '364 days ago' +%F)" "$token" 500
  echo "## GET /emotions (a page of 20 with notes), sealed"
  python3 scripts/bench/latency.py "$base?limit=20" "$token" 500
  id=$(psql -tA "$DATABASE_URL" -c "SELECT id FROM emotion_logs WHERE user_id = '$user' LIMIT 1")
  versus_pgbench "GET /emotions/{id}" "$base/$id"
  echo "## EXPLAIN ANALYZE of the stats queries (365 days of the daily rollup; they run concurrently)"
  psql -v ON_ERROR_STOP=1 "$DATABASE_URL" -v user="$user" -v from="$(date -u -d '364 days ago' +%F)" -v to="$(date -u +%F)" <<'SQL'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT day, counts, intensity_sums FROM emotion_days
WHERE user_id = :'user' AND day BETWEEN :'from' AND :'to' AND n > 0;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT tag, sum(n)::bigint AS count FROM emotion_daily_tags
WHERE user_id = :'user' AND day BETWEEN :'from' AND :'to' AND n > 0
GROUP BY tag ORDER BY count DESC, tag LIMIT 10;
SQL
fi

if [ "$what" = notifications ] || [ "$what" = all ]; then
  machine
  export RATE_LIMIT_GENERAL=100000000/minute DATABASE_POOL_SIZE=$pool_size DATABASE_MAX_OVERFLOW=0
  auth_port=$(free_port); notifications_port=$(free_port)
  PORT=$auth_port "$bin/auth" & auth_pid=$!; pids+=("$auth_pid")
  PORT=$notifications_port "$bin/notifications" & notifications_pid=$!; pids+=("$notifications_pid")
  wait_for_port 127.0.0.1 "$auth_port" 10; wait_for_port 127.0.0.1 "$notifications_port" 10
  register=$(curl -sf -X POST "http://127.0.0.1:$auth_port/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"email":"notifications-bench@example.com","password":"correct horse battery","nickname":"notibench"}')
  token=$(echo "$register" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tokens"]["access_token"])')
  user=$(echo "$register" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["user"]["id"])')
  log "seeding 1,000,000 notifications"
  psql -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -v bench_user="$user" -f scripts/bench/notifications_seed.sql
  psql -q "$DATABASE_URL" -c "VACUUM ANALYZE notifications"
  base="http://127.0.0.1:$notifications_port/api/v1/notifications"
  echo "## GET /notifications (a page of 20 and unread_count), the user with 5,000 in a table of 1,000,000"
  python3 scripts/bench/latency.py "$base?limit=20" "$token" 500
  echo "## GET /notifications?unread_only=true"
  python3 scripts/bench/latency.py "$base?unread_only=true&limit=20" "$token" 500
  log "adding 9,000,000 notifications older than 30 days"
  psql -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -f scripts/bench/notifications_old.sql
  psql -q "$DATABASE_URL" -c "VACUUM ANALYZE notifications"
  psql -tA "$DATABASE_URL" -c "SELECT count(*) AS notifications FROM notifications"
  echo "## purge (notification-purge --once) of 9,000,000 of 10,000,000; GET /notifications meanwhile, one client after another"
  out="$SERVICES_DIR/purge.out"
  start=$(date +%s.%N)
  "$bin/notification-purge" --once > "$out" &
  purge_pid=$!
  sleep 2
  printf 'during the purge: '
  python3 scripts/bench/latency.py "$base?limit=20" "$token" 10000
  wait "$purge_pid"
  end=$(date +%s.%N)
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); s=float(sys.argv[3])-float(sys.argv[2]); print(f'purged {r[\"notifications\"]:,} notifications in {s:.0f} s = {r[\"notifications\"]/s:,.0f} rows/s, {r[\"statements\"]} statements, longest {r[\"longest_statement_ms\"]} ms, finished={r[\"finished\"]}')" "$out" "$start" "$end"
  psql -tA "$DATABASE_URL" -c "SELECT count(*) AS left FROM notifications"
fi

if [ "$what" = community ] || [ "$what" = all ]; then
  machine
  export RATE_LIMIT_GENERAL=100000000/minute DATABASE_POOL_SIZE=$pool_size DATABASE_MAX_OVERFLOW=0
  auth_port=$(free_port); community_port=$(free_port)
  PORT=$auth_port "$bin/auth" & auth_pid=$!; pids+=("$auth_pid")
  PORT=$community_port "$bin/community" & community_pid=$!; pids+=("$community_pid")
  wait_for_port 127.0.0.1 "$auth_port" 10; wait_for_port 127.0.0.1 "$community_port" 10
  token=$(curl -sf -X POST "http://127.0.0.1:$auth_port/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"email":"community-bench@example.com","password":"correct horse battery","nickname":"combench"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tokens"]["access_token"])')
  log "seeding 100,000 posts, 1,000,000 comments, ~2,000,000 likes"
  psql -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -f scripts/bench/community_seed.sql
  for _ in $(seq 30); do
    psql -q "$DATABASE_URL" -c "VACUUM ANALYZE posts" -c "VACUUM ANALYZE comments" -c "VACUUM ANALYZE post_likes" -c "VACUUM ANALYZE users"
    visible=$(psql -tA "$DATABASE_URL" -c "SELECT bool_and(relallvisible >= relpages * 0.99) FROM pg_class
      WHERE relname IN ('posts', 'comments', 'post_likes')")
    [ "$visible" = t ] && break
    sleep 1
  done
  psql -tA "$DATABASE_URL" -c "SELECT (SELECT count(*) FROM posts) AS posts, (SELECT count(*) FROM comments) AS comments, (SELECT count(*) FROM post_likes) AS likes"
  base="http://127.0.0.1:$community_port/api/v1/community"
  # The cursor of page 9, read page by page.
  cursor_of_page() {
    local query=$1 cursor=""
    for _ in $(seq 9); do
      cursor=$(curl -sf "$base/posts?$query${cursor:+&cursor=$cursor}" -H "authorization: Bearer $token" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["next_cursor"])')
    done
    echo "$cursor"
  }
  for query in "sort=latest&limit=20" "sort=popular&limit=20" "sort=popular&category=worry&limit=20"; do
    echo "## GET /posts?$query: first page, tenth page"
    python3 scripts/bench/latency.py "$base/posts?$query" "$token" 500
    python3 scripts/bench/latency.py "$base/posts?$query&cursor=$(cursor_of_page "$query")" "$token" 500
  done
  hot=$(psql -tA "$DATABASE_URL" -c "SELECT id FROM posts ORDER BY like_count DESC LIMIT 1")
  versus_pgbench "GET /posts/{id}" "$base/posts/$hot"
  out="$SERVICES_DIR/wrk.out"
  log "10,000 likers with live sessions"
  tokens="$SERVICES_DIR/likers"
  cargo run --quiet -p community --example likers 10000 > "$tokens"
  echo "## POST and DELETE /posts/{id}/like on the most liked post, 10,000 people taking turns, 64 connections, 20 s"
  wrk -t2 -c64 -d20s --latency -s scripts/bench/likes.lua "$base/posts/$hot/like" -- "$tokens" 2 > "$out"
  grep -E "Requests/sec|50%|99%|Non-2xx" "$out"
  psql -tA "$DATABASE_URL" -c "SELECT 'like_count ' || like_count || ', standing likes ' || (SELECT count(*) FROM post_likes WHERE post_id = p.id AND unliked_at IS NULL) || CASE WHEN like_count = (SELECT count(*) FROM post_likes WHERE post_id = p.id AND unliked_at IS NULL) THEN ': exact' ELSE ': LOST UPDATES' END FROM posts p WHERE id = '$hot'"
fi

if [ "$what" = challenges ] || [ "$what" = all ]; then
  machine
  export RATE_LIMIT_GENERAL=100000000/minute DATABASE_POOL_SIZE=$pool_size DATABASE_MAX_OVERFLOW=0
  auth_port=$(free_port); challenges_port=$(free_port)
  PORT=$auth_port "$bin/auth" & auth_pid=$!; pids+=("$auth_pid")
  PORT=$challenges_port "$bin/challenges" & challenges_pid=$!; pids+=("$challenges_pid")
  wait_for_port 127.0.0.1 "$auth_port" 10; wait_for_port 127.0.0.1 "$challenges_port" 10
  register=$(curl -sf -X POST "http://127.0.0.1:$auth_port/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"email":"challenges-bench@example.com","password":"correct horse battery","nickname":"goalbench"}')
  token=$(echo "$register" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tokens"]["access_token"])')
  user=$(echo "$register" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["user"]["id"])')
  log "seeding 1,000,000 challenges"
  psql -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -v bench_user="$user" -f scripts/bench/challenges_seed.sql
  psql -q "$DATABASE_URL" -c "VACUUM ANALYZE challenges" -c "VACUUM ANALYZE users"
  psql -tA "$DATABASE_URL" -c "SELECT count(*) AS challenges FROM challenges"
  base="http://127.0.0.1:$challenges_port/api/v1/challenges"
  echo "## GET /challenges (a page of 20), the user with 600 in a table of 1,000,000"
  python3 scripts/bench/latency.py "$base?limit=20" "$token" 500
  echo "## GET /challenges?status=active"
  python3 scripts/bench/latency.py "$base?status=active&limit=20" "$token" 500
  ids="$SERVICES_DIR/challenge-ids"
  psql -tA "$DATABASE_URL" -c "SELECT '/' || id FROM challenges WHERE user_id = '$user'" > "$ids"
  echo "## PATCH /challenges/{id} {check_in: true}, a different challenge each time"
  python3 scripts/bench/latency.py "$base" "$token" 500 --method PATCH --body '{"check_in":true}' --each "$ids"
fi

if [ "$what" = admin ] || [ "$what" = all ]; then
  machine
  export RATE_LIMIT_GENERAL=100000000/minute DATABASE_POOL_SIZE=$pool_size DATABASE_MAX_OVERFLOW=0
  auth_port=$(free_port); admin_port=$(free_port)
  PORT=$auth_port "$bin/auth" & auth_pid=$!; pids+=("$auth_pid")
  PORT=$admin_port "$bin/admin" & admin_pid=$!; pids+=("$admin_pid")
  wait_for_port 127.0.0.1 "$auth_port" 10; wait_for_port 127.0.0.1 "$admin_port" 10
  curl -sf -X POST "http://127.0.0.1:$auth_port/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"email":"admin-bench@example.com","password":"correct horse battery","nickname":"adminbench"}' >/dev/null
  psql -q "$DATABASE_URL" -c "UPDATE users SET role = 'admin' WHERE email = 'admin-bench@example.com'"
  # Tokens of the old role are refused: sign in again as an admin.
  token=$(curl -sf -X POST "http://127.0.0.1:$auth_port/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"email":"admin-bench@example.com","password":"correct horse battery"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tokens"]["access_token"])')
  log "seeding 1,000,000 people and 10,000,000 emotion logs"
  psql -q -v ON_ERROR_STOP=1 "$DATABASE_URL" -f scripts/bench/admin_seed.sql
  psql -q "$DATABASE_URL" -c "VACUUM ANALYZE users" -c "VACUUM ANALYZE emotion_logs"
  psql -tA "$DATABASE_URL" -c "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM emotion_logs) AS logs"
  base="http://127.0.0.1:$admin_port/api/v1/admin"
  redis_port=${REDIS_URL##*:}
  echo "## GET /admin/stats, cached (at most a minute old)"
  python3 scripts/bench/latency.py "$base/stats" "$token" 500
  echo "## GET /admin/stats, computed every time (the cache emptied before each request)"
  python3 scripts/bench/latency.py "$base/stats" "$token" 50 \
    --before "redis-cli -p $redis_port --scan --pattern '*admin:stats' | xargs -r redis-cli -p $redis_port DEL"
  for query in "q=person12345" "q=PERSON9999" "q=example.com&limit=20" "status=suspended&limit=20" "limit=20"; do
    echo "## GET /admin/users?$query"
    python3 scripts/bench/latency.py "$base/users?$query" "$token" 200
  done
  echo "## EXPLAIN ANALYZE of the partial search"
  psql "$DATABASE_URL" -c "EXPLAIN (ANALYZE, COSTS OFF) SELECT id FROM users
    WHERE (lower(email) LIKE '%person12345%' OR lower(nickname) LIKE '%person12345%')
    ORDER BY created_at DESC, id DESC LIMIT 21" | grep -E "Scan|Execution"
fi

if [ "$what" = writes ] || [ "$what" = all ]; then
  machine
  export RATE_LIMIT_GENERAL=100000000/minute RATE_LIMIT_LOGIN=100000000/minute RATE_LIMIT_AI_CHAT=100000000/minute \
    DATABASE_POOL_SIZE=$pool_size DATABASE_MAX_OVERFLOW=0
  auth_port=$(free_port); emotions_port=$(free_port); chat_port=$(free_port)
  PORT=$auth_port "$bin/auth" & auth_pid=$!; pids+=("$auth_pid")
  PORT=$emotions_port "$bin/emotions" & emotions_pid=$!; pids+=("$emotions_pid")
  # No OPENAI_API_KEY: the offline companion answers (the write without the model).
  PORT=$chat_port "$bin/chat" & chat_pid=$!; pids+=("$chat_pid")
  wait_for_port 127.0.0.1 "$auth_port" 10; wait_for_port 127.0.0.1 "$emotions_port" 10; wait_for_port 127.0.0.1 "$chat_port" 10
  log "64 people with live sessions and a conversation each"
  writers="$SERVICES_DIR/writers"; refreshers="$SERVICES_DIR/refreshers"; talkers="$SERVICES_DIR/talkers"
  for i in $(seq 64); do
    curl -sf -X POST "http://127.0.0.1:$auth_port/api/v1/auth/register" -H 'content-type: application/json' \
      -d "{\"email\":\"writer$i@example.com\",\"password\":\"correct horse battery\",\"nickname\":\"writer$i\"}" \
      | python3 -c 'import json,sys; t=json.load(sys.stdin)["data"]["tokens"]; print(t["access_token"], t["refresh_token"])'
  done > "$SERVICES_DIR/tokens"
  cut -d' ' -f1 "$SERVICES_DIR/tokens" | sed 's|$| /api/v1/emotions|' > "$writers"
  # Sessions of their own for each round of refreshes (a round leaves the tokens it had in
  # flight rotated, unknown to the next), more than connections (refresh.lua).
  for round in 1 2 3; do
    for i in $(seq 96); do
      curl -sf -X POST "http://127.0.0.1:$auth_port/api/v1/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"writer$(( (i - 1) % 64 + 1 ))@example.com\",\"password\":\"correct horse battery\"}" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tokens"]["refresh_token"])'
    done > "$refreshers.$round"
  done
  cut -d' ' -f1 "$SERVICES_DIR/tokens" | while read -r token; do
    id=$(curl -sf -X POST "http://127.0.0.1:$chat_port/api/v1/chat/conversations" -H "authorization: Bearer $token" \
      -H 'content-type: application/json' -d '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["id"])')
    echo "$token /api/v1/chat/conversations/$id/messages"
  done > "$talkers"
  # The plain SQL writes on rows of someone none of the requests touch.
  uid=$(curl -sf -X POST "http://127.0.0.1:$auth_port/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"email":"baseline@example.com","password":"correct horse battery","nickname":"baseline"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["user"]["id"])')
  # Each write against the same change as plain SQL (single-row statements on the same
  # tables, autocommit, pgbench -f at 64 clients), in 3 alternating rounds of 10 s. ROUND in
  # the wrk script's arguments is replaced by the round's number.
  versus_sql() {
    local label=$1 sql=$2 url=$3 script=$4 out="$SERVICES_DIR/wrk.out" ratios=()
    shift 4
    echo "## $label from 64 people (wrk, 64 connections) vs $(grep -v '^\\' "$sql" | tr '\n' ' ' | head -c 70)… (pgbench -f, 64 clients), 3 alternating rounds of 10 s"
    for round in 1 2 3; do
      wrk -t2 -c64 -d10s --latency -s "scripts/bench/$script" "$url" -- "${@//ROUND/$round}" > "$out"
      api_rps=$(awk '/Requests\/sec/ {print $2}' "$out")
      api_p50=$(awk '$1 == "50%" {print $2}' "$out"); api_p99=$(awk '$1 == "99%" {print $2}' "$out")
      ! grep -q "Non-2xx" "$out" || { grep "Non-2xx" "$out"; exit 1; }
      pg_tps=$(pgbench -n -f "$sql" -D uid="'$uid'" -D round="$round" -D k=0 -c 64 -j 2 -T 10 "$DATABASE_URL" 2>/dev/null | awk '/^tps/ {print $3; exit}')
      ratios+=("$(python3 -c "print(f'{$api_rps / $pg_tps:.2f}')")")
      echo "round $round: API $api_rps requests/s (p50 $api_p50, p99 $api_p99), SQL $pg_tps tps, ratio ${ratios[-1]}"
    done
    python3 -c "import statistics, sys; print(f'ratio {sys.argv[1]} / SQL, median of 3 rounds = {statistics.median(map(float, sys.argv[2:])):.2f}')" "$label" "${ratios[@]}"
  }
  emotions="http://127.0.0.1:$emotions_port"
  insert="$SERVICES_DIR/insert.sql"
  echo "INSERT INTO emotion_logs (id, user_id, emotion, intensity, tags, recorded_at) VALUES (gen_random_uuid(), :uid::uuid, 'calm', 3, '{산책}', now());" > "$insert"
  versus_sql "POST /emotions" "$insert" "$emotions" writes.lua "$writers" 2 POST '{"emotion":"calm","intensity":3,"note":"퇴근길에 비가 와서 우산 없이 걸었다","tags":["산책"]}'

  # One log of each person to change, and the same 64 rows for the plain UPDATE.
  psql -q "$DATABASE_URL" -c "CREATE TABLE bench_targets AS SELECT row_number() OVER () AS n, id FROM
    (SELECT DISTINCT ON (l.user_id) l.id FROM emotion_logs l JOIN users u ON u.id = l.user_id WHERE u.email LIKE 'writer%' ORDER BY l.user_id, l.id) t"
  targets="$SERVICES_DIR/targets"
  # Each person's token (registered in order: line i is writer i) with the path of their log.
  psql -tA -F' ' "$DATABASE_URL" -c "SELECT substring(u.email FROM 'writer([0-9]+)')::int, t.id FROM bench_targets t
    JOIN emotion_logs l ON l.id = t.id JOIN users u ON u.id = l.user_id ORDER BY 1" \
    | while read -r i log; do echo "$(sed -n "${i}p" "$writers" | cut -d' ' -f1) /api/v1/emotions/$log"; done > "$targets"
  update="$SERVICES_DIR/update.sql"
  printf '%s\n' '\set n random(1, 64)' \
    "UPDATE emotion_logs SET intensity = 4, updated_at = now() WHERE id = (SELECT id FROM bench_targets WHERE n = :n);" > "$update"
  versus_sql "PATCH /emotions/{id}" "$update" "$emotions" writes.lua "$targets" 2 PATCH '{"intensity":4,"tags":["산책","저녁"]}'

  # DELETE: every request deletes a log of its own. The people's logs (written through the
  # API, so the rollup holds them) are topped up to 240,000 and dealt into three rounds; the
  # plain DELETE takes the baseline's rows, each client the next of its own numbered range.
  while [ "$(psql -tA "$DATABASE_URL" -c "SELECT count(*) FROM emotion_logs WHERE user_id <> '$uid'")" -lt 240000 ]; do
    wrk -t2 -c64 -d10s -s scripts/bench/writes.lua "$emotions" -- "$writers" 2 POST '{"emotion":"sad","intensity":2,"tags":["비"]}' >/dev/null
  done
  # Interleaved (each person's first log, then each one's second…): requests in flight
  # together are by different people, as in the other rounds.
  psql -tA -F' ' "$DATABASE_URL" -c "SELECT i, id FROM (SELECT substring(u.email FROM 'writer([0-9]+)')::int AS i, l.id,
      row_number() OVER (PARTITION BY l.user_id ORDER BY l.id) AS nth FROM emotion_logs l JOIN users u ON u.id = l.user_id
      WHERE u.email LIKE 'writer%' AND l.id NOT IN (SELECT id FROM bench_targets)) t ORDER BY nth, i" \
    | awk -v out="$SERVICES_DIR/doomed" 'NR == FNR { token[FNR] = $1; next }
        { print token[$1], "/api/v1/emotions/" $2 > (out "." (FNR % 3 + 1)) }' "$writers" -
  psql -q "$DATABASE_URL" -c "INSERT INTO emotion_logs (id, user_id, emotion, intensity, recorded_at)
    SELECT gen_random_uuid(), '$uid', 'calm', 3, now() FROM generate_series(1, 300000)" \
    -c "CREATE TABLE bench_doomed AS SELECT row_number() OVER () AS n, id FROM emotion_logs WHERE user_id = '$uid'" \
    -c "CREATE UNIQUE INDEX ON bench_doomed (n)" -c "VACUUM ANALYZE emotion_logs" -c "ANALYZE bench_doomed"
  delete="$SERVICES_DIR/delete.sql"
  printf '%s\n' '\set k :k + 1' \
    "DELETE FROM emotion_logs WHERE id = (SELECT id FROM bench_doomed WHERE n = (:round - 1) * 100000 + :client_id * 1500 + :k);" > "$delete"
  versus_sql "DELETE /emotions/{id}" "$delete" "$emotions" writes.lua "$SERVICES_DIR/doomed.ROUND" 2 DELETE

  # A chat message answered by the offline companion: two rows (the person's, the reply)
  # and the conversation's count, against two plain single-row INSERTs.
  conversation=$(curl -sf -X POST "http://127.0.0.1:$chat_port/api/v1/chat/conversations" -H "authorization: Bearer $(head -1 "$writers" | cut -d' ' -f1)" \
    -H 'content-type: application/json' -d '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["id"])')
  two_rows="$SERVICES_DIR/two_rows.sql"
  printf '%s\n' "INSERT INTO chat_messages (id, conversation_id, role, content, created_at) VALUES (gen_random_uuid(), '$conversation', 'user', '\\x00'::bytea || convert_to('오늘 너무 지쳤어', 'UTF8'), now());" \
    "INSERT INTO chat_messages (id, conversation_id, role, content, provider, created_at) VALUES (gen_random_uuid(), '$conversation', 'assistant', '\\x00'::bytea || convert_to('많이 지치셨군요', 'UTF8'), 'offline', now());" > "$two_rows"
  versus_sql "POST /chat/conversations/{id}/messages (offline companion)" "$two_rows" "http://127.0.0.1:$chat_port" writes.lua "$talkers" 2 POST '{"content":"오늘 회사에서 너무 지쳤어"}'

  # POST /auth/refresh: each session's token rotates on every request. The plain UPDATE
  # rotates sessions of the baseline's own (rotating the people's would revoke them).
  psql -q "$DATABASE_URL" -c "INSERT INTO sessions (id, user_id, refresh_jti, expires_at)
      SELECT gen_random_uuid(), '$uid', gen_random_uuid(), now() + interval '30 days' FROM generate_series(1, 288)" \
    -c "CREATE TABLE bench_sessions AS SELECT row_number() OVER () AS n, id FROM sessions WHERE user_id = '$uid'" \
    -c "CREATE UNIQUE INDEX ON bench_sessions (n)"
  rotate="$SERVICES_DIR/rotate.sql"
  printf '%s\n' '\set n random(1, 288)' \
    "UPDATE sessions SET refresh_jti = gen_random_uuid(), previous_jti = refresh_jti, rotated_at = now() WHERE id = (SELECT id FROM bench_sessions WHERE n = :n);" > "$rotate"
  versus_sql "POST /auth/refresh" "$rotate" "http://127.0.0.1:$auth_port/api/v1/auth/refresh" refresh.lua "$refreshers.ROUND" 2
  psql -tA "$DATABASE_URL" -c "SELECT count(*) AS logs FROM emotion_logs"
fi

if [ "$what" = chat ] || [ "$what" = all ]; then
  machine
  fake_port=$(free_port); auth_port=$(free_port); chat_port=$(free_port)
  cargo build --release --quiet -p chat --example fake_openai --example ttft
  "$bin/examples/fake_openai" "$fake_port" & fake_pid=$!; pids+=("$fake_pid")
  export RATE_LIMIT_GENERAL=100000000/minute RATE_LIMIT_AI_CHAT=100000000/minute DATABASE_POOL_SIZE=$pool_size DATABASE_MAX_OVERFLOW=0
  PORT=$auth_port "$bin/auth" & auth_pid=$!; pids+=("$auth_pid")
  OPENAI_API_KEY=sk-bench OPENAI_BASE_URL="http://127.0.0.1:$fake_port/v1" PORT=$chat_port "$bin/chat" & chat_pid=$!; pids+=("$chat_pid")
  wait_for_port 127.0.0.1 "$fake_port" 10; wait_for_port 127.0.0.1 "$auth_port" 10; wait_for_port 127.0.0.1 "$chat_port" 10
  token=$(curl -sf -X POST "http://127.0.0.1:$auth_port/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"email":"chat-bench@example.com","password":"correct horse battery","nickname":"chatbench"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tokens"]["access_token"])')
  ids="$SERVICES_DIR/conversations"
  for _ in $(seq 32); do
    curl -sf -X POST "http://127.0.0.1:$chat_port/api/v1/chat/conversations" -H "authorization: Bearer $token" \
      -H 'content-type: application/json' -d '{}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["id"])'
  done > "$ids"
  # Every conversation starts with a full context (40 messages), analyzed as a live database is.
  psql -q -v ON_ERROR_STOP=1 "$DATABASE_URL" <<'SQL'
INSERT INTO chat_messages (id, conversation_id, role, content, provider, created_at)
SELECT gen_random_uuid(), c.id, CASE WHEN i % 2 = 0 THEN 'user' ELSE 'assistant' END,
       '\x00'::bytea || convert_to('오늘 하루는 어땠는지 천천히 이야기해 볼까요?', 'UTF8'), CASE WHEN i % 2 = 1 THEN 'openai' END,
       now() - (41 - i) * interval '1 minute'
FROM conversations c CROSS JOIN generate_series(1, 40) AS i;
UPDATE conversations SET message_count = 40;
ANALYZE conversations;
ANALYZE chat_messages;
SQL
  echo "## POST /chat/conversations/{id}/messages with Accept: text/event-stream, 32 at once"
  "$bin/examples/ttft" "http://127.0.0.1:$chat_port/api/v1/chat" "$token" "$ids" 32 40
fi

if [ "$what" = files ] || [ "$what" = all ]; then
  machine
  python3 -c 'import PIL' 2>/dev/null || python3 -m pip install -q --disable-pip-version-check pillow
  start_storage_emulator
  python3 scripts/bench/pictures.py "$SERVICES_DIR"
  export RATE_LIMIT_GENERAL=100000000/minute RATE_LIMIT_FILE_UPLOAD=100000000/hour DATABASE_POOL_SIZE=$pool_size DATABASE_MAX_OVERFLOW=0
  auth_port=$(free_port); files_port=$(free_port); worker_port=$(free_port)
  PORT=$auth_port "$bin/auth" & auth_pid=$!; pids+=("$auth_pid")
  PORT=$files_port "$bin/files" & files_pid=$!; pids+=("$files_pid")
  PORT=$worker_port "$bin/image-worker" & worker_pid=$!; pids+=("$worker_pid")
  wait_for_port 127.0.0.1 "$auth_port" 10; wait_for_port 127.0.0.1 "$files_port" 10; wait_for_port 127.0.0.1 "$worker_port" 10
  token=$(curl -sf -X POST "http://127.0.0.1:$auth_port/api/v1/auth/register" -H 'content-type: application/json' \
    -d '{"email":"files-bench@example.com","password":"correct horse battery","nickname":"filesbench"}' \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tokens"]["access_token"])')
  echo "files idle RSS: $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$files_pid/status")"
  echo "## POST /api/v1/files/upload/attachment, a $(du -h "$SERVICES_DIR/upload.jpg" | cut -f1) JPEG with EXIF, to the storage emulator"
  python3 scripts/bench/uploads.py "http://127.0.0.1:$files_port/api/v1/files/upload/attachment" "$token" "$SERVICES_DIR/upload.jpg" 20 20
  python3 scripts/bench/uploads.py "http://127.0.0.1:$files_port/api/v1/files/upload/attachment" "$token" "$SERVICES_DIR/upload.jpg" 200 20
  echo "files peak RSS (20 uploads at once): $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' "/proc/$files_pid/status")"

  echo "## image worker: a 40-megapixel JPEG of $(du -h "$SERVICES_DIR/40mp.jpg" | cut -f1) (7744 × 5164) → three WebP copies"
  echo "image-worker idle RSS: $(awk '/VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$worker_pid/status")"
  user=$(psql -tA "$DATABASE_URL" -c "SELECT id FROM users WHERE email = 'files-bench@example.com'")
  for round in 1 2 3; do
    file=$(python3 -c 'import uuid, time, os; t = int(time.time() * 1000); b = t.to_bytes(6, "big") + os.urandom(10); b = bytearray(b); b[6] = 0x70 | (b[6] & 0x0F); b[8] = 0x80 | (b[8] & 0x3F); print(uuid.UUID(bytes=bytes(b)))')
    object="files/$file/original"
    curl -sf -X POST "$STORAGE_EMULATOR_HOST/upload/storage/v1/b/$STORAGE_BUCKET/o?uploadType=media&name=$object" \
      -H 'content-type: image/jpeg' --data-binary "@$SERVICES_DIR/40mp.jpg" >/dev/null
    psql -q "$DATABASE_URL" -c "INSERT INTO files (id, user_id, kind, content_type, size, object, status)
      VALUES ('$file', '$user', 'profile', 'image/jpeg', $(stat -c %s "$SERVICES_DIR/40mp.jpg"), '$object', 'processing')"
    payload=$(printf '{"version":1,"kind":"profile","file_id":"%s","bucket":"%s","object":"%s"}' "$file" "$STORAGE_BUCKET" "$object" | base64 -w0)
    started=$(date +%s%N)
    status=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$worker_port/push/image-resize" \
      -H 'content-type: application/json' -d "{\"message\":{\"data\":\"$payload\",\"messageId\":\"bench-$round\"},\"subscription\":\"bench\"}")
    took=$(( ($(date +%s%N) - started) / 1000000 ))
    echo "round $round: $status in $took ms, file $(psql -tA "$DATABASE_URL" -c "SELECT status FROM files WHERE id = '$file'")"
  done
  echo "image-worker peak RSS: $(awk '/VmHWM/ {printf "%.0f MiB", $2/1024}' "/proc/$worker_pid/status")"
fi
