// greenfiber/monkey: every case runs as a child-process fixture (patching changes the process).
import { describe, expect, it } from 'vitest';
import { runFixture } from './helpers';

describe('patchAll / unpatchAll / isPatched', () => {
  it('patches in place, idempotently, leaves the originals outside greenlets, restores everything', () => {
    const result = runFixture('monkey-api.js');
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual([
      'before: false,false,false,false,false,false,false',
      'fs only: true,false,false,false,false,false,false',
      'after: true,true,true,true,true,true,true',
      'idempotent: true',
      'replaced: true',
      'name kept: readFileSync execSync true',
      'destructured stays original: true',
      'outside greenlets synchronous: true',
      'concurrent requires complete: true',
      'unpatched: false,false,false,false,false,false,false',
      'restored: true',
      'own property removed: false',
    ]);
    expect(result.status).toBe(0);
  });

  it('updates ESM named imports of builtins (syncBuiltinESMExports), both ways', () => {
    const result = runFixture('monkey-esm.mjs');
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('named import patched: true\nstart 0,start 1,start 2 | end 0 true,end 1 true,end 2 true\nnamed import restored: true\nrequire sees the same: true\n');
    expect(result.status).toBe(0);
  });
});

describe('patched *Sync functions', () => {
  it('match the originals: values, errors (class, code, errno, syscall, path, dest, message) and options', () => {
    const result = runFixture('monkey-parity.js');
    expect(result.stderr).toBe('');
    const summary = result.stdout.trim().split('\n').pop()!;
    expect(result.stdout.replace(summary, '').trim()).toBe('');
    const [, cases, equal, parked] = /parity: (\d+) cases, (\d+) equal, (\d+) parked/.exec(summary)!.map(Number);
    expect(equal).toBe(cases);
    expect(cases).toBeGreaterThanOrEqual(130);
    expect(parked).toBeGreaterThanOrEqual(100);
    expect(result.status).toBe(0);
  });

  it('overlap: ten greenlets running execSync("sleep 0.3; echo N") all start before any ends', () => {
    const result = runFixture('monkey-overlap.js');
    expect(result.stderr).toBe('');
    const lines = result.stdout.trim().split('\n');
    expect(lines.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => `start ${i}`));
    expect(lines.slice(10, 20).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `end ${i} ${i}`).sort());
    expect(lines[20]).toBe('lengths 1');
    expect(result.status).toBe(0);
  });

  it('real third-party code: glob.globSync from twenty greenlets overlaps and matches an unpatched run', () => {
    const baseline = runFixture('monkey-glob.js', ['baseline', `base-${process.pid}`]);
    const patched = runFixture('monkey-glob.js', ['patched', `patched-${process.pid}`]);
    expect(baseline.stderr).toBe('');
    expect(patched.stderr).toBe('');
    const [distinct, matches, overlapped] = patched.stdout.trim().split('\n');
    expect(distinct).toBe('distinct results: 1');
    expect(matches).toBe(baseline.stdout.trim().split('\n')[1]);
    expect(JSON.parse(matches.replace('matches: ', ''))).toHaveLength(72);
    expect(overlapped).toBe('overlapped: yes');
    expect(patched.status).toBe(0);
  });
});

describe('patchHttp / patchNet', () => {
  it('http handlers run in greenlets: they block and overlap; an error answers 500, is reported, and the server goes on', () => {
    const result = runFixture('monkey-http-server.js');
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual([
      'overlapped: yes',
      '3 from http GET /sleep/3',
      'boom: 500 Internal Server Error',
      'late-boom: HttpConnectionError',
      'still serving: proxied 99 from http GET /sleep/99',
      'reports: http GET /boom: handler failed | http GET /late-boom: failed after the headers',
    ]);
    expect(result.status).toBe(0);
  });

  it('net.createServer connection listeners run in greenlets; an error closes that connection only', () => {
    const result = runFixture('monkey-net-server.js');
    expect(result.stderr).toBe('');
    expect(result.stdout.trim().split('\n')).toEqual([
      'overlapped: yes',
      'echo 0,echo 1,echo 2,echo 3,echo 4',
      'boom: closed, read ""',
      'still serving: echo after',
      'reports: net connection from 127.0.0.1:PORT: connection handler failed',
    ]);
    expect(result.status).toBe(0);
  });
});
