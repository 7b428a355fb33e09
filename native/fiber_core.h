// The fiber core: stackful fibers that take turns holding one V8 isolate, each a V8 thread of its own.
//
// Two backends carry the fibers. The thread hand-off (below) gives each fiber an OS thread; the
// in-thread backend (tcb.h) runs every fiber on the isolate's own thread, on a borrowed pthread's
// stack and TLS, and switches without the kernel. Both switch inside the same v8::Unlocker, so
// everything here but the few lines choosing one is common to both.
//
// Design. V8 only knows the stacks of threads it has archived through v8::Locker/v8::Unlocker, so
// every fiber runs on an OS thread of its own and exactly one thread of an isolate holds the
// isolate lock at a time. A switch is: the running thread releases the lock (v8::Unlocker), posts
// the target's baton, and waits on its own; the target takes the lock (v8::Locker) and goes on.
// The main fiber is the isolate's own thread (Node's main thread, or a worker's thread), which
// already holds a Locker. Threads of finished fibers park in a pool and are reused.
//
// This layer knows V8's lock and isolate, never Node or N-API: the host (binding.cc) supplies the
// JavaScript entry through the Host interface and owns everything JavaScript-facing.
#pragma once

#include <v8.h>

#include <atomic>
#include <cstdint>
#include <list>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "handoff.h"
#include "tcb.h"

namespace greenfiber {

class IsolateState;
class Worker;

// How many fiber threads this process may have, over all isolates (workers included), and the
// numbers it was derived from. Each thread costs 2 of vm.max_map_count's mappings (stack + guard)
// and one task of kernel.pid_max / kernel.threads-max / RLIMIT_NPROC; a reserve of both stays free
// for V8's heap pages and Node's own threads. Read once, at the first setup of the process.
struct ThreadLimits {
  size_t cap = 0;             // fiber threads allowed (the smaller of by_maps and by_tasks)
  size_t by_maps = 0;         // (max_map_count - maps in use - map reserve) / 2
  size_t by_tasks = 0;        // smallest task limit - tasks in use - task reserve
  size_t max_map_count = 0;   // /proc/sys/vm/max_map_count
  size_t maps_in_use = 0;     // lines of /proc/self/maps at setup
  size_t map_reserve = 0;
  size_t task_limit = 0;      // min(pid_max, threads-max, RLIMIT_NPROC, cgroup pids.max)
  const char* task_limit_name = "";
  size_t tasks_in_use = 0;    // all tasks of the system at setup (/proc/loadavg)
  size_t task_reserve = 0;
  bool explicit_cap = false;  // set by GREENFIBER_MAX_FIBERS (setup option maxFibers)
};

// The process-wide limits (computed on first call; `explicit_cap` > 0 overrides the cap).
const ThreadLimits& Limits(size_t explicit_cap);
// Fiber threads alive in the process (all isolates), pooled ones included.
size_t ProcessFiberThreads();

enum class FiberState : uint8_t { kUnstarted = 0, kRunning = 1, kSuspended = 2, kDead = 3 };

// One fiber. Owned by the host while unstarted or dead, and by the host and its IsolateState
// together while started (see IsolateState::started_); deleted by IsolateState::Release().
class Fiber {
 public:
  explicit Fiber(IsolateState* owner, bool is_main = false);
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  FiberState state() const { return state_; }
  bool is_main() const { return is_main_; }
  IsolateState* owner() const { return owner_; }

  // The host's object for this fiber (binding.cc: the FiberHandle), null once collected.
  void* host_data = nullptr;

 private:
  friend class IsolateState;
  ~Fiber() = default;

