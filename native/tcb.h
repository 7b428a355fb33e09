// The in-thread backend: a fiber runs on the switching thread itself, on a borrowed pthread's
// stack and thread control block (TCB). Nothing here knows of V8 or Node.
//
// Design. Every fiber needs a thread identity of its own for V8 (its thread_local isolate, thread
// id and per-thread data) and for glibc (errno, malloc's tcache, pthread_self, the stack bounds
// pthread_getattr_np reports). A donor is a real pthread, so glibc builds a genuine TCB with its
// static TLS, and a stack; the donor blocks every signal it can, moves to a private park stack and
// waits in a raw futex loop that never touches its own stack or TCB again. A switch saves the
// callee-saved registers on the running stack and loads the other context's stack pointer and FS
// base (the TLS pointer): `wrfsbase` where the kernel allows it (AT_HWCAP2 has HWCAP2_FSGSBASE),
// else the arch_prctl(ARCH_SET_FS) system call. No kernel scheduling is involved in a switch.
// When the backend shuts down, each donor is woken, jumps back onto its own untouched frames and
// returns from its start routine: an ordinary pthread exit, joined.
//
// Linux x86-64 with glibc only (Supported() says so elsewhere; the thread hand-off is the fallback).
// arm64, planned: the switch saves x19-x30 and d8-d15, swaps sp and TPIDR_EL0 (`msr tpidr_el0` is
// allowed at EL0: no system call), and reads a donor's thread pointer with `mrs` in the donor; glibc
// there uses TLS variant I (the thread pointer points at the TCB's end, TLS above it), which changes
// nothing here because the donor publishes its own register value rather than a computed address.
#pragma once

#include <pthread.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

namespace greenfiber {

// A saved execution context: the stack pointer of its suspended frame and its FS base.
struct TcbContext {
  void* sp = nullptr;
  uintptr_t fs = 0;
};

class Donor;

// Admission of new donor threads against a process-wide budget (fiber_core.cc's fiber-thread cap):
// take() reserves one place before a donor is created (false: refused), give(n) returns n places
// when donors fail to start or are joined. Plain functions, so this file stays free of V8.
struct DonorSlots {
  bool (*take)() = nullptr;
  void (*give)(size_t count) = nullptr;
};

// One isolate's donors and its main context. Used by the thread that owns the isolate (the one
// that switches), and by one "keeper" thread that gives idle donors back: a donor left in the pool
// for `idle_ms` exits, unless the pool is down to `idle_keep` donors (as the thread hand-off's pool
// does). The pool (idle_, all_) is guarded by mutex_; each donor's futex words are shared with it.
// The keeper starts when the donors first outnumber `idle_keep` and is joined by Shutdown().
class TcbBackend {
 public:
  // Whether this process can run the in-thread backend; if not, *why says what is missing.
  static bool Supported(std::string* why);

  // `stack_size`: each donor's stack, of which `reserve` (below V8's stack limit) is kept for the
  // native frames under V8's stack check. Records the calling thread as the main context.
  // `idle_ms` 0 keeps every donor.
  TcbBackend(size_t stack_size, size_t reserve, DonorSlots slots = {}, int64_t idle_ms = 0,
             size_t idle_keep = 0);
  ~TcbBackend();  // Shuts down if Shutdown() was not called.
  TcbBackend(const TcbBackend&) = delete;
  TcbBackend& operator=(const TcbBackend&) = delete;

  // Takes a pooled donor (or creates donors) and prepares it to call entry(arg) on its stack and
  // TCB when first switched to. Null if no thread could be created; last_spawn_capped() then says
  // whether the slots refused it (rather than pthread_create failing).
  Donor* Acquire(void (*entry)(void*), void* arg);
  bool last_spawn_capped() const { return last_spawn_capped_; }
  // Leaves the dead fiber's `donor` (the running context) for good and resumes *to; the donor is
  // pooled once nothing runs on it any more (by Settle(), on the resumed side). Never returns.
  [[noreturn]] void Exit(Donor* donor, const TcbContext* to);
  // Must be the first call of a fresh context's entry: pools the donor a dead fiber just left.
  void Settle();

  TcbContext* main_context() { return &main_; }
  static TcbContext* ContextOf(Donor* donor);
  // The lowest address JavaScript may use on the donor's stack (V8's stack limit).
  uintptr_t StackLimit(Donor* donor) const;

  // Saves the running context in *from and resumes *to; returns when something resumes *from.
  void Switch(TcbContext* from, const TcbContext* to);
  // Gives back the pages of the donor's stack below the caller's frame (call on that stack: a
  // fiber's first suspension, which reaches deepest); they read as zeros if touched again.
  static void ReleaseStackBelow(Donor* donor);

  // Wakes and joins every donor. None may be in use (no fiber started and not dead).
  void Shutdown();

  // Donors alive (in use, pooled, or retiring and not yet joined), and pooled ones.
  size_t threads();
  size_t idle();

 private:
  // Creates up to `count` donors; pools them but the first, which it returns (null if none).
  Donor* Spawn(size_t count);
  // How many donors to create when the pool runs empty: grows with the pool, bounded.
  size_t SpawnBatch();
  void Recycle(Donor* donor);
  // The keeper thread: retires donors idle for idle_ms_ beyond idle_keep_, until Shutdown().
  static void* KeeperMain(void* self);
  void Keep();
  // Wakes, joins and frees donors nobody uses, and gives their slots back.
  void Join(const std::vector<Donor*>& donors);

  const size_t stack_size_;
  const size_t reserve_;
  const DonorSlots slots_;
  const int64_t idle_ms_;
  const size_t idle_keep_;
  bool last_spawn_capped_ = false;
  TcbContext main_;
  // A dead fiber's donor, pooled by Settle() once its context has been left.
  Donor* leaving_ = nullptr;
  // Where Exit() saves the abandoned context of a dead fiber (never resumed).
  TcbContext abandoned_;
  std::mutex mutex_;
  std::condition_variable keeper_cv_;
  // Pooled donors, least recently used first, newest last; a donor still starting up is taken
  // last and waited for then. Guarded by mutex_, as are all_, keeper_waiting_ and stopping_.
  std::deque<Donor*> idle_;
  std::unordered_set<Donor*> all_;
  bool keeper_started_ = false;  // owner thread only
  bool keeper_waiting_ = false;  // the keeper sleeps until notified (nothing to retire)
  bool stopping_ = false;
  size_t retiring_ = 0;  // donors the keeper took out of all_ and has not joined yet
  pthread_t keeper_{};
  void (*swap_)(TcbContext*, const TcbContext*);
};

}  // namespace greenfiber
