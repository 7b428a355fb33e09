// Patched IO: 100 greenlets each calling a patched readFileSync (and execSync) beside the
// async/await way (fs.promises / promisified exec from 100 async functions) and beside running
// the same calls one after another, unpatched. Prints one JSON line per measurement (bench/run.mjs).
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const require = createRequire(import.meta.url);
const fs = require('node:fs');
const cp = require('node:child_process');
const { spawn, joinAll, main } = require('../dist/entries/index.js');
const monkey = require('../dist/entries/monkey.js');
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const N = 100;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const emit = (group, name, runs, unit) => console.log(JSON.stringify({ group, name, value: median(runs), unit, runs }));
const ms = (start) => Number(process.hrtime.bigint() - start) / 1e6;

const dir = mkdtempSync(join(tmpdir(), 'gf-bench-io-'));
const files = Array.from({ length: N }, (_, i) => {
  const file = join(dir, `f${i}`);
  writeFileSync(file, Buffer.alloc(64 * 1024, i));
  return file;
});

async function measure(group, cases) {
  const results = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const [name, fn] of Object.entries(cases)) {
      const start = process.hrtime.bigint();
      await fn();
      results[name].push(ms(start));
    }
  }
  for (const [name, runs] of Object.entries(results)) emit(group, name, runs, 'ms');
}

monkey.patchAll();
const execAsync = promisify(cp.exec);
await measure(`readFileSync of 64 KiB x ${N}`, {
  'async/await': () => Promise.all(files.map((file) => fs.promises.readFile(file))),
  'patched, 100 greenlets': () => main(() => joinAll(files.map((file) => spawn(() => fs.readFileSync(file))))),
  'unpatched, sequential': () => {
    for (const file of files) fs.readFileSync(file);
  },
});
await measure('execSync("sleep 0.05") x 20', {
  'async/await': () => Promise.all(Array.from({ length: 20 }, () => execAsync('sleep 0.05'))),
  'patched, 20 greenlets': () => main(() => joinAll(Array.from({ length: 20 }, () => spawn(() => cp.execSync('sleep 0.05'))))),
  'unpatched, sequential': () => {
    for (let i = 0; i < 20; i++) cp.execSync('sleep 0.05');
  },
});
rmSync(dir, { recursive: true });
