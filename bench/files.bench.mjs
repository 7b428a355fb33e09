// Reading 10,000 small files, in the same run: 100 greenlets calling patched readFileSync,
// fs.promises.readFile with 100 at once, and plain sequential readFileSync (unpatched: outside
// greenlets the original runs). Files per second, medians (see bench/run.mjs). The page cache is
// warm for every variant.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { main, spawn, joinAll } = require('../dist/entries/index.js');
const { patchAll } = require('../dist/entries/monkey.js');
const fs = require('node:fs');

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const FILES = 10_000;
const CONCURRENCY = 100;
const GROUP = `read ${FILES.toLocaleString('en')} files of 1 KB, ${CONCURRENCY} at once`;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const emit = (name, runs) => console.log(JSON.stringify({ group: GROUP, name, value: Math.round(median(runs)), unit: 'files/s', runs: runs.map(Math.round) }));

const dir = mkdtempSync(join(tmpdir(), 'greenfiber-files-bench-'));
const paths = [];
for (let i = 0; i < FILES; i++) {
  const sub = join(dir, String(i % 100));
  if (i < 100) mkdirSync(sub);
  const path = join(sub, `${i}.txt`);
  writeFileSync(path, `file ${i}\n`.padEnd(1024, "."));
  paths.push(path);
}

patchAll();

function greenfiber() {
  return main(() => {
    const started = performance.now();
    let bytes = 0;
    const workers = [];
    for (let w = 0; w < CONCURRENCY; w++) {
      workers.push(
        spawn(() => {
          for (let i = w; i < FILES; i += CONCURRENCY) {
            const data = fs.readFileSync(paths[i]); // patched: parks this greenlet only
            bytes += data.length;
          }
        }),
      );
    }
    joinAll(workers, { raiseError: true });
    if (bytes !== FILES * 1024) throw new Error(`read ${bytes} bytes`);
    return FILES / ((performance.now() - started) / 1000);
  });
}

async function promises() {
  const started = performance.now();
  let bytes = 0;
  const workers = [];
  for (let w = 0; w < CONCURRENCY; w++) {
    workers.push(
      (async () => {
        for (let i = w; i < FILES; i += CONCURRENCY) {
          const data = await readFile(paths[i]);
          bytes += data.length;
        }
      })(),
    );
  }
  await Promise.all(workers);
  if (bytes !== FILES * 1024) throw new Error(`read ${bytes} bytes`);
  return FILES / ((performance.now() - started) / 1000);
}

function sequential() {
  const started = performance.now();
  let bytes = 0;
  for (let i = 0; i < FILES; i++) bytes += readFileSync(paths[i]).length; // outside greenlets: the original
  if (bytes !== FILES * 1024) throw new Error(`read ${bytes} bytes`);
  return FILES / ((performance.now() - started) / 1000);
}

try {
  const runs = { green: [], promises: [], sequential: [] };
  await greenfiber(); // warm up (and warm the page cache)
  await promises();
  sequential();
  for (let run = 0; run < RUNS; run++) {
    runs.green.push(await greenfiber());
    runs.promises.push(await promises());
    runs.sequential.push(sequential());
  }
  emit('greenfiber: 100 greenlets, patched readFileSync', runs.green);
  emit('async/await', runs.promises);
  emit('readFileSync, sequential, unpatched', runs.sequential);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
