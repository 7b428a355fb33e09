// The greenfiber command: runs a script as the main greenlet (CommonJS, ESM, TypeScript), flags.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixtures, root } from './helpers';

const bin = path.join(root, 'bin', 'greenfiber.js');

function greenfiber(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const fixture = (name: string): string => path.join(fixtures, name);

describe('greenfiber script', () => {
  it('is the package bin', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(manifest.bin).toEqual({ greenfiber: './bin/greenfiber.js' });
    expect(fs.readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('runs a CommonJS script as the main greenlet, with its arguments, until nothing is left', () => {
    const result = greenfiber([fixture('cli-script.cjs'), 'a', '--b']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('main module: true; greenlet: main; args: a,--b\njoined: 1,2\ntimer after the script\n');
    expect(result.status).toBe(0);
  });

  it('runs an ES module whose top level blocks', () => {
    const result = greenfiber(['--', fixture('cli-script.mjs'), 'x']);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('esm top level slept in main; args: x\nspawned: ok\n');
    expect(result.status).toBe(0);
  });

  it('runs a .js file with ES module syntax in a package of no declared type in the greenlet too', () => {
    // Node 22+ would evaluate such a main module in its asynchronous ESM loader, outside the greenlet.
    const result = greenfiber([fixture('untyped/cli-esm-syntax.js')]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('esm-syntax js ok\n');
    expect(result.status).toBe(0);
  });

  it('runs an ES module with top-level await as async code (blocking needs main())', () => {
    const result = greenfiber([fixture('cli-tla.mjs')]);
    expect(result.stdout).toBe('top level after await: BlockingOnHubError\nmain(): slept\n');
    expect(result.status).toBe(0);
  });

  it('exits with 1 and the stack when the script throws', () => {
    const result = greenfiber([fixture('cli-throws.cjs')]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/Error: script failed\n\s+at .*cli-throws\.cjs:5/);
  });

  it('runs TypeScript where Node strips types, and says what to do where it cannot', () => {
    const result = greenfiber([fixture('untyped/cli-script.ts')]);
    const [major, minor] = process.versions.node.split('.').map(Number);
    if (major > 22 || (major === 22 && minor >= 6)) {
      expect(result.stdout).toBe('typescript slept 2 ms\n');
      expect(result.status).toBe(0);
    } else {
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(/cannot strip TypeScript types/);
      expect(result.stderr).toMatch(/Node\.js 22\.18 or later/);
      expect(result.stderr).toMatch(/tsc/);
    }
  });
});

describe('greenfiber flags', () => {
  it('rejects an unknown option with the usage and exit code 2', () => {
    const result = greenfiber(['--frobnicate', fixture('cli-script.cjs')]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/unknown option "--frobnicate"/);
    expect(result.stderr).toMatch(/usage: greenfiber/);
    expect(result.stdout).toBe('');
  });

  it('needs a script (exit code 2) and says when it cannot find it (exit code 1)', () => {
    expect(greenfiber([]).status).toBe(2);
    const missing = greenfiber(['no-such-script.js']);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/cannot find script "no-such-script\.js"/);
  });

  it('prints help and version', () => {
    const help = greenfiber(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--patch-all/);
    const version = greenfiber(['--version']);
    expect(version.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).version);
  });

  it('--patch-all applies patchAll() before the script\'s first line (gevent\'s python -m gevent.monkey)', () => {
    const result = greenfiber(['--patch-all', fixture('monkey-cli.cjs')]);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('patched: true; greenlet: main\nstart 0,start 1,start 2,start 3 | end 0,end 1,end 2,end 3\n');
    expect(result.status).toBe(0);
    const plain = greenfiber(['--patch-all', fixture('cli-script.cjs')]);
    expect(plain.stdout).toMatch(/joined: 1,2/);
    expect(plain.status).toBe(0);
  });
});
