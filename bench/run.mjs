// Runs every bench/*.bench.mjs in a fresh process, collects their JSON lines, and writes
// bench/results.md: one table per group, each row's median beside the group's baseline (the row
// named "async/await", else the first row) with the ratio.
import { spawnSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.mjs'))
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const rows = [];
for (const file of files) {
  process.stderr.write(`bench: ${file}…\n`);
  const result = spawnSync(process.execPath, ['--expose-gc', join(here, file)], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 20 * 60_000 });
  if (result.status !== 0) {
    process.stderr.write(`bench: ${file} failed (${result.status ?? result.signal})\n${result.stderr}\n`);
  }
  for (const line of result.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      rows.push({ file, ...JSON.parse(line) });
    } catch {
      // not a result line
    }
  }
}

const groups = new Map();
for (const row of rows) {
  if (!groups.has(row.group)) groups.set(row.group, []);
  groups.get(row.group).push(row);
}
const format = (v) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));
const lowerIsBetter = (unit) => !/\/s$/.test(unit);
const lines = [
  '# Benchmark results',
  '',
  `Node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${new Date().toISOString()}.`,
  'Medians of repeated runs; every comparison in a group was measured in the same process run.',
  '"vs baseline" is how many times better (>1) or worse (<1) than the group\'s baseline.',
  '',
  '| group | variant | median | unit | vs baseline | runs |',
  '| --- | --- | ---: | --- | ---: | --- |',
];
for (const [group, entries] of groups) {
  const baseline = entries.find((e) => e.name === 'async/await') ?? entries[0];
  for (const e of entries) {
    let ratio = '';
    if (e !== baseline && baseline.value > 0 && e.unit === baseline.unit) {
      const r = lowerIsBetter(e.unit) ? baseline.value / e.value : e.value / baseline.value;
      ratio = `${r.toFixed(2)}×`;
    } else if (e === baseline && entries.length > 1) {
      ratio = 'baseline';
    }
    lines.push(`| ${group} | ${e.name} | ${format(e.value)} | ${e.unit} | ${ratio} | ${(e.runs ?? []).length} |`);
  }
}
const table = `${lines.join('\n')}\n`;
writeFileSync(join(here, 'results.md'), table);
process.stdout.write(table);
