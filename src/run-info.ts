// runInfo(): a printable report of every live greenlet (gevent's print_run_info), for programs
// that hang: what is alive, where it was spawned from, where it is parked.
import { liveGreenlets } from './greenlet';
import { framesOf } from './stack';
import { hub, parkedSites } from './hub';
import { Fiber } from './fiber';

/**
 * Returns a report of every live greenlet (scheduled, running or parked): name, id, state, where
 * it was spawned from and where it is parked. Spawn sites are recorded by default
 * (hub.captureSpawnSites); parked stacks only while hub.trackParkedStacks is true, because that
 * costs a stack capture at every switch to the hub (a few µs). Never blocks.
 */
export function runInfo(): string {
  const greenlets = liveGreenlets();
  const lines: string[] = [`greenfiber run info: ${greenlets.length} live greenlet${greenlets.length === 1 ? '' : 's'} (current: ${describeCurrent()})`];
  for (const greenlet of greenlets) {
    lines.push('');
    lines.push(`Greenlet ${JSON.stringify(greenlet.name)} #${greenlet.id}: ${greenlet.state}`);
    const spawned = greenlet.spawnSite;
    lines.push(spawned ? `  spawned at:\n${spawned}` : '  spawned at: (not recorded: hub.captureSpawnSites is false)');
    if (greenlet.state === 'suspended') {
      const parked = framesOf(parkedSites.get(greenlet));
      if (parked) lines.push(`  parked at:\n${parked}`);
      else if (!hub.trackParkedStacks) lines.push('  parked at: (not recorded: set hub.trackParkedStacks = true; it costs a stack capture per switch)');
      else lines.push('  parked at: (not recorded: it has not parked since hub.trackParkedStacks was set)');
    }
  }
  return `${lines.join('\n')}\n`;
}

function describeCurrent(): string {
  const current = Fiber.current;
  if (current === Fiber.main) return 'the hub (main fiber)';
  return JSON.stringify(current.name);
}
