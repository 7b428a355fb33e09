// greenfiber/monkey: makes existing blocking-style code cooperative without rewriting it (gevent.monkey).
export * from '../monkey/patch-all';
