// "Interrupt everything": every patched function of fs, zlib, crypto and child_process (and
// greenfiber/dns lookups) interrupted in flight by kill() and by a Timeout gives back what it took:
// fds and children back to their baseline, no GC warning, and the next call works. The cases run
// in fixture processes (a leak or a hang stays there), a batch of cases per process.
import { execFile } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixtures, root, runFixture } from './helpers';
import { fsFunctions } from '../dist/monkey/fs.js';
import { zlibFunctions } from '../dist/monkey/zlib.js';
import { cryptoFunctions } from '../dist/monkey/crypto.js';

// The threadpool plug in the fixture blocks this many threads.
const env = { ...process.env, UV_THREADPOOL_SIZE: '2' };
const listed = runFixture('monkey-interrupt.js', ['--list'], { env });
const cases: string[] = JSON.parse(listed.stdout);

interface Report {
  case: string;
  outcomes: string[];
  warnings: string[];
  fds: { baseline: number; afterInterrupts: number; end: number };
  children: { baseline: string; afterInterrupts: string };
  next: string;
}

const reports = new Map<string, Report>();
const failures: string[] = [];

function runBatch(names: string[]): Promise<void> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(fixtures, 'monkey-interrupt.js'), ...names], { cwd: root, env, timeout: 300_000, maxBuffer: 1 << 24 }, (error, stdout, stderr) => {
      for (const line of stdout.split('\n').filter(Boolean)) {
        const report = JSON.parse(line) as Report;
        reports.set(report.case, report);
      }
      if (error || stderr) {
        const how = error ? `exit ${error.code ?? ''} signal ${error.signal ?? ''}${error.killed ? ' (killed at the timeout)' : ''}` : 'exit 0';
        failures.push(`batch ${names.join(' ')}: ${how}; reports for ${[...reports.keys()].filter((name) => names.includes(name)).join(' ') || 'none'}; stderr:\n${stderr}`);
      }
      resolve();
    });
  });
}

beforeAll(async () => {
  const batches: string[][] = [];
  for (let i = 0; i < cases.length; i += 9) batches.push(cases.slice(i, i + 9));
  // Two processes at a time (the machine has two cores).
  const queue = [...batches];
  await Promise.all([0, 1].map(async () => {
    for (let batch = queue.shift(); batch !== undefined; batch = queue.shift()) await runBatch(batch);
  }));
}, 600_000);

describe('interrupting a patched call', () => {
  it('has a case for every function patched on this Node', () => {
    expect(listed.stderr).toBe('');
    const covered = new Set(cases.map((name) => name.split('_')[0]));
    const has = (module: object, name: string) => typeof (module as Record<string, unknown>)[name] === 'function';
    const patched = [
      ...Object.keys(fsFunctions).filter((name) => has(fs, name)),
      'existsSync',
      'realpathSync.native',
      ...zlibFunctions.filter((name) => has(zlib, name)),
      ...Object.keys(cryptoFunctions).filter((name) => has(crypto, name)),
      'execSync',
      'execFileSync',
      'spawnSync',
    ];
    expect(patched.filter((name) => !covered.has(name))).toEqual([]);
  });

  it('ran every case in a fixture that exited cleanly', () => {
    expect(failures).toEqual([]);
  });

  it.each(cases)('%s: by kill() and by a Timeout, fds and children back to baseline, next call works', (name) => {
    const report = reports.get(name);
    expect(report, `no report for ${name}: ${failures.join('\n')}`).toBeDefined();
    expect(report!.outcomes).toEqual([...Array(3).fill('kill: killed'), ...Array(3).fill('timeout: timed out')]);
    expect(report!.fds.afterInterrupts).toBe(report!.fds.baseline);
    expect(report!.fds.end).toBe(report!.fds.baseline);
    expect(report!.children.afterInterrupts).toBe(report!.children.baseline);
    expect(report!.warnings).toEqual([]);
    expect(report!.next).toBe('works');
  });
});

describe('spawnSync, execSync, execFileSync: own timeout and maxBuffer with a grandchild holding the pipes', () => {
  // Issue 10 item 2: the call ends when the child has exited after the kill, as the original does.
  it('end as the originals do (error, code, errno, syscall, signal, status, output), before the grandchild lets go, leaving no fd or child', () => {
    const result = runFixture('monkey-child-options.js', [], { timeout: 120_000 });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const reports = result.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line));
    expect(reports.map((report) => report.case)).toHaveLength(7);
    for (const report of reports) {
      expect(report.patched, report.case).toEqual(report.original);
      expect([report.case, report.originalHolderStillWaiting, report.holderStillWaiting]).toEqual([report.case, true, true]);
      expect(report.fds.after, report.case).toBe(report.fds.baseline);
      expect(report.children.after, report.case).toBe(report.children.baseline);
    }
  });
});

describe('the process exits while greenlets wait for children', () => {
  /** Whether `pid` has ended: gone, or a zombie left to whoever reaps orphans here. */
  function ended(pid: string): boolean {
    try {
      return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').startsWith('Z');
    } catch {
      return true;
    }
  }

  it('kills their children with their killSignal', async () => {
    const result = runFixture('monkey-child-exit.js');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const pids: string[] = JSON.parse(result.stdout);
    expect(pids).toHaveLength(3);
    for (let i = 0; i < 2000 && !pids.every(ended); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(pids.filter((pid) => !ended(pid))).toEqual([]);
  });

  for (const [mode, status, signal] of [['exit', 0, null], ['signal', null, 'SIGINT'], ['interrupt', 0, null]] as const) {
    it(`kills their children and the children's descendants too (${mode})`, async () => {
      const result = runFixture('monkey-child-tree.js', [mode]);
      const pids: string[] = JSON.parse(result.stdout.trim() || '[]');
      try {
        expect(result.stderr).toBe('');
        expect(result.status).toBe(status);
        expect(result.signal).toBe(signal);
        expect(pids).toHaveLength(10);
        for (let i = 0; i < 2000 && !pids.every(ended); i++) await new Promise((resolve) => setTimeout(resolve, 5));
        expect(pids.filter((pid) => !ended(pid))).toEqual([]);
      } finally {
        for (const pid of pids) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // ended
          }
        }
      }
    });
  }
});
