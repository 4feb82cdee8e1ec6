#!/bin/sh
# The linker rustc calls for Linux binaries (.cargo/config.toml): `cc`, and for release builds
# linked by lld the functions a start runs (scripts/start-symbols.txt, made by
# scripts/start-symbols.sh) placed together at the front of .text. A function's code is mapped
# in 64 KiB runs as it first runs; spread over the whole binary, the start alone mapped 86 of
# auth's 98 runs (docs/BENCHMARKS.md, "Memory at start"). The list names functions demangled
# (v0 mangling, `-C symbol-mangling-version=v0`): a mangled name carries hashes of its build's
# features and versions, so each link matches the list against its own objects' symbols.
# A stale or missing name costs nothing but its place.
set -eu
list="$(dirname "$0")/start-symbols.txt"
out="" previous="" objects="" lld=""
for arg in "$@"; do
  [ "$previous" = "-o" ] && out=$arg
  case "$arg" in
    -fuse-ld=lld) lld=1 ;;
    *.o | *.a | *.rlib) objects="$objects $arg" ;;
  esac
  previous=$arg
done
case "$out" in */release/deps/*) ;; *) exec cc "$@" ;; esac
[ -n "$lld" ] && [ -s "$list" ] || exec cc "$@"

order="$out.start-order"
# shellcheck disable=SC2086
for object in $objects; do
  # Two listings of the same symbols in the same order: demangled, then as the linker knows them.
  # (An .rlib's metadata member is not an object: nm skips it in both.)
  nm -C --defined-only --format=just-symbols "$object" 2>/dev/null >"$order.demangled" || true
  nm --defined-only --format=just-symbols "$object" 2>/dev/null >"$order.mangled" || true
  paste -d '\t' "$order.demangled" "$order.mangled"
done | awk -F '\t' 'NR == FNR { wanted[$0] = 1; next } ($1 in wanted) && !seen[$2]++ { print $2 }' "$list" - >"$order"
rm -f "$order.demangled" "$order.mangled"
exec cc "$@" "-Wl,--symbol-ordering-file=$order" -Wl,--no-warn-symbol-ordering
