// Switch round trip (main -> fiber -> main) in µs, with `parked` other fibers suspended (each adds
// two memory mappings, which glibc's main-thread pthread_getattr_np walks):
//   node scripts/bench-switch.js [parked=0] [rounds=200000]
'use strict';
const { Fiber } = require(process.env.GREENFIBER || '..');
const parked = Number(process.argv[2] ?? 0);
const rounds = Number(process.argv[3] ?? 200000);
const keep = [];
for (let i = 0; i < parked; i++) {
  const f = new Fiber(() => { Fiber.main.switch(); });
  f.switch();
  keep.push(f);
}
const ping = new Fiber(() => { for (;;) Fiber.main.switch(); });
const runs = [];
for (let r = 0; r < 5; r++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) ping.switch();
  runs.push(Number(process.hrtime.bigint() - t0) / 1000 / rounds);
}
runs.sort((a, b) => a - b);
console.log(JSON.stringify({ node: process.version, parked, roundTripUs: +runs[2].toFixed(3), runs: runs.map((x) => +x.toFixed(3)) }));
