#!/usr/bin/env bash
# Benchmark: a generated ROWS×ROWS grid with `routing: static` (every node a router; static
# routes along shortest paths, merged per next hop, written into the file by nslab generate),
# through its whole life: generate, deploy, verify --sample, converge with nothing to change,
# destroy. Wall time and peak memory (maximum resident set) of each command from
# /usr/bin/time -v, the generated file's size, and the routes the kernel holds (gateway routes in
# the main tables of up to 100 of the nodes).
#
# Usage (as root; labs of 1,000 nodes and more hold the bench lock):
#   flock /tmp/nslab-bench.lock scripts/bench-grid.sh [ROWS] [NSLAB]
# ROWS: default 30 (900 nodes); 100 is the 10,000-node grid. NSLAB: the binary to measure
# (default: this tree's release build, built first). SAMPLE (default 3): destinations per node
# for verify. TAG (default bgr): the start of the lab's and its namespaces' names. TTL: written
# into the file as `ttl:` (e.g. 64 to deploy a grid wider than 33×33 without raising its nodes'
# TTL, to see what that costs). The lab is destroyed at the end, whatever happens.
source "$(dirname "$0")/bench-common.sh"
rows=${1:-30}
sample=${SAMPLE:-3}
bench_setup "${TAG:-bgr}" "${2:-}"

# One command: "STEP: S s, M MiB (exit E)" from /usr/bin/time -v.
measure() {
  local step=$1
  shift
  local status=0
  /usr/bin/time -v -o "$out.time" "$@" >"$out" 2>&1 || status=$?
  local wall rss
  wall=$(grep 'Elapsed (wall clock)' "$out.time" | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' "$out.time" | awk '{print $NF}')
  echo "$step: $wall (m:ss), $((rss / 1024)) MiB (exit $status)"
  grep -v '^…' "$out" | grep -E 'probes|pairs|^(PASS|FAIL)|deployed|matches|destroyed|^Error|error:' | head -8 || true
}

echo "== ${rows}x${rows} grid, routing: static: $nslab"
measure generate "$nslab" generate grid --rows "$rows" --columns "$rows" --name "$lab" --prefix "$prefix" -o "$file" --force
if [[ -n "${TTL:-}" ]]; then sed -i "0,/^nodes:/s//ttl: $TTL\nnodes:/" "$file"; fi
echo "file: $(stat -c %s "$file") bytes, $(grep -o ' via ' "$file" | wc -l) routes written"
measure deploy "$nslab" deploy -q "$file"
# The kernel's routes, counted with one `ip` per namespace: in at most 100 of them, evenly
# spread (10,000 took 20 minutes, holding the big lab's neighbour entries all that time).
namespaces=$(ip netns list | awk '{print $1}' | grep "^$prefix" || true)
total=$(echo "$namespaces" | grep -c . || true)
step=$(( (total + 99) / 100 ))
routes=0
counted=0
for namespace in $(echo "$namespaces" | awk -v step="$step" 'NR % step == 0'); do
  routes=$((routes + $(ip -n "$namespace" route show | grep -c ' via ' || true)))
  counted=$((counted + 1))
done
echo "kernel: $routes gateway routes in $counted of the lab's $total namespaces"
measure "verify --sample $sample" "$nslab" verify "$lab" --sample "$sample" --seed 1
measure "converge (unchanged)" "$nslab" deploy -q "$file"
measure destroy "$nslab" destroy "$lab"
