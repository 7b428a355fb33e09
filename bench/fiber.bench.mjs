// Fiber core benchmarks: switch round trip and create + finish, each beside its async/await
// baseline measured in the same process; memory of parked fibers; the hand-off strategies.
// Prints one JSON line per measurement (see bench/run.mjs).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { Fiber, fiberStats } = require('../dist/entries/fiber.js');
const self = fileURLToPath(import.meta.url);
const RUNS = Number(process.env.BENCH_RUNS ?? 7);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const now = () => process.hrtime.bigint();
const us = (start, ops) => Number(now() - start) / 1000 / ops;
const rssMb = () => (Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096) / 1048576;
const emit = (group, name, runs, unit) => console.log(JSON.stringify({ group, name, value: median(runs), unit, runs }));

function fiberRoundTrip(ops) {
  const main = Fiber.current;
  const f = new Fiber(() => {
    for (;;) main.switch();
  });
  f.switch();
  f.switch(); // warm
  const start = now();
  for (let i = 0; i < ops; i++) f.switch();
  const result = us(start, ops);
  f.throw();
  return result;
}

async function asyncRoundTrip(ops) {
  // Two async functions handing a value back and forth through promise resolvers.
  let toPong;
  let toPing;
  const pong = (async () => {
    for (let i = 0; i < ops; i++) {
      const value = await new Promise((resolve) => (toPong = resolve));
      toPing(value);
    }
  })();
  await null;
  const start = now();
  for (let i = 0; i < ops; i++) {
    const back = new Promise((resolve) => (toPing = resolve));
    toPong(i);
    await back;
  }
  const result = us(start, ops);
  await pong;
  return result;
}

function fiberCreate(ops) {
  const start = now();
  for (let i = 0; i < ops; i++) new Fiber(() => i).switch();
  return us(start, ops);
}

async function promiseCreate(ops) {
  const start = now();
  for (let i = 0; i < ops; i++) await new Promise((resolve) => resolve(i));
  return us(start, ops);
}

async function main() {
  const mode = process.argv[2];
  if (mode === 'parked-memory') {
    // Child process: RSS of N parked fibers over a baseline taken after warming up one.
    const count = Number(process.argv[3]);
    const main = Fiber.current;
    new Fiber(() => 0).switch();
    const base = rssMb();
    const parked = [];
    for (let i = 0; i < count; i++) {
      const f = new Fiber(() => main.switch());
      f.switch();
      parked.push(f);
    }
    console.log(JSON.stringify({ mb: rssMb() - base, total: rssMb(), threads: fiberStats().threads }));
    return;
  }
  if (mode === 'round-trip') {
    console.log(JSON.stringify({ us: median(Array.from({ length: RUNS }, () => fiberRoundTrip(50_000))) }));
    return;
  }

  const rt = [];
  const art = [];
  const create = [];
  const pcreate = [];
  for (let r = 0; r < RUNS; r++) {
    rt.push(fiberRoundTrip(100_000));
    art.push(await asyncRoundTrip(100_000));
    create.push(fiberCreate(20_000));
    pcreate.push(await promiseCreate(100_000));
  }
  emit('switch round trip (resume + yield back)', 'greenfiber', rt, 'µs');
  emit('switch round trip (resume + yield back)', 'async/await', art, 'µs');
  emit('create + run + finish', 'greenfiber', create, 'µs');
  emit('create + run + finish', 'async/await', pcreate, 'µs');

  // The same round trip with 10,000 other fibers parked (node-fibers slowed down as they piled up).
  const main_ = Fiber.current;
  const parked = [];
  for (let i = 0; i < 10_000; i++) {
    const f = new Fiber(() => main_.switch());
    f.switch();
    parked.push(f);
  }
  const rtParked = [];
  const rtEmpty = [];
  for (let r = 0; r < RUNS; r++) rtParked.push(fiberRoundTrip(100_000));
  for (const f of parked) f.switch();
  for (let r = 0; r < RUNS; r++) rtEmpty.push(fiberRoundTrip(100_000));
  emit('round trip, 10,000 fibers parked', 'greenfiber', rtParked, 'µs');
  emit('round trip, 10,000 fibers parked', 'greenfiber (none parked)', rtEmpty, 'µs');

  // Memory of 10,000 parked fibers, each measured in a fresh process.
  const mem = [];
  for (let r = 0; r < Math.min(RUNS, 3); r++) {
    const out = spawnSync(process.execPath, [self, 'parked-memory', '10000'], { encoding: 'utf8' });
    mem.push(JSON.parse(out.stdout).mb);
  }
  emit('RSS of 10,000 parked fibers', 'greenfiber', mem, 'MB');

  // The hand-off strategies of native/handoff.h, each in a fresh process.
  const strategies = [
    ['futex only (spin 0)', { GREENFIBER_SPIN_NS: '0' }],
    ['spin 20 µs then futex (default)', {}],
    ['spin 100 µs then futex', { GREENFIBER_SPIN_NS: '100000' }],
    ['both threads pinned to one core', { GREENFIBER_PIN: '1' }],
  ];
  for (const [name, env] of strategies) {
    const runs = [];
    for (let r = 0; r < 3; r++) {
      const out = spawnSync(process.execPath, [self, 'round-trip'], { encoding: 'utf8', env: { ...process.env, ...env } });
      runs.push(JSON.parse(out.stdout).us);
    }
    emit('round trip by hand-off strategy', name, runs, 'µs');
  }
}

main();
