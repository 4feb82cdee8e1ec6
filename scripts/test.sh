#!/usr/bin/env bash
# The second README command: start throwaway PostgreSQL, Redis, the storage emulator, an
# OpenID provider and (when installed) the Pub/Sub emulator, install schemathesis, run every
# test of the workspace against them (their logs searched for secrets afterwards), stop what
# was started; then the cluster checks (two instances of every function behind nginx).
# Extra arguments go to the test runner, e.g. `./scripts/test.sh -p shared edge`.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/services.sh
source scripts/services.sh
trap stop_services EXIT
trap 'exit 130' INT TERM

command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
command -v python3 >/dev/null || apt_install python3

unset REDIS_URL PUBSUB_EMULATOR_HOST STORAGE_EMULATOR_HOST STORAGE_BUCKET OIDC_PROVIDER_URL SCHEMATHESIS
start_postgres
start_redis
start_pubsub_emulator
start_storage_emulator
start_oidc_provider
install_schemathesis
export APP_ENV=test
export RUST_LOG="${RUST_LOG:-warn}"

# Without arguments: every test of the workspace. With arguments (e.g. `-p shared --test edge`)
# they select what runs.
args=("$@")
[ ${#args[@]} -gt 0 ] || args=(--workspace)
status=0
if cargo nextest --version >/dev/null 2>&1; then
  # Every test process (nextest runs each test in its own) and every server the tests start
  # logs from DEBUG up here; the logs are searched afterwards for tokens, passwords, email
  # addresses and anyone's words.
  export TEST_LOG_DIR="$PWD/target/test-logs"
  rm -rf "$TEST_LOG_DIR" && mkdir -p "$TEST_LOG_DIR"
  log "cargo nextest run --all-features ${args[*]}"
  cargo nextest run --all-features --no-fail-fast --failure-output final "${args[@]}" || status=$?
  log "searching the tests' logs ($TEST_LOG_DIR) for secrets and personal data"
  ./scripts/scan-test-logs.sh "$TEST_LOG_DIR" || status=1
else
  # One process per test binary: a test's logging setup (Sentry's) could meet another's, so
  # the logs are not recorded (install cargo-nextest for the scan).
  log "WARNING: cargo-nextest is not installed: the tests' logs are not scanned"
  log "cargo test --all-features ${args[*]}"
  cargo test --all-features --no-fail-fast "${args[@]}" || status=$?
fi
if [ $# -eq 0 ]; then
  # Every function as two instances behind nginx, on a PostgreSQL and Redis of its own: limits,
  # logouts, suspensions and caches hold across instances (docs/RELIABILITY.md, "Scale-out").
  log "the cluster checks (scripts/cluster.sh check)"
  ./scripts/cluster.sh check || status=1
fi
exit "$status"
