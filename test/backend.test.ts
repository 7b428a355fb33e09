// The two native backends: choosing one (GREENFIBER_BACKEND), what fiberStats() reports for each,
// and the in-thread backend's guard on set*id calls inside fibers.
import { describe, expect, it } from 'vitest';
import { fiberStats } from '../dist/entries/index.js';
import { runFixture } from './helpers';

function json(stdout: string): any {
  const lines = stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

const tcbRuns = process.platform === 'linux' && process.arch === 'x64';

describe('GREENFIBER_BACKEND', () => {
  it('selects the backend fiberStats() reports (default: tcb on Linux x86-64)', () => {
    const expected = process.env.GREENFIBER_BACKEND || (tcbRuns ? 'tcb' : 'thread');
    expect(fiberStats().backend).toBe(expected);
  });

  it.each(['thread', 'tcb'])('%s: counts every switch; wakes are hot or cold only for the thread backend', (backend) => {
    const result = runFixture('fiber-backend.js', [], { env: { GREENFIBER_BACKEND: backend } });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const { value, before, after } = json(result.stdout);
    expect(value).toBe(1000);
    expect(before).toMatchObject({ backend, switches: 0, hotWakes: 0, coldWakes: 0, started: 0 });
    expect(after.backend).toBe(backend);
    // 1,000 round trips, each two switches (the first one starts the fiber).
    expect(after.switches).toBe(2000);
    expect(after.started).toBe(1);
    expect(after.threads).toBeGreaterThanOrEqual(1);
    if (backend === 'thread') {
      expect(after.hotWakes + after.coldWakes).toBe(2000);
    } else {
      expect(after.hotWakes + after.coldWakes).toBe(0);
    }
  });

  it('tcb: switches the TLS base by system call where wrfsbase is not used', () => {
    const result = runFixture('fiber-backend.js', [], { env: { GREENFIBER_BACKEND: 'tcb', GREENFIBER_TCB_NO_WRFSBASE: '1' } });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(json(result.stdout)).toMatchObject({ value: 1000, after: { backend: 'tcb', switches: 2000 } });
  });

  it('rejects a value that names no backend, naming the variable', () => {
    const result = runFixture('fiber-backend.js', [], { env: { GREENFIBER_BACKEND: 'green' } });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/Expected 'thread' or 'tcb' for the environment variable GREENFIBER_BACKEND but received a string "green"/);
  });
});

describe('set*id calls', () => {
  const calls = ['setgid', 'setegid', 'setuid', 'seteuid', 'setgroups', 'initgroups'];
  it.each(['thread', 'tcb'])('%s: work from the main fiber and inside a fiber, with fibers parked', (backend) => {
    const result = runFixture('fiber-setid.js', [], { env: { GREENFIBER_BACKEND: backend }, timeout: 20_000 });
    expect(result.signal).toBeNull();
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const report = json(result.stdout);
    expect(report.backend).toBe(backend);
    const root = process.getuid?.() === 0;
    const mainOutcome = root ? 'ok' : expect.anything();
    for (const name of calls) {
      expect(report.fromMain[name]).toEqual(mainOutcome);
      // Not root: the same refusal (EPERM) as from the main fiber, not a FiberError or a hang.
      expect(report.inFiber[name]).toEqual(root ? 'ok' : report.fromMain[name]);
    }
    expect(report.message).toBe(root ? 'no error' : expect.stringMatching(/EPERM|not permitted/i));
    expect(report.effect).toBe(root ? 'seen' : 'not root');
  });
});
