#!/usr/bin/env bash
# Times `manoctl validate` (all levels) over 1,000 descriptor files: the
# corpus VNFDs and NSDs (../shared/corpus), copied round-robin into a
# temporary directory. Uses hyperfine when installed, bash's time
# otherwise. Run from the module root:
#
#   testdata/validate/bench-1000.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
corpus=../shared/corpus
[ -d "$corpus" ] || { echo "bench-1000: $corpus not found" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/manoctl" ./cmd/manoctl

# VNFDs and NSDs only: files with a vendor and either VDUs or network
# functions, records and wrappers left out.
mapfile -t files < <(grep -rlE '^(virtual_deployment_units|network_functions):' --include='*.yml' "$corpus" | xargs grep -l '^vendor:' | sort)
mkdir "$work/d"
for i in $(seq 0 999); do
  cp "${files[$((i % ${#files[@]}))]}" "$work/d/d$(printf %04d "$i").yml"
done
echo "bench-1000: ${#files[@]} distinct corpus descriptors, 1000 files, $(nproc) cores" >&2

if command -v hyperfine >/dev/null 2>&1; then
  hyperfine --warmup 2 -N -i "$work/manoctl validate $work/d"
else
  "$work/manoctl" validate "$work/d" >/dev/null 2>&1 || true # warm the page cache
  for _ in 1 2 3; do
    ( time "$work/manoctl" validate "$work/d" >/dev/null 2>&1 ) 2>&1 | grep real || true
  done
fi
