// Futex-backed baton with adaptive, rationed spinning. See handoff.h for the design.
#include "handoff.h"

#include <linux/futex.h>
#include <sys/mman.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

namespace greenfiber {
namespace {

constexpr int kMaxSpinners = 2;
constexpr uint32_t kSpinGiveUp = 3;
constexpr uint32_t kSpinRetryEvery = 64;

// How many threads of this process are spinning now. Invariant: incremented only by a thread that
// then spins and decrements it before parking or returning.
std::atomic<int> g_spinners{0};

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

void FutexWait(std::atomic<uint32_t>* word, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}

// False if it timed out.
bool FutexWaitFor(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_ns) {
  timespec ts{static_cast<time_t>(timeout_ns / 1000000000), static_cast<long>(timeout_ns % 1000000000)};
  long rc = syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, &ts,
                    nullptr, 0);
  return !(rc != 0 && errno == ETIMEDOUT);
}

void FutexWake(std::atomic<uint32_t>* word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr,
          0);
}

}  // namespace

__attribute__((noinline)) void ReleaseStackBelow(void* stack_lo) {
  constexpr uintptr_t kPage = 4096;
  constexpr uintptr_t kMargin = 256;  // the madvise() call's return address and libc's wrapper
  char probe;                         // invariant: at or above this function's stack pointer
  const uintptr_t sp = reinterpret_cast<uintptr_t>(&probe);
  const uintptr_t lo = (reinterpret_cast<uintptr_t>(stack_lo) + kPage - 1) & ~(kPage - 1);
  const uintptr_t hi = (sp - kMargin) & ~(kPage - 1);  // the page holding sp - kMargin is kept
  if (hi > lo) madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

void Baton::Post() {
  // Release: everything the poster wrote (the transfer slot, current fiber) is visible to the
  // waiter once it sees kPosted.
  if (word_.exchange(kPosted, std::memory_order_release) == kSleeping) FutexWake(&word_);
}

bool Baton::Spin(int64_t spin_ns) {
  if (g_spinners.fetch_add(1, std::memory_order_relaxed) >= kMaxSpinners) {
    g_spinners.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  const int64_t deadline = NowNs() + spin_ns;
  bool posted = false;
  for (uint32_t i = 1;; ++i) {
    if (word_.load(std::memory_order_acquire) == kPosted) {
      posted = true;
      break;
    }
    CpuRelax();
    if ((i & 63) == 0) {
      if (NowNs() > deadline) break;
      // Lets the thread we wait for run if the scheduler put it on our core.
      sched_yield();
    }
  }
  g_spinners.fetch_sub(1, std::memory_order_relaxed);
  return posted;
}

bool Baton::Wait(const HandoffPolicy& policy, void* stack_lo) {
  bool try_spin = policy.spin_ns > 0;
  if (try_spin && misses_ >= kSpinGiveUp) {
    if (++waits_since_retry_ < kSpinRetryEvery) {
      try_spin = false;
    } else {
      waits_since_retry_ = 0;
      misses_ = kSpinGiveUp - 1;
    }
  }
  if (try_spin) {
    if (Spin(policy.spin_ns)) {
      misses_ = 0;
      word_.store(kEmpty, std::memory_order_relaxed);
      return false;
    }
    if (misses_ < kSpinGiveUp) ++misses_;
  }
  bool released = false;
  bool slept = false;
  for (;;) {
    uint32_t seen = word_.load(std::memory_order_acquire);
    if (seen == kPosted) break;
    if (seen == kEmpty &&
        !word_.compare_exchange_strong(seen, kSleeping, std::memory_order_acquire)) {
      continue;  // a Post() came in between: seen is kPosted now
    }
    if (stack_lo != nullptr && !released) {
      // Only once we are sure to sleep: a madvise costs TLB-shootdown IPIs, wasted on a short wait.
      ReleaseStackBelow(stack_lo);
      released = true;
      if (word_.load(std::memory_order_acquire) == kPosted) break;
    }
    if (!slept) {
      slept = true;
      ++parks_;
    }
    FutexWait(&word_, kSleeping);
  }
  // Only the owner leaves kPosted, so a plain store cannot lose a Post().
  word_.store(kEmpty, std::memory_order_relaxed);
  return released;
}

bool Baton::WaitFor(int64_t timeout_ns) {
  const int64_t deadline = NowNs() + timeout_ns;
  bool slept = false;
  for (;;) {
    uint32_t seen = word_.load(std::memory_order_acquire);
    if (seen == kPosted) break;
    if (seen == kEmpty &&
        !word_.compare_exchange_strong(seen, kSleeping, std::memory_order_acquire)) {
      continue;
    }
    if (!slept) {
      slept = true;
      ++parks_;  // counted like Wait()'s parks (fiberStats().coldWakes)
    }
    const int64_t left = deadline - NowNs();
    if (left <= 0 || !FutexWaitFor(&word_, kSleeping, left)) {
      // Timed out: back to kEmpty unless a Post() came in meanwhile (then take it).
      uint32_t sleeping = kSleeping;
      if (word_.compare_exchange_strong(sleeping, kEmpty, std::memory_order_acquire)) return false;
    }
  }
  word_.store(kEmpty, std::memory_order_relaxed);
  return true;
}

}  // namespace greenfiber
