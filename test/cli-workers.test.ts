// `greenfiber --workers N`: a patched server in N cluster workers sharing one port; drain on
// SIGTERM/SIGINT; a dead worker replaced; a crash loop given up; bad arguments.
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { fixtures, root } from './helpers';

const bin = path.join(root, 'bin', 'greenfiber.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'greenfiber-workers-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Run {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves when `pattern` has appeared in stdout (or stderr) `count` times; returns the matches. */
  waitFor(pattern: RegExp, count?: number, stream?: 'stdout' | 'stderr'): Promise<RegExpMatchArray[]>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();
afterEach(() => {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  running.clear();
});

function greenfiber(args: string[]): Run {
  const child = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  // Pending waitFor() checks; each returns true once settled.
  let waiters: Array<() => boolean> = [];
  const run: Run = {
    child,
    stdout: '',
    stderr: '',
    waitFor(pattern, count = 1, stream = 'stdout') {
      const global = new RegExp(pattern.source, 'g');
      return new Promise((resolve, reject) => {
        const check = () => {
          const matches = [...run[stream].matchAll(global)];
          if (matches.length >= count) return resolve(matches), true;
          if (child.exitCode !== null || child.signalCode !== null) return reject(new Error(`exited before ${pattern} x${count}; stdout: ${run.stdout} stderr: ${run.stderr}`)), true;
          return false;
        };
        if (!check()) waiters.push(check);
      });
    },
    exited: new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal }))),
  };
  const wake = () => (waiters = waiters.filter((check) => !check()));
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => ((run.stdout += chunk), wake()));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => ((run.stderr += chunk), wake()));
  child.on('exit', () => setImmediate(wake));
  return run;
}

/** One request on a connection of its own; resolves with the status and body, or the error code. */
function get(port: number, urlPath: string): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
  });
}

const server = path.join(fixtures, 'cli-workers-server.cjs');

describe('greenfiber --workers', () => {
  it('runs a patched server in 3 processes on one port: answers from several pids, overlaps, drains on SIGTERM and exits 0', async () => {
    const run = greenfiber(['--patch-all', '--workers', '3', '--grace', '20000', server]);
    const listening = await run.waitFor(/listening (\d+) (\d+) worker (\d)/, 3);
    const pids = new Set(listening.map((m) => m[1]));
    expect(pids.size).toBe(3);
    expect(new Set(listening.map((m) => m[2])).size).toBe(1); // one shared port
    expect(new Set(listening.map((m) => m[3]))).toEqual(new Set(['1', '2', '3']));
    const port = Number(listening[0][2]);

    // Six requests held in their handlers at once (connections go round-robin to the workers).
    const release = path.join(tmp, 'release-1');
    const held = Array.from({ length: 6 }, () => get(port, `/hold?release=${encodeURIComponent(release)}`));
    await run.waitFor(/entered (\d+)/, 6);
    const entered = [...run.stdout.matchAll(/entered (\d+)/g)].map((m) => m[1]);
    expect(new Set(entered).size).toBeGreaterThanOrEqual(2);
    // A worker with requests parked in handlers still answers another at once: greenlets overlap.
    const quick = await get(port, '/pid');
    expect(quick).toMatchObject({ status: 200 });

    // SIGTERM with six requests in flight: no new connection is accepted, the six finish, exit 0.
    run.child.kill('SIGTERM');
    // Until every worker has closed its server, a connection may still be served, or reset if it
    // raced a worker's close; then the port is closed.
    let refused: { error: string } | null = null;
    for (let attempt = 0; attempt < 500 && refused === null; attempt++) {
      const answer = await get(port, '/pid');
      if ('error' in answer && answer.error !== 'ECONNRESET') refused = answer;
      else await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(refused).toEqual({ error: 'ECONNREFUSED' });
    fs.writeFileSync(release, '');
    const answers = await Promise.all(held);
    for (const answer of answers) expect(answer).toMatchObject({ status: 200, body: expect.stringMatching(/^\d+ http GET \/hold/) });
    expect(new Set(answers.map((a) => ('body' in a ? a.body.split(' ')[0] : ''))).size).toBeGreaterThanOrEqual(2);
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.stderr).toBe('');
  });

  it('SIGINT drains too; a worker that does not finish within --grace is killed, and the primary still exits 0', async () => {
    const run = greenfiber(['--patch-all', '--workers', '2', '--grace', '300', server]);
    const listening = await run.waitFor(/listening (\d+) (\d+)/, 2);
    const port = Number(listening[0][2]);
    const held = get(port, `/hold?release=${encodeURIComponent(path.join(tmp, 'never'))}`);
    await run.waitFor(/entered/);
    run.child.kill('SIGINT');
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(await held).toEqual({ error: 'ECONNRESET' });
    expect(run.stderr).toMatch(/worker \d \(pid \d+\) did not finish within --grace 300 ms; killing it/);
  });

  it('replaces a worker that dies, with a new pid', async () => {
    const run = greenfiber(['--patch-all', '--workers', '2', server]);
    const listening = await run.waitFor(/listening (\d+) \d+ worker (\d)/, 2);
    const victim = listening[0];
    process.kill(Number(victim[1]), 'SIGKILL');
    await run.waitFor(new RegExp(`worker ${victim[2]} \\(pid ${victim[1]}\\) exited with signal SIGKILL; starting another in 100 ms`), 1, 'stderr');
    const again = await run.waitFor(/listening (\d+) \d+ worker (\d)/, 3);
    expect(again[2][2]).toBe(victim[2]);
    expect(again[2][1]).not.toBe(victim[1]);
    run.child.kill('SIGTERM');
    expect(await run.exited).toEqual({ code: 0, signal: null });
  });

  // Six process starts in a row: slow on a loaded machine, hence the longer timeout.
  it('gives up on a crash loop: 5 crashes in a row within 30 s of starting, then exit 1', { timeout: 90_000 }, async () => {
    const run = greenfiber(['--workers', '1', path.join(fixtures, 'cli-throws.cjs')]);
    expect(await run.exited).toEqual({ code: 1, signal: null });
    expect(run.stderr).toMatch(/starting another in 100 ms[\s\S]*starting another in 200 ms[\s\S]*starting another in 800 ms/);
    expect(run.stderr).toMatch(/exited with code 1, the 5th time in a row within 30 s of starting; giving up/);
    expect(run.stderr.match(/Error: script failed/g)!.length).toBeGreaterThanOrEqual(5);
  });

  it('workers whose script ends are not replaced; the primary exits 0 when all have', async () => {
    const run = greenfiber(['--workers', '2', path.join(fixtures, 'cli-script.cjs'), 'x']);
    expect(await run.exited).toEqual({ code: 0, signal: null });
    expect(run.stdout.match(/joined: 1,2/g), `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).toHaveLength(2);
    expect(run.stderr).toBe('');
  });

  it('rejects bad --workers and --grace values, and --grace alone', async () => {
    for (const [args, message] of [
      [['--workers', '0', server], /expected an integer from 1 to 1024 or "auto" for --workers but received "0"/],
      [['--workers=two', server], /for --workers but received "two"/],
      [['--workers', '2', '--grace', '-1', server], /expected a number of milliseconds >= 0 for --grace but received "-1"/],
      [['--grace', '100', server], /--grace needs --workers/],
      [['--workers'], /expected a value after --workers/],
    ] as const) {
      const run = greenfiber([...args]);
      expect(await run.exited).toEqual({ code: 2, signal: null });
      expect(run.stderr).toMatch(message);
      expect(run.stderr).toMatch(/usage: greenfiber/);
    }
  });
});