  IsolateState* const owner_;
  const bool is_main_;
  FiberState state_ = FiberState::kUnstarted;
  // The thread running this fiber; set while started and not dead (never for the main fiber).
  Worker* worker_ = nullptr;
  // The in-thread backend's donor whose stack and TCB this fiber runs on, likewise.
  Donor* donor_ = nullptr;
  // Set by Teardown(): when this fiber resumes it terminates its JavaScript instead.
  bool terminate_on_resume_ = false;
  // Referenced by the host while started (IsolateState::SetHeld).
  bool held_ = false;
  // True from the fiber's start until it first parks in the kernel (thread hand-off) or first
  // suspends (in-thread backend): that releases the stack pages below it (the first switch reaches
  // deepest; doing it on every park costs IPIs).
  bool stack_release_pending_ = false;
  // The isolate's continuation-preserved embedder data (Node's AsyncContextFrame) as this fiber
  // left it when it switched away; V8 keeps one per isolate, so each fiber keeps its own here.
  v8::Global<v8::Data> continuation_data_;
};

// What the core needs from its host.
class Host {
 public:
  virtual ~Host() = default;
  // Runs `fiber`'s JavaScript on its own thread, with the isolate locked and entered and a
  // HandleScope and Context::Scope open. Returns the fiber to hand the isolate to once it is
  // dead (its parent), or null for the main fiber. Sets *terminated if its JavaScript was
  // terminated rather than finished (TerminateExecution, a worker's process.exit()).
  virtual Fiber* RunEntry(Fiber* fiber, bool* terminated) = 0;
  // Called with the lock held as `fiber` starts or resumes running: the host keeps it alive.
  virtual void OnRunning(Fiber* fiber) = 0;
  // Called with the lock held as `fiber` suspends: the host may let it be collected now.
  virtual void OnSuspended(Fiber* fiber) = 0;
  // Called with the lock held when a started fiber has died, before its thread is reused.
  virtual void OnDead(Fiber* fiber) = 0;
};

// Per-isolate state: the main fiber, the current one, the started ones and the thread pool.
// Every member is read and written only by the thread that holds the isolate lock, except the
// batons (see handoff.h) and Worker::exit_, which are handed across threads on purpose.
class IsolateState {
 public:
  enum class Backend : uint8_t { kThread = 0, kTcb = 1 };

  IsolateState(v8::Isolate* isolate, v8::Local<v8::Context> context, Host* host,
               HandoffPolicy policy, Backend backend = Backend::kThread);
  ~IsolateState();

  v8::Isolate* isolate() const { return isolate_; }
  Fiber* main() const { return main_; }
  Fiber* current() const { return current_; }
  bool tearing_down() const { return tearing_down_; }

  // Creates an unstarted fiber owned by this isolate.
  Fiber* NewFiber();
  // Hands the isolate to `target` and blocks until some fiber hands it back to the caller.
  // Preconditions (checked by the host): the caller is current_, target is unstarted or
  // suspended and belongs to this isolate. Returns false if no thread could be had for an
  // unstarted target; nothing changed then.
  bool Transfer(Fiber* target);
  // Why the last Transfer() returned false: the process is at its fiber-thread cap (true), or
  // pthread_create failed (false).
  bool last_start_capped() const { return last_start_capped_; }
  // The host no longer references `fiber`: deleted now if it is unstarted or dead, later (when it
  // dies) if it is started.
  void Release(Fiber* fiber);
  // The host keeps `fiber` referenced for as long as it is started (a live greenlet): it can never
  // be dropped while suspended, so it does not count towards NoteStarted()'s GC hints.
  void SetHeld(Fiber* fiber);
  // Unwinds nothing and runs no JavaScript: terminates every suspended fiber (their JavaScript
  // stops as by TerminateExecution, no finally blocks), then joins the pooled threads. Called on
  // the main fiber when the isolate's environment is torn down.
  void Teardown();

  struct Stats {
    size_t threads;    // OS threads of this isolate alive (running, suspended or pooled; donors for kTcb)
    size_t idle;       // pooled threads waiting for a fiber
    size_t started;    // fibers started and not yet dead
    Backend backend;
    uint64_t switches;    // transfers of the isolate from one fiber to another
    uint64_t hot_wakes;   // kThread: the woken thread was spinning and saw the baton at once
    uint64_t cold_wakes;  // kThread: the woken thread had parked in the kernel (a futex wake)
  };
  Stats stats();

