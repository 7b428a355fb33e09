// Shared helpers for the test suite: running fixture scripts in a fresh process, loopback ports.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as net from 'node:net';
import * as path from 'node:path';

export const root = path.resolve(__dirname, '..');
export const fixtures = path.join(__dirname, 'fixtures');

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `node [nodeArgs] test/fixtures/<name> [args]` and returns its exit status and output. */
export function runFixture(name: string, args: string[] = [], options: { nodeArgs?: string[]; timeout?: number; env?: NodeJS.ProcessEnv; input?: string } = {}): RunResult {
  const result: SpawnSyncReturns<string> = spawnSync(process.execPath, [...(options.nodeArgs ?? []), path.join(fixtures, name), ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: options.timeout ?? 60_000,
    env: { ...process.env, ...options.env },
    input: options.input,
  });
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

/** A loopback port nothing listens on: one a server just had and closed (connecting is refused). */
export async function closedPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
