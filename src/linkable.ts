// The private waiting machinery that Event, AsyncResult, Greenlet (joiners and links), the locks
// and the queues share (gevent's _abstract_linkable.py): FIFO lists of parked greenlets and linked
// callbacks (called on the hub, or in a fiber of their own), a park() that links, blocks and
// always unlinks, and one wake-up batch that the hub delivers.
//
// The discipline, in one place:
// - Whoever makes a primitive ready (set, release, put) *grants* waiting links right away, in
//   arrival order, handing over what they get (a permit, an item) on the link itself. Nothing can
//   barge in between the grant and the waiter running, so no wake-up is lost or stolen.
// - A grant never switches: the link goes on the wake-up batch, which the hub delivers on its next
//   callback turn. So set()/put()/release() behave the same from a greenlet, a loop callback or
//   async code.
// - A waiter that leaves park() early (timeout, kill) unlinks itself. If it had been granted
//   already, its own timeout counts as success (it got what it waited for), and any other error
//   gives the grant back through the primitive's `abandon` hook, so the next waiter gets it.
import { callSoon } from './callbacks';
import { Fiber, kParked } from './fiber';
import { resume } from './park';
import { handleError } from './report';
import { Timeout } from './timeout';
import { checkFunction } from './validate';
import { Waiter } from './waiter';
import { kLink, kReady, kResult, kUnlink, type Waitable } from './waitable';

/** One greenlet parked on a primitive, or one callback linked to it: a node of a WaitList. */
export class Link {
  /** @internal Neighbours and owner while linked; null once unlinked. */
  prev: Link | null = null;
  next: Link | null = null;
  list: WaitList | null = null;
  /** The parked greenlet's waiter, or null for a callback link. */
  waiter: Waiter<Link> | null = null;
  /** For callback links (the waitable protocol): called on the hub with `source`. */
  callback: ((source: any) => void) | null = null;
  source: unknown = undefined;
  /** For callback links: run the callback in a fiber of its own (link()) rather than on the hub. */
  inFiber = false;
  /** For callback links: call only when the source succeeded (Only.Success) or failed (Only.Failure). */
  only: Only = Only.Always;
  /** What the granter handed over: an item, or the primitive-specific payload. */
  value: unknown = undefined;
  /** Set instead of `value` to make the waiter raise (e.g. QueueShutDown). */
  error: unknown = undefined;
  /** Primitive-specific flavour (for example acquire vs observe on a semaphore). */
  kind = 0;
  /** Granted: taken off its list and put on the wake-up batch; what it waited for is its own. */
  granted = false;
  /** The waiting side has left park() (or the callback was unlinked): never deliver. */
  done = false;
  /** The linkable whose pending-wake count this grant holds, if any. */
  owner: Linkable | null = null;
}

/** Which outcomes a callback link is called for (Greenlet.linkValue, linkException). */
export const enum Only {
  Always = 0,
  Success = 1,
  Failure = 2,
}

/** An intrusive FIFO of links: O(1) push, shift and removal from the middle. */
export class WaitList {
  head: Link | null = null;
  tail: Link | null = null;
  length = 0;

  push(link: Link): void {
    link.list = this;
    link.next = null;
    link.prev = this.tail;
    if (this.tail === null) this.head = link;
    else this.tail.next = link;
    this.tail = link;
    this.length++;
  }

  shift(): Link | null {
    const link = this.head;
    if (link !== null) this.remove(link);
    return link;
  }

  /** Unlinks `link`, which must be on this list. */
  remove(link: Link): void {
    if (link.prev === null) this.head = link.next;
    else link.prev.next = link.next;
    if (link.next === null) this.tail = link.prev;
    else link.next.prev = link.prev;
    link.prev = link.next = null;
    link.list = null;
    this.length--;
  }

