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
const notes = []; // lines with a "note" and no value: a variant that was skipped, and why
for (const file of files) {
  process.stderr.write(`bench: ${file}…\n`);
  const result = spawnSync(process.execPath, ['--expose-gc', join(here, file)], { encoding: 'utf8', maxBuffer: 64 << 20, timeout: 20 * 60_000 });
  if (result.status !== 0) {
    process.stderr.write(`bench: ${file} failed (${result.status ?? result.signal})\n${result.stderr}\n`);
  }
  for (const line of result.stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const row = JSON.parse(line);
      if (row.note !== undefined && row.value === undefined) notes.push(row);
      else rows.push({ file, ...row });
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
if (notes.length > 0) lines.push('', 'Notes:', '', ...notes.map((n) => `- ${n.group ? `${n.group}: ` : ''}${n.note}`));
lines.push('', '![greenfiber against each group\'s baseline](results.svg)', '');
const table = `${lines.join('\n')}\n`;
writeFileSync(join(here, 'results.md'), table);
writeFileSync(join(here, 'results.svg'), chart(groups));
process.stdout.write(table);

/**
 * A bar chart of each non-baseline variant's ratio to its group's baseline, on a log scale
 * (1 = as fast as the baseline), as a self-contained SVG.
 */
function chart(byGroup) {
  const bars = [];
  for (const [group, entries] of byGroup) {
    const baseline = entries.find((e) => e.name === 'async/await') ?? entries[0];
    for (const e of entries) {
      if (e === baseline || e.unit !== baseline.unit || !(baseline.value > 0) || !(e.value > 0)) continue;
      const ratio = lowerIsBetter(e.unit) ? baseline.value / e.value : e.value / baseline.value;
      bars.push({ label: `${group}: ${e.name} vs ${baseline.name}`, ratio });
    }
  }
  const width = 900;
  const rowHeight = 26;
  const labelWidth = 520;
  const plotWidth = width - labelWidth - 60;
  const height = 50 + bars.length * rowHeight;
  const minLog = -3; // 0.001x
  const maxLog = 1; // 10x
  const x = (ratio) => labelWidth + ((Math.min(maxLog, Math.max(minLog, Math.log10(ratio))) - minLog) / (maxLog - minLog)) * plotWidth;
  const esc = (text) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">greenfiber vs baseline (log scale; right of the line = faster than the baseline)</text>`,
  ];
  for (const tick of [0.001, 0.01, 0.1, 1, 10]) {
    parts.push(`<line x1="${x(tick)}" y1="30" x2="${x(tick)}" y2="${height - 10}" stroke="${tick === 1 ? '#333' : '#ddd'}"/>`);
    parts.push(`<text x="${x(tick)}" y="${height - 1}" text-anchor="middle" fill="#555">${tick}×</text>`);
  }
  bars.forEach((bar, i) => {
    const y = 40 + i * rowHeight;
    const from = x(1);
    const to = x(bar.ratio);
    parts.push(`<text x="${labelWidth - 8}" y="${y + 14}" text-anchor="end">${esc(bar.label.slice(0, 80))}</text>`);
    parts.push(`<rect x="${Math.min(from, to)}" y="${y + 3}" width="${Math.max(1, Math.abs(to - from))}" height="${rowHeight - 8}" fill="${bar.ratio >= 1 ? '#3a7' : '#d64'}"/>`);
    parts.push(`<text x="${Math.max(from, to) + 4}" y="${y + 14}" fill="#333">${bar.ratio >= 0.1 ? bar.ratio.toFixed(2) : bar.ratio.toPrecision(2)}×</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
