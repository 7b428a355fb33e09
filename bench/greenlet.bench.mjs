// Greenlets against async/await, in the same run: spawn + join of 10k and 100k greenlets, and
// 10k greenlets sleeping 500 ms at once (wall time and peak RSS; each of those runs gets a fresh
// process of this script, so that peak RSS means something). Prints one JSON line per
// measurement: {"group", "name", "value", "unit", "runs"}; the value is the median of the runs.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fiberStats, joinAll, main, sleep, spawn } from '../dist/entries/index.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
const now = () => performance.now();
const emit = (group, name, unit, runs) => console.log(JSON.stringify({ group, name, value: +median(runs).toFixed(3), unit, runs: runs.map((v) => +v.toFixed(3)) }));
const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

function greenletSpawnJoin(n) {
  return main(() => {
    const start = now();
    const greenlets = new Array(n);
    for (let i = 0; i < n; i++) greenlets[i] = spawn(() => i);
    joinAll(greenlets);
    return ((now() - start) * 1000) / n;
  });
}

async function asyncSpawnJoin(n) {
  const start = now();
  const tasks = new Array(n);
  for (let i = 0; i < n; i++) tasks[i] = (async () => i)();
  await Promise.all(tasks);
  return ((now() - start) * 1000) / n;
}

/** Child mode: one sleepers run in this fresh process; prints {wall, rss} (peak RSS in MB). */
async function sleepersChild(kind, n, ms) {
  const start = now();
  if (kind === 'greenfiber') {
    await main(() => {
      const greenlets = new Array(n);
      for (let i = 0; i < n; i++) greenlets[i] = spawn(() => sleep(ms));
      joinAll(greenlets);
    });
  } else {
    const tasks = new Array(n);
    for (let i = 0; i < n; i++) tasks[i] = (async () => new Promise((resolve) => setTimeout(resolve, ms)))();
    await Promise.all(tasks);
  }
  const wall = now() - start;
  console.log(JSON.stringify({ wall, rss: process.resourceUsage().maxRSS / 1024 }));
}

function sleepersRun(kind) {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--sleepers', kind], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`sleepers child (${kind}) failed: ${child.stderr}`);
  return JSON.parse(child.stdout);
}

if (process.argv[2] === '--sleepers') {
  await sleepersChild(process.argv[3], 10_000, 500);
  process.exit(0);
}

for (const n of [10_000, 100_000]) {
  const group = `spawn+join ${n / 1000}k`;
  const green = [];
  const baseline = [];
  await greenletSpawnJoin(1000); // warm up the JIT and the thread pool
  await asyncSpawnJoin(1000);
  for (let run = 0; run < RUNS; run++) {
    green.push(await greenletSpawnJoin(n));
    await settle();
    baseline.push(await asyncSpawnJoin(n));
    await settle();
  }
  emit(group, 'greenfiber', 'µs/op', green);
  emit(group, 'async/await', 'µs/op', baseline);
}

{
  const group = '10k sleepers 500 ms';
  const green = { wall: [], rss: [] };
  const baseline = { wall: [], rss: [] };
  for (let run = 0; run < RUNS; run++) {
    const a = sleepersRun('async/await');
    baseline.wall.push(a.wall);
    baseline.rss.push(a.rss);
    const g = sleepersRun('greenfiber');
    green.wall.push(g.wall);
    green.rss.push(g.rss);
  }
  emit(`${group} (wall)`, 'greenfiber', 'ms', green.wall);
  emit(`${group} (wall)`, 'async/await', 'ms', baseline.wall);
  emit(`${group} (peak RSS)`, 'greenfiber', 'MB', green.rss);
  emit(`${group} (peak RSS)`, 'async/await', 'MB', baseline.rss);
}

if (fiberStats().started !== 0) {
  console.error(`greenlet.bench: ${fiberStats().started} fibers left running`);
  process.exitCode = 1;
}