  /** Unlinks and returns the first callback link registered with `callback`, if any. */
  removeCallback(callback: (source: any) => void): Link | null {
    for (let link = this.head; link !== null; link = link.next) {
      if (link.callback === callback) {
        this.remove(link);
        return link;
      }
    }
    return null;
  }
}

// The wake-up batch. Every grant in the process lands here, in grant order; one hub callback
// delivers them. Two arrays swap so that a steady stream of wake-ups allocates nothing.
let batch: Link[] = [];
let spare: Link[] = [];
let flushScheduled = false;

/**
 * Takes `link` off its list, marks it granted and queues its delivery on the hub. Callable from
 * anywhere (greenlet, hub, loop callback, async code); never switches.
 */
export function grant(link: Link, owner: Linkable | null = null): void {
  if (link.list !== null) link.list.remove(link);
  link.granted = true;
  if (owner !== null) {
    link.owner = owner;
    owner.pendingWakes++;
  }
  batch.push(link);
  if (!flushScheduled) {
    flushScheduled = true;
    callSoon(flush, undefined);
  }
}

function flush(): void {
  const links = batch;
  batch = spare;
  spare = links;
  flushScheduled = false; // grants made while delivering go to the next turn: no starvation
  for (let i = 0; i < links.length; i++) {
    const link = links[i];
    links[i] = undefined as never;
    deliver(link);
  }
  links.length = 0;
}

function deliver(link: Link): void {
  if (link.owner !== null) {
    link.owner.pendingWakes--;
    link.owner = null;
  }
  if (link.done) return;
  if (link.callback === null) {
    link.waiter!.switch(link); // runs the parked greenlet until it blocks again
    return;
  }
  link.done = true;
  if (link.only !== Only.Always) {
    const successful = (link.source as { successful(): boolean }).successful();
    if (successful !== (link.only === Only.Success)) return;
  }
  if (link.inFiber) {
    const runner = new Fiber(runLinkInFiber, { name: `link of ${(link.source as { name?: unknown }).name ?? String(link.source)}`, parent: Fiber.main });
    try {
      resume(runner, link);
    } catch (error) {
      handleError(undefined, error); // no OS thread for it
    }
    return;
  }
  try {
    link.callback!(link.source);
  } catch (error) {
    handleError(undefined, error); // reported like any hub callback's error; the hub goes on
  }
}

// The body of a link()'s own fiber: it may block; what it throws is reported.
function runLinkInFiber(link: Link): typeof kParked {
  const callback = link.callback!;
  const source = link.source;
  link.callback = null;
  link.source = undefined;
  try {
    callback(source);
  } catch (error) {
    handleError(Fiber.current, error); // reported as this fiber's ("link of <source>"), not a hub callback's
  }
  return kParked; // ended: nothing for a top-level switch to take (src/park.ts)
}

/** Marks a callback link that is already granted (waiting in the batch) as not to be called. */
function cancelGranted(source: unknown, callback: (source: any) => void): void {
  for (let i = 0; i < batch.length; i++) {
    const link = batch[i];
    if (link.callback === callback && link.source === source && !link.done) {
      link.done = true;
      return;
    }
  }
}

// The argument checks live in validate.ts (one rule for times, one message shape).
export { checkTimeout, describe } from './validate';

/** What park() reports: granted, or timed out before anyone granted it. */
export const enum Parked {
  TimedOut = 0,
  Granted = 1,
}

/**
 * Links `link` at the tail of `list` (unless it is granted already) and blocks the current greenlet until a granter grants it
 * or `timeout` ms pass. Always leaves `link` unlinked. Blocking rules are Waiter.get()'s: parks a
 * greenlet; drives the loop at the top level of a CommonJS script; throws BlockingOnHubError in
 * a plain loop callback.
 * @param abandon gives a grant back when the waiter leaves with an error after being granted.
 * @param raiseTimeout let the Timeout propagate instead of returning TimedOut.
 * @throws whatever is raised into the greenlet while parked (kill, an outer timeout); the link's
 *   own `error` if the granter set one.
 */
