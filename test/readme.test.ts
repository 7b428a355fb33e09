// The README's tour runs as written: each ```js block under "A 60-second tour" runs in a fresh
// process (from a file inside the repository, so `require('greenfiber')` resolves to this package)
// and must exit 0, print nothing on stderr, and print exactly what its trailing `// prints:` says.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { root } from './helpers';

const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
const tour = /^## A 60-second tour\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1] ?? '';
const blocks = [...tour.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((match) => match[1]);
const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'greenfiber-readme-'));
const written: string[] = [];
afterAll(() => {
  for (const file of written) fs.rmSync(file, { force: true });
  fs.rmSync(cwd, { recursive: true, force: true });
});

/** The lines after `// prints:` at the end of a block, without their `// `. */
function expectedOutput(code: string): string | null {
  const at = code.lastIndexOf('// prints:');
  if (at < 0) return null;
  return code
    .slice(at)
    .split('\n')
    .slice(1)
    .filter((line) => line.startsWith('//'))
    .map((line) => line.replace(/^\/\/ ?/, ''))
    .join('\n');
}

describe('README tour', () => {
  it('has the three tour blocks, each with its expected output', () => {
    expect(blocks.length).toBe(3);
    for (const block of blocks) expect(expectedOutput(block)).not.toBeNull();
  });

  it.each(blocks.map((code, i) => [i + 1, code]))('block %i runs and prints what it says', (n, code) => {
    const file = path.join(root, 'test', `.tmp-readme-${process.pid}-${n}.cjs`);
    fs.writeFileSync(file, code);
    written.push(file);
    const result = spawnSync(process.execPath, [file], { cwd, encoding: 'utf8', timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout.trimEnd()).toBe(expectedOutput(code as string));
    expect(result.status).toBe(0);
  });
});
