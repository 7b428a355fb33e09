// CPU time of one wait() on a promise, against `await` of the same promise: 100 workers each wait
// for `rounds` promises that settle on the next loop turn (setImmediate). Prints the median µs of
// CPU per wait over 7 runs, after 2 warm-up runs; compare the two styles in the same minute.
//   node scripts/bench-wait.js <green|async> [rounds=200]
'use strict';
const gf = require(process.env.GREENFIBER || '..');
const style = process.argv[2];
const rounds = Number(process.argv[3] ?? 200);
const workers = 100;
const tick = () => new Promise((resolve) => setImmediate(resolve));

function green() {
  const greenlets = Array.from({ length: workers }, () => gf.spawn(() => {
    for (let i = 0; i < rounds; i++) gf.wait(tick());
  }));
  gf.joinAll(greenlets, { raiseError: true });
}

async function asyncStyle() {
  await Promise.all(Array.from({ length: workers }, async () => {
    for (let i = 0; i < rounds; i++) await tick();
  }));
}

if (style !== 'green' && style !== 'async') throw new Error('usage: node scripts/bench-wait.js <green|async> [rounds]');
gf.main(() => {
  const run = style === 'async' ? () => gf.wait(asyncStyle()) : green;
  run();
  run();
  const perWait = [];
  for (let r = 0; r < 7; r++) {
    const before = process.cpuUsage();
    run();
    const used = process.cpuUsage(before);
    perWait.push((used.user + used.system) / (workers * rounds));
  }
  perWait.sort((a, b) => a - b);
  console.log(JSON.stringify({ node: process.version, style, cpuUsPerWait: +perWait[3].toFixed(2), runs: perWait.map((x) => +x.toFixed(2)) }));
}).then(() => process.exit(0));