export function park(list: WaitList, link: Link, timeout: number | undefined, abandon: ((link: Link) => void) | null, raiseTimeout = false): Parked {
  const waiter = new Waiter<Link>();
  link.waiter = waiter;
  if (!link.granted) list.push(link);
  const timer = Timeout.startNewOrDummy(timeout);
  try {
    waiter.get();
  } catch (error) {
    if (link.granted) {
      // The grant and the error raced; the grant came first.
      if (error === timer) return finishGranted(link);
      if (abandon !== null && link.error === undefined) abandon(link);
      throw error;
    }
    if (error === timer && !raiseTimeout) return Parked.TimedOut;
    throw error;
  } finally {
    link.done = true;
    timer.cancel();
    if (link.list !== null) link.list.remove(link);
  }
  return finishGranted(link);
}

function finishGranted(link: Link): Parked {
  if (link.error !== undefined) throw link.error;
  return Parked.Granted;
}

/**
 * The base of Event and AsyncResult (and of Semaphore's link list): a FIFO of parked greenlets
 * and linked callbacks, and the waitable protocol on top of it.
 */
export abstract class Linkable implements Waitable {
  /** @internal Parked greenlets and linked callbacks, in arrival order. */
  readonly links = new WaitList();
  /** @internal Grants of this object still waiting in the wake-up batch. */
  pendingWakes = 0;

  /** Whether waiting would return at once. */
  abstract ready(): boolean;

  /** @internal The value the waitable protocol reports once ready. */
  protected abstract result(): unknown;

  /** @internal Grants every link present now (Event and AsyncResult: wake everyone). */
  protected grantAll(): void {
    for (let link = this.links.shift(); link !== null; link = this.links.shift()) grant(link, this);
  }

  /** @internal Blocks until granted (see park()); `true` unless the timeout expired. */
  protected waitCore(timeout: number | undefined, raiseTimeout = false): boolean {
    const link = new Link();
    if (this.ready()) {
      if (this.pendingWakes === 0) return true;
      // Ready, but earlier waiters are still to be woken: queue up behind them (gevent #1520).
      grant(link, this);
      return park(this.links, link, undefined, null) === Parked.Granted;
    }
    return park(this.links, link, timeout, null, raiseTimeout) === Parked.Granted;
  }

  /** @internal What link callbacks receive: the object itself, unless a subclass stands for another. */
  protected linkSource(): unknown {
    return this;
  }

  /**
   * @internal Registers `callback(source)` to be called once, when ready (soon, if ready now): on
   * the hub, or with `inFiber` in a fiber of its own; `only` filters on the source's successful().
   */
  protected addLink(callback: (source: any) => void, inFiber: boolean, only: Only = Only.Always): void {
    checkFunction(callback, 'callback');
    const link = new Link();
    link.callback = callback;
    link.source = this.linkSource();
    link.inFiber = inFiber;
    link.only = only;
    if (this.ready()) grant(link, this);
    else this.links.push(link);
  }

  /** @internal Removes the first registration of `callback`, also once granted but not yet called. */
  protected removeLink(callback: (source: any) => void): void {
    const link = this.links.removeCallback(callback);
    if (link !== null) link.done = true;
    else cancelGranted(this.linkSource(), callback);
  }

  /** Waitable protocol: `callback(this)` runs on the hub once ready (soon, if ready now). */
  [kLink](callback: (source: any) => void): void {
    this.addLink(callback, false);
  }

  /** Waitable protocol: removes a callback registered with kLink (a no-op if it is not). */
  [kUnlink](callback: (source: any) => void): void {
    this.removeLink(callback);
  }

  [kReady](): boolean {
    return this.ready();
  }

  [kResult](): unknown {
    return this.result();
  }

  /** How many greenlets and callbacks are linked now (gevent's linkcount, for tests). */
  linkCount(): number {
    return this.links.length;
  }
}
