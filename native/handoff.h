// The hand-off between two OS threads: one posts, the other wakes. Nothing here knows of V8 or Node.
//
// A Baton is a one-waiter, sticky wake-up flag over a futex word. The waiter first spins for a
// short while (cheap when the poster answers within microseconds, as in a ping-pong between a
// fiber and the hub), then parks in the kernel. Spinning is adaptive and rationed: a baton whose
// recent spins all timed out parks at once, and at most kMaxSpinners threads of the process spin
// at the same time, so parked fibers never burn the cores the running one needs.
#pragma once

#include <atomic>
#include <cstdint>

namespace greenfiber {

struct HandoffPolicy {
  // How long a waiter spins before it parks, in nanoseconds; 0 parks at once (pure futex).
  int64_t spin_ns = 20000;
  // Pin every fiber thread of an isolate to the CPU its main thread was on at setup.
  bool pin = false;
  // A pooled thread idle this long (ms) exits, unless the pool is down to idle_keep threads.
  int64_t idle_ms = 10000;
  size_t idle_keep = 16;
};

// Gives the pages of the calling thread's stack that lie wholly below its stack pointer (less a
// margin for the madvise call itself) back to the kernel; they read as zeros if touched again.
// `stack_lo` is the stack's lowest address. One madvise(): costs TLB-shootdown IPIs, so call it
// only where it pays (about to park, or a fiber's first suspension).
void ReleaseStackBelow(void* stack_lo);

class Baton {
 public:
  // Wakes the waiter, or makes its next Wait() return at once. Any thread may call it.
  void Post();
  // Blocks the calling thread until Post(). Only the thread that owns this baton calls it. With
  // `stack_lo` (the lowest address of the caller's stack), a wait that parks in the kernel first
  // gives back the stack pages below the one holding the caller's frame: a parked fiber then keeps
  // only the stack it is using, whatever depth it once reached (V8 and the allocator go a few
  // hundred bytes deeper than the suspension point on a fiber's first switch).
  // Returns whether it parked in the kernel and released the stack.
  bool Wait(const HandoffPolicy& policy, void* stack_lo = nullptr);
  // Parks (no spin) until Post() or until `timeout_ns` passed; returns false on timeout, with the
  // baton empty. Only the owner calls it.
  bool WaitFor(int64_t timeout_ns);
  // How many Wait() calls parked in the kernel so far. Owner-only, like Wait().
  uint32_t parks() const { return parks_; }

 private:
  enum : uint32_t { kEmpty = 0, kPosted = 1, kSleeping = 2 };
  bool Spin(int64_t spin_ns);

  // The futex word. Invariant: only the owner moves it away from kPosted (back to kEmpty); only
  // a poster moves it to kPosted; kSleeping means the owner is (about to be) in futex_wait.
  std::atomic<uint32_t> word_{kEmpty};
  // Owner-only: spins that timed out in a row; at kSpinGiveUp the baton stops spinning until
  // kSpinRetryEvery waits have passed. Not shared, so not atomic.
  uint32_t misses_ = 0;
  uint32_t waits_since_retry_ = 0;
  uint32_t parks_ = 0;
};

}  // namespace greenfiber
