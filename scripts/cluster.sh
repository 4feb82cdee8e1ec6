#!/usr/bin/env bash
# Scale-out in small (docs/RELIABILITY.md, "Scale-out"): N instances of every service function
# of functions.json, each its own process on its own port, behind an nginx (Debian's package)
# configured with the production URL map (scripts/cluster/nginx.py, from functions.json as
# infra/lb.tf), all on one PostgreSQL and one Redis.
#   ./scripts/cluster.sh [run]       start the cluster and wait (Ctrl-C stops everything)
#   ./scripts/cluster.sh check       pass/fail (scripts/cluster/check.py): limits global across
#                                    instances, a logout or suspension refused by every instance
#                                    at once, writes read (and caches renewed) through another
#   ./scripts/cluster.sh throughput  GET /emotions/{id} through nginx with 1, 2, 4 and 6
#                                    instances of each function, each held to INSTANCE_CPU cores
#                                    (0.25) by a CPU cgroup as Cloud Run holds an instance to its
#                                    vCPU, PostgreSQL to DATABASE_CPU (0.4) as its machine size
#                                    does, beside pgbench -S; where the cores went
#                                    (scripts/cluster/cpu.py). Needs root (cgroups). Passes when
#                                    2 instances answer 1.5x what 1 does and, at the most,
#                                    PostgreSQL is what holds back (scripts/cluster/growth.py).
# Environment: N (2 instances), PROFILE (debug; `release` for real speed: throughput always
# builds release), INSTANCE_CPU, DATABASE_CPU, INSTANCES ("1 2 4 6").
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/services.sh
source scripts/services.sh
pids=()
cgroups=()          # every CPU cgroup made, removed at exit
instance_cgroups=() # the running instances'
cleanup() {
  [ ${#pids[@]} -eq 0 ] || { kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; }
  if [ -n "$SERVICES_DIR" ] && [ -f "$SERVICES_DIR/nginx/nginx.pid" ]; then
    kill "$(cat "$SERVICES_DIR/nginx/nginx.pid")" 2>/dev/null || true
  fi
  stop_services
  [ ${#cgroups[@]} -eq 0 ] || rmdir "${cgroups[@]}" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

what="${1:-run}"
profile="${PROFILE:-debug}"
[ "$what" = throughput ] && profile=release
[ -x /usr/sbin/nginx ] || apt_install nginx
command -v curl >/dev/null || apt_install curl

functions=$(python3 -c 'import json; print(" ".join(f["name"] for f in json.load(open("functions.json"))["functions"] if f["kind"] == "service"))')
log "building ($profile): migrate $functions"
# shellcheck disable=SC2046
cargo build --quiet $([ "$profile" = release ] && echo --release) $(printf -- '-p %s ' migrate $functions)
bin="${CARGO_TARGET_DIR:-target}/$profile"

# Its own servers only (test.sh runs it with the emulators' variables set).
unset DATABASE_URL REDIS_URL PUBSUB_EMULATOR_HOST PUBSUB_PROJECT_ID STORAGE_EMULATOR_HOST STORAGE_BUCKET \
  OIDC_PROVIDER_URL TEST_LOG_DIR
start_postgres
start_redis
services_dir
"$bin/migrate" >/dev/null
export APP_ENV=development LOG_LEVEL=warn RUST_LOG=warn
export EMAIL_OUTBOX_DIR="$SERVICES_DIR/outbox" STORAGE_DIR="$SERVICES_DIR/files"
# nginx appends the address it received each request from: the client is the first hop.
export TRUSTED_PROXY_HOPS=1
mkdir -p "$SERVICES_DIR/logs" "$SERVICES_DIR/nginx"

# Where this run's CPU cgroups go (v2 or v1): $cgroup_dir/mindpause-NAME.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then cgroup_dir=/sys/fs/cgroup; else cgroup_dir=/sys/fs/cgroup/cpu; fi
# A CPU cgroup named $1 allowed $2 cores, with the processes $3... in it; prints its directory.
# Every step is checked: called as `x=$(cpu_cgroup …) || die`, `set -e` does not apply inside.
cpu_cgroup() {
  local dir="$cgroup_dir/mindpause-$1" quota pid
  quota=$(awk -v cores="$2" 'BEGIN { printf "%d", cores * 100000 }')
  if [ "$cgroup_dir" = /sys/fs/cgroup ]; then
    grep -qw cpu "$cgroup_dir/cgroup.subtree_control" || echo +cpu >"$cgroup_dir/cgroup.subtree_control" || return 1
    mkdir -p "$dir" && echo "$quota 100000" >"$dir/cpu.max" || return 1
    [ "$(cut -d' ' -f1 "$dir/cpu.max")" = "$quota" ] || return 1
  else
    mkdir -p "$dir" && echo 100000 >"$dir/cpu.cfs_period_us" && echo "$quota" >"$dir/cpu.cfs_quota_us" || return 1
    [ "$(cat "$dir/cpu.cfs_quota_us")" = "$quota" ] || return 1
  fi
  for pid in "${@:3}"; do echo "$pid" >"$dir/cgroup.procs" || return 1; done
  echo "$dir"
}

# Starts $2 instances of every function (extra environment in the rest) and nginx in front,
# each instance in a CPU cgroup of its own when INSTANCE_CPU is set; writes
# $SERVICES_DIR/instances.json ({function: [port, ...]}) and sets $base.
start_cluster() {
  local n=$1 instances="{" name i port cgroup=""
  shift
  for name in $functions; do
    instances+="\"$name\": ["
    for i in $(seq "$n"); do
      port=$(free_port)
      if [ -n "${INSTANCE_CPU:-}" ]; then
        cgroup=$(cpu_cgroup "$name-$i" "$INSTANCE_CPU") || die "no CPU cgroup (needs root and a cgroup file system)"
        instance_cgroups+=("$cgroup")
        cgroups+=("$cgroup")
      fi
      # The shell joins the cgroup (if any) and becomes the instance, so every thread is in it.
      sh -c '[ -z "$0" ] || echo $$ >"$0/cgroup.procs"; exec "$@"' "$cgroup" \
        env PORT="$port" HOST=127.0.0.1 "$@" "$bin/$name" >"$SERVICES_DIR/logs/$name-$i.log" 2>&1 &
      pids+=("$!")
      instances+="$port"; [ "$i" = "$n" ] || instances+=", "
    done
    instances+="], "
  done
  echo "${instances%, }}" >"$SERVICES_DIR/instances.json"
}

wait_for_cluster() {
  local port
  for port in $(python3 -c 'import json,sys; print(" ".join(str(p) for v in json.load(open(sys.argv[1])).values() for p in v))' "$SERVICES_DIR/instances.json"); do
    wait_for_port 127.0.0.1 "$port" 60 || { tail -n 20 "$SERVICES_DIR"/logs/*.log >&2; die "an instance on $port did not start"; }
  done
  local nginx_port
  nginx_port=$(free_port)
  python3 scripts/cluster/nginx.py functions.json "$SERVICES_DIR/instances.json" "$nginx_port" "$SERVICES_DIR/nginx" \
    >"$SERVICES_DIR/nginx/nginx.conf"
  /usr/sbin/nginx -q -p "$SERVICES_DIR/nginx" -c "$SERVICES_DIR/nginx/nginx.conf" -g 'error_log stderr warn;'
  wait_for_port 127.0.0.1 "$nginx_port" 10 || die "nginx did not start"
  base="http://127.0.0.1:$nginx_port"
}

stop_cluster() {
  kill "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
  pids=()
  [ ${#instance_cgroups[@]} -eq 0 ] || rmdir "${instance_cgroups[@]}"
  instance_cgroups=()
  kill "$(cat "$SERVICES_DIR/nginx/nginx.pid")" 2>/dev/null || true
  sleep 0.5
}

n="${N:-2}"
case "$what" in
  run)
    start_cluster "$n"
    wait_for_cluster
    log "MindPause on $base: $n instances of each of $functions (logs: $SERVICES_DIR/logs)"
    wait "${pids[0]}"
    ;;
  check)
    # Limits small enough to reach: 5 logins per address and email, 30 requests per person.
    start_cluster "$n" RATE_LIMIT_LOGIN=5/15minute RATE_LIMIT_GENERAL=30/15minute
    wait_for_cluster
    log "checking $n instances of each function behind nginx ($base)"
    python3 scripts/cluster/check.py "$base" "$SERVICES_DIR/instances.json" "$DATABASE_URL"
    ;;
  throughput)
    command -v wrk >/dev/null || apt_install wrk
    # Each instance one worker thread and a pool of 4, as deployed, held to INSTANCE_CPU cores
    # as Cloud Run holds it to its vCPU; PostgreSQL (every process of this server) held to
    # DATABASE_CPU cores as a Cloud SQL machine is, so that it, not the 2 cores shared by
    # everything here, is what saturates.
    export INSTANCE_CPU="${INSTANCE_CPU:-0.25}"
    database_cpu="${DATABASE_CPU:-0.4}"
    postmaster=$(head -n 1 "$STARTED_PG/data/postmaster.pid")
    # shellcheck disable=SC2046
    database_cgroup=$(cpu_cgroup postgres "$database_cpu" "$postmaster" $(pgrep -P "$postmaster")) \
      || die "no CPU cgroup (needs root and a cgroup file system)"
    cgroups+=("$database_cgroup")
    limits=(RATE_LIMIT_GENERAL=100000000/15minute TOKIO_WORKER_THREADS=1 DATABASE_POOL_SIZE=4 DATABASE_MAX_OVERFLOW=0)
    echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -r); cores: $INSTANCE_CPU per instance, $database_cpu for PostgreSQL"
    held=("emotions=$cgroup_dir/mindpause-emotions-*" "postgres=$cgroup_dir/mindpause-postgres")
    start_cluster 1 "${limits[@]}"
    wait_for_cluster
    register=$(curl -sf -X POST "$base/api/v1/auth/register" -H 'content-type: application/json' \
      -d '{"email":"cluster@example.com","password":"cluster password","nickname":"클러스터"}')
    token=$(echo "$register" | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["tokens"]["access_token"])')
    id=$(curl -sf -X POST "$base/api/v1/emotions" -H 'content-type: application/json' -H "Authorization: Bearer $token" \
      -d '{"emotion":"calm","intensity":3,"note":"한 줄"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["id"])')
    pgbench -q -i -s 10 "$DATABASE_URL" >/dev/null 2>&1
    running=1
    # Alternating rounds: this VM's speed drifts within minutes.
    for round in 1 2 3; do
      for instances in ${INSTANCES:-1 2 4 6}; do
        if [ "$instances" != "$running" ]; then
          stop_cluster
          start_cluster "$instances" "${limits[@]}"
          wait_for_cluster
          running=$instances
        fi
        wrk -t2 -c64 -d10s --latency -H "Authorization: Bearer $token" "$base/api/v1/emotions/$id" >"$SERVICES_DIR/wrk.out" &
        sleep 1
        cores=$(python3 scripts/cluster/cpu.py 8 emotions postgres nginx redis-server wrk "${held[@]}")
        wait "$!"
        # Only answers count: errors (a saturated database's 503s) are no throughput.
        ! grep -q "Non-2xx" "$SERVICES_DIR/wrk.out" || { cat "$SERVICES_DIR/wrk.out" >&2; die "answers other than 2xx"; }
        rps=$(awk '/Requests\/sec/ {print $2} / 99%/ {p99=$2} END {print p99}' "$SERVICES_DIR/wrk.out" | paste -sd' ')
        echo "round $round: $instances instance(s) of each function: $rps (requests/s, p99); cores: $cores" \
          | tee -a "$SERVICES_DIR/rounds.txt"
      done
      # Prepared statements and 16 connections, as the instances use them (sqlx, pools of 4).
      pgbench -n -S -M prepared -c 16 -j 2 -T 10 "$DATABASE_URL" >"$SERVICES_DIR/pgbench.out" 2>/dev/null &
      sleep 1
      cores=$(python3 scripts/cluster/cpu.py 8 postgres pgbench "${held[1]}")
      wait "$!"
      echo "round $round: pgbench -S -M prepared (16 clients): $(awk '/^tps/ {print $3}' "$SERVICES_DIR/pgbench.out") TPS; cores: $cores"
    done
    python3 scripts/cluster/growth.py <"$SERVICES_DIR/rounds.txt"
    ;;
  *) die "unknown part: $what" ;;
esac
