// Stack text for reports: captured call sites trimmed to the user's frames.
import { sep } from 'node:path';

const ownDirectory = `${__dirname}${sep}`;

/**
 * The frames of a captured stack (without its message line), cut below a greenlet's function and
 * without greenfiber's own frames unless nothing else is left.
 */
export function framesOf(site: { stack?: string } | undefined): string {
  const stack = site?.stack;
  if (stack === undefined) return '';
  const frames = stack.split('\n').slice(1);
  const end = frames.findIndex((frame) => frame.startsWith('    at Greenlet.run ('));
  const kept = end < 0 ? frames : frames.slice(0, end);
  const theirs = kept.filter((frame) => !frame.includes(ownDirectory));
  return (theirs.length > 0 ? theirs : kept).join('\n');
}

/** An error's stack (or a description of a thrown non-error), cut below a greenlet's function. */
export function stackOf(error: unknown): string {
  if (error instanceof Error) {
    const stack = error.stack ?? `${error.name}: ${error.message}`;
    const cut = stack.indexOf('\n    at Greenlet.run (');
    return cut < 0 ? stack : stack.slice(0, cut);
  }
  try {
    return `${String(error)} (thrown value of type ${typeof error})`;
  } catch {
    return 'an unprintable value';
  }
}
