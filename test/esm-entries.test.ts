// The package's entry points (src/entries/*.ts → dist/entries/*.{js,mjs}): every subpath in
// package.json "exports" loads by name through import and require, as one runtime.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import { runFixture } from './helpers';

const root = path.join(__dirname, '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown>; main: string; types: string };

describe('entry points', () => {
  it('every subpath gives the same non-empty exports to import and require', () => {
    const result = runFixture('esm-subpaths.mjs');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout) as Record<string, { names: number; sameNames: boolean; sameValues: boolean; defaultIsCjs: boolean }>;
    expect(Object.keys(report).sort()).toEqual(
      ['greenfiber', 'greenfiber/dns', 'greenfiber/fiber', 'greenfiber/http', 'greenfiber/monkey', 'greenfiber/net', 'greenfiber/pool', 'greenfiber/sync'],
    );
    for (const [name, entry] of Object.entries(report)) {
      expect({ name, ...entry, names: entry.names > 0 }).toEqual({ name, names: true, sameNames: true, sameValues: true, defaultIsCjs: true });
    }
  });

  it('package.json points only into dist/entries, at files that exist, one source per entry', () => {
    const targets: string[] = [manifest.main, manifest.types];
    for (const [key, value] of Object.entries(manifest.exports)) {
      if (key === './package.json') continue;
      const conditions = value as Record<string, Record<string, string>>;
      targets.push(conditions.import.types, conditions.import.default, conditions.require.types, conditions.require.default);
    }
    for (const target of targets) {
      expect(target).toMatch(/^\.\/dist\/entries\/[a-z]+\.(js|mjs|d\.ts|d\.mts)$/);
      expect(fs.existsSync(path.join(root, target)), target).toBe(true);
    }
    const sources = fs.readdirSync(path.join(root, 'src', 'entries')).map((file) => file.replace(/\.ts$/, '')).sort();
    const subpaths = Object.keys(manifest.exports).filter((key) => key !== './package.json').map((key) => (key === '.' ? 'index' : key.slice(2))).sort();
    expect(subpaths).toEqual(sources);
  });
});
