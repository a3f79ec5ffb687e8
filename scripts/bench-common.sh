# Sourced by the lab benchmarks (bench-verify-star.sh, bench-grid.sh): bench_setup TAG BINARY
# sets nslab (BINARY, or this tree's release build, built first), lab and prefix (TAG and the
# shell's pid), file (a temporary topology) and out (a temporary output file), and removes them
# all on exit, the lab destroyed whatever happened. Sourcing it sets -euo pipefail and goes to the
# repository's top.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bench_setup() {
  local tag=$1
  nslab=$2
  if [[ -z "$nslab" ]]; then
    swift build -c release >/dev/null
    nslab="$(swift build -c release --show-bin-path)/nslab"
  fi
  lab="$tag$$"
  prefix="$tag$$-"
  file=$(mktemp --suffix=.yaml)
  out=$(mktemp)
  trap '"$nslab" destroy "$lab" >/dev/null 2>&1 || true; rm -f "$file" "$out" "$out.time"' EXIT
}
