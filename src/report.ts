// Hub settings and error reports: how an uncaught greenlet error (or a hub callback's error) is
// reported (hub.onError or stderr) and what follows (hub.strict). The Hub object's fields live here
// so the machinery below the Hub reads them without importing it.
import { FiberExit } from './errors';
import type { Fiber } from './fiber';
import { stackOf } from './stack';

/** @internal What the public Hub object's settings are stored in (see Hub in hub.ts). */
export const settings = {
  onError: undefined as ((greenlet: Fiber | undefined, error: unknown) => void) | undefined,
  strict: false,
  trackParkedStacks: false,
  captureSpawnSites: true,
};

/** Extra lines for an error report: greenlets supply their name and spawn site. */
export const kDescribe = Symbol.for('greenfiber.describe');
interface Describable {
  [kDescribe](): string;
}

/**
 * Reports an uncaught error of a greenlet (or, with `context` undefined, of a hub callback)
 * through hub.onError or to stderr, then applies hub.strict. Never throws.
 */
export function handleError(context: Fiber | undefined, error: unknown): void {
  if (error instanceof FiberExit) return;
  const reporter = settings.onError;
  try {
    if (reporter !== undefined) reporter(context, error);
    else process.stderr.write(formatReport(context, error));
  } catch (failure) {
    try {
      process.stderr.write(`greenfiber: hub.onError threw while reporting an error: ${stackOf(failure)}\nThe error it was reporting: ${stackOf(error)}\n`);
    } catch {
      // stderr is gone; nothing more to do
    }
  }
  if (settings.strict) {
    // Raised as an unhandled rejection: Node ends the process (or calls unhandledRejection handlers).
    void Promise.reject(error);
  }
}

function errorName(error: unknown): string {
  if (error instanceof Error) return error.name;
  return typeof error;
}

function formatReport(context: Fiber | undefined, error: unknown): string {
  let header: string;
  if (context === undefined) header = 'a hub callback';
  else if (typeof (context as unknown as Describable)[kDescribe] === 'function') header = (context as unknown as Describable)[kDescribe]();
  else header = `fiber ${JSON.stringify(context.name)}`;
  return `${stackOf(error)}\n${header.split('\n')[0]} failed with ${errorName(error)}${header.includes('\n') ? `\n${header.split('\n').slice(1).join('\n')}` : ''}\n\n`;
}