 private:
  friend class Worker;
  // Binds a pooled (or new) thread to an unstarted fiber. False if no thread could be created.
  bool Attach(Fiber* fiber);
  // Called by a pooled thread whose idle wait timed out: takes it out of the pool (true) unless
  // a fiber claimed it meanwhile or the pool is down to its warm reserve.
  bool TryRetire(Worker* worker);
  // Joins retired threads that have exited (never blocks).
  void Reap();
  // The body of a worker thread for one fiber; see Worker::Main.
  void RunFiber(Worker* worker);
  // The first frame of a fiber on a donor's stack (in-thread backend); never returns.
  static void RunOnDonor(void* fiber);
  // Runs a started fiber's JavaScript to its end with the isolate locked, and makes the fiber to
  // hand over to current; returns it. The caller hands the isolate over once the lock is gone.
  Fiber* RunToEnd(Fiber* fiber, uintptr_t stack_limit);
  // Counts a wake of the calling fiber's thread after a baton wait (thread hand-off).
  void CountWake(const Baton& baton, uint32_t parks_before);
  // Makes `next` the running fiber after the caller stopped running (lock held).
  void MakeCurrent(Fiber* next);
  void SaveContinuationData(Fiber* fiber);
  void RestoreContinuationData(Fiber* fiber);
  // Keep the continuation data out of V8's root slot during a scavenge (see fiber_core.cc).
  static void ParkContinuationData(v8::Isolate* isolate, v8::GCType type, v8::GCCallbackFlags flags, void* data);
  static void UnparkContinuationData(v8::Isolate* isolate, v8::GCType type, v8::GCCallbackFlags flags, void* data);
  Baton* BatonOf(Fiber* fiber);
  TcbContext* ContextOf(Fiber* fiber);
  void DeleteFiber(Fiber* fiber);
  // Exits the isolate as often as this thread entered it (V8 < 12 only; see fiber_core.cc) and
  // returns how often; Reenter() enters it that many times again once the lock is retaken.
  int ExitFully();
  void Reenter(int entries);

  v8::Isolate* const isolate_;
  v8::Global<v8::Context> context_;
  // The isolate's continuation data while a scavenge runs (ParkContinuationData); empty otherwise.
  v8::Global<v8::Data> parked_continuation_data_;
  bool continuation_data_parked_ = false;
  Host* const host_;
  const HandoffPolicy policy_;
  int pinned_cpu_ = -1;

  Fiber* main_;
  Fiber* current_;
  Baton main_baton_;
  // The in-thread backend; null for the thread hand-off.
  TcbBackend* tcb_ = nullptr;
  uint64_t switches_ = 0;
  uint64_t hot_wakes_ = 0;
  uint64_t cold_wakes_ = 0;
  // Fibers started and not dead (suspended, or running on their thread). Owned jointly with the
  // host: a fiber the host released is deleted when it leaves this set.
  std::unordered_set<Fiber*> started_;
  // The started fibers that are held (SetHeld): no GC can free them, so no GC hint is for them.
  size_t held_started_ = 0;
  // When the started fibers that are not held reach this, NoteStarted() asks V8 for a GC (see there).
  static constexpr size_t kGcHintMin = 1024;
  size_t gc_hint_at_ = kGcHintMin;
  size_t Droppable() const { return started_.size() - held_started_; }
  void NoteStarted();
  // Fibers the host released while started; deleted when they die.
  std::unordered_set<Fiber*> released_;
  // The pool. Guarded by pool_mutex_: pooled threads retire themselves without the isolate lock.
  std::mutex pool_mutex_;
  std::list<Worker*> idle_;           // most recently pooled at the back
  std::vector<Worker*> retired_;      // left the pool, exiting; joined by Reap()
  std::unordered_set<Worker*> all_workers_;  // every thread not yet joined (isolate lock)
  bool last_start_capped_ = false;
  bool tearing_down_ = false;
  // Set when a fiber's JavaScript was terminated (worker.terminate(), or a terminating
  // process.exit() in a worker): the main fiber terminates as well when it resumes.
  bool propagate_termination_ = false;
};

}  // namespace greenfiber
