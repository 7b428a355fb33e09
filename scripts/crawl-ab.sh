#!/usr/bin/env bash
# Alternates async/await and greenfiber runs of the crawl sweep's child (bench/crawl-sweep-child.mjs),
# each in a fresh process, against one page server, and prints the median pages/s of each and their
# ratio: a quicker, more repeatable look at one crawl sweep cell than `npm run bench`.
#   scripts/crawl-ab.sh [runs=5] [concurrency=100] [pages=4000]
# GREENFIBER_BACKEND picks the greenfiber backend as usual. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
concurrency=${2:-100}
pages=${3:-4000}
out=$(mktemp)
server=$(mktemp)
node bench/page-server.mjs > "$server" &
server_pid=$!
trap 'kill $server_pid 2>/dev/null; rm -f "$out" "$server"' EXIT
for _ in $(seq 50); do [ -s "$server" ] && break; sleep 0.1; done
base=$(head -1 "$server")
for _ in $(seq "$runs"); do
  for style in async green; do
    echo "$style $(node bench/crawl-sweep-child.mjs "$style" "$base" "$concurrency" "$pages")" >> "$out"
  done
done
node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
const by = { async: [], green: [] };
for (const line of lines) { const [style, json] = [line.slice(0, line.indexOf(" ")), line.slice(line.indexOf(" ") + 1)]; by[style].push(JSON.parse(json).pagesPerSecond); }
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const a = median(by.async), g = median(by.green);
console.log(JSON.stringify({ concurrency: +process.argv[2], pages: +process.argv[3], asyncPagesPerSecond: Math.round(a), greenPagesPerSecond: Math.round(g), ratio: +(g / a).toFixed(3), async: by.async.map(Math.round), green: by.green.map(Math.round) }));
' "$out" "$concurrency" "$pages"
