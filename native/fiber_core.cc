// The fiber core: threads, the lock hand-off and the fiber state machine. See fiber_core.h.
#include "fiber_core.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace greenfiber {

namespace {
// A fiber thread's stack. V8 gets all of it but kStackReserve for JavaScript (about what Node's
// main thread gives it); the reserve is for the native frames below V8's stack-limit check, so deep
// recursion throws RangeError instead of running off the end.
constexpr size_t kStackSize = 1536 * 1024;
constexpr size_t kStackReserve = 256 * 1024;
}  // namespace

// A pooled OS thread. It waits on its baton, runs the fiber it was given, and waits again.
class Worker {
 public:
  explicit Worker(IsolateState* owner) : owner_(owner) {}

  static void* Main(void* arg) {
    Worker* self = static_cast<Worker*>(arg);
    pthread_attr_t attr;
    void* stack_lo = nullptr;
    size_t stack_size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      pthread_attr_getstack(&attr, &stack_lo, &stack_size);
      pthread_attr_destroy(&attr);
    }
    self->stack_limit_ = reinterpret_cast<uintptr_t>(stack_lo) + kStackReserve;
    self->stack_lo_ = stack_lo;
    const HandoffPolicy& policy = self->owner_->policy_;
    for (;;) {
      // Pooled (or just created for a fiber): wait for a fiber, or give the thread back after
      // policy.idle_ms unless the pool is down to its warm reserve.
      self->parks_before_ = self->baton_.parks();
      if (policy.idle_ms > 0 ? !self->baton_.WaitFor(policy.idle_ms * 1000000)
                             : (self->baton_.Wait(policy), false)) {
        if (self->owner_->TryRetire(self)) break;
        continue;
      }
      // Acquire pairs with the release in Teardown(): exit_ is read after the baton was posted.
      if (self->exit_.load(std::memory_order_acquire)) break;
      self->owner_->RunFiber(self);
    }
    return nullptr;
  }

  IsolateState* const owner_;
  pthread_t thread_{};
  Baton baton_;
  Fiber* fiber_ = nullptr;  // the fiber this thread runs; null while pooled
  uintptr_t stack_limit_ = 0;
  void* stack_lo_ = nullptr;  // the lowest address of this thread's stack
  uint32_t parks_before_ = 0;  // baton_.parks() before the wait that started the fiber
  std::atomic<bool> exit_{false};
  std::list<Worker*>::iterator idle_pos_;  // valid while pooled (pool_mutex_)
};

namespace {

std::atomic<size_t> g_fiber_threads{0};

size_t ReadNumber(const char* path) {
  FILE* file = fopen(path, "r");
  if (file == nullptr) return 0;
  unsigned long long value = 0;
  if (fscanf(file, "%llu", &value) != 1) value = 0;
  fclose(file);
  return static_cast<size_t>(value);
}

size_t CountLines(const char* path) {
  FILE* file = fopen(path, "r");
  if (file == nullptr) return 0;
  size_t lines = 0;
  char buffer[65536];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), file)) > 0) {
    for (size_t i = 0; i < n; ++i) lines += buffer[i] == '\n';
  }
  fclose(file);
  return lines;
}

// All tasks (threads) of the system now: the denominator of /proc/loadavg's fourth field.
size_t SystemTasks() {
  FILE* file = fopen("/proc/loadavg", "r");
  if (file == nullptr) return 0;
  double a, b, c;
  unsigned long running = 0, total = 0;
  if (fscanf(file, "%lf %lf %lf %lu/%lu", &a, &b, &c, &running, &total) != 5) total = 0;
  fclose(file);
  return total;
}

ThreadLimits ComputeLimits() {
  ThreadLimits l;
  l.max_map_count = ReadNumber("/proc/sys/vm/max_map_count");
  if (l.max_map_count == 0) l.max_map_count = 65530;
  l.maps_in_use = CountLines("/proc/self/maps");
  // V8 maps its heap in 256 KiB pages: a quarter of the mappings (at least 8192, 2 GiB of heap
  // pages) stays free for it and for Node.
  l.map_reserve = std::max<size_t>(8192, l.max_map_count / 4);
  l.by_maps = l.max_map_count > l.maps_in_use + l.map_reserve
                  ? (l.max_map_count - l.maps_in_use - l.map_reserve) / 2
                  : 0;
  struct Candidate {
    size_t value;
    const char* name;
  };
  Candidate candidates[4] = {
      {ReadNumber("/proc/sys/kernel/pid_max"), "kernel.pid_max"},
      {ReadNumber("/proc/sys/kernel/threads-max"), "kernel.threads-max"},
      {0, "ulimit -u (RLIMIT_NPROC)"},
      {ReadNumber("/sys/fs/cgroup/pids.max"), "the cgroup's pids.max"},
  };
  rlimit nproc{};
  if (getrlimit(RLIMIT_NPROC, &nproc) == 0 && nproc.rlim_cur != RLIM_INFINITY) {
    candidates[2].value = static_cast<size_t>(nproc.rlim_cur);
  }
  l.task_limit = 0;
  for (const Candidate& c : candidates) {
    if (c.value != 0 && (l.task_limit == 0 || c.value < l.task_limit)) {
      l.task_limit = c.value;
      l.task_limit_name = c.name;
    }
  }
  if (l.task_limit == 0) {
    l.task_limit = 32768;
    l.task_limit_name = "kernel.pid_max";
  }
  l.tasks_in_use = SystemTasks();
  // Node's and libuv's threads, other processes: a sixteenth of the limit, at least 512.
  l.task_reserve = std::max<size_t>(512, l.task_limit / 16);
  l.by_tasks = l.task_limit > l.tasks_in_use + l.task_reserve
                   ? l.task_limit - l.tasks_in_use - l.task_reserve
                   : 0;
  l.cap = std::min(l.by_maps, l.by_tasks);
  return l;
}

}  // namespace

const ThreadLimits& Limits(size_t explicit_cap) {
  static std::once_flag once;
  static ThreadLimits limits;
  std::call_once(once, [explicit_cap] {
    limits = ComputeLimits();
    if (explicit_cap > 0) {
      limits.cap = explicit_cap;
      limits.explicit_cap = true;
    }
  });
  return limits;
}

namespace {
// The fiber-thread cap's admission for the in-thread backend's donors (tcb.h DonorSlots): a donor
// is a kernel thread with a stack like a worker, so it takes a place the same way.
bool TakeThreadSlot() {
  if (g_fiber_threads.fetch_add(1, std::memory_order_relaxed) >= Limits(0).cap) {
    g_fiber_threads.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}
void GiveThreadSlots(size_t count) { g_fiber_threads.fetch_sub(count, std::memory_order_relaxed); }
}  // namespace

size_t ProcessFiberThreads() { return g_fiber_threads.load(std::memory_order_relaxed); }

Fiber::Fiber(IsolateState* owner, bool is_main) : owner_(owner), is_main_(is_main) {
  if (is_main) state_ = FiberState::kRunning;
}

IsolateState::IsolateState(v8::Isolate* isolate, v8::Local<v8::Context> context, Host* host,
                           HandoffPolicy policy, Backend backend)
    : isolate_(isolate), context_(isolate, context), host_(host), policy_(policy) {
  main_ = new Fiber(this, true);
  current_ = main_;
#if V8_MAJOR_VERSION > 12 || (V8_MAJOR_VERSION == 12 && V8_MINOR_VERSION >= 4)
  isolate_->AddGCPrologueCallback(&ParkContinuationData, this, v8::kGCTypeScavenge);
  isolate_->AddGCEpilogueCallback(&UnparkContinuationData, this, v8::kGCTypeScavenge);
#endif
  if (backend == Backend::kTcb) {
    DonorSlots slots;
    slots.take = &TakeThreadSlot;
    slots.give = &GiveThreadSlots;
    tcb_ = new TcbBackend(kStackSize, kStackReserve, slots, policy_.idle_ms, policy_.idle_keep);
    return;  // one kernel thread: nothing to pin
  }
  if (policy_.pin) {
    pinned_cpu_ = sched_getcpu();
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(pinned_cpu_, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  }
}

IsolateState::~IsolateState() {
  delete tcb_;
  for (Fiber* fiber : released_) delete fiber;
  delete main_;
  for (Worker* worker : all_workers_) delete worker;
}

Fiber* IsolateState::NewFiber() { return new Fiber(this); }

void IsolateState::SetHeld(Fiber* fiber) {
  if (fiber->held_ || fiber->is_main_) return;
  fiber->held_ = true;
  if (started_.count(fiber) != 0) ++held_started_;
}

Baton* IsolateState::BatonOf(Fiber* fiber) {
  return fiber->is_main_ ? &main_baton_ : &fiber->worker_->baton_;
}

// A dropped suspended fiber holds its thread (or donor) until a GC finds its handle, and a loop
// that drops fibers may allocate too little JavaScript memory to start one: when the started
// fibers reach gc_hint_at_, V8 is told of memory pressure, which starts incremental marking (done
// by V8's concurrent markers, finished on this thread at its next allocation steps). The next
// hint waits for twice as many, so a burst of live fibers (which no GC can free) costs a GC per
// doubling; fibers dying bring the threshold back down, so a loop dropping fibers sees one per
// 1,024 new ones. Held fibers (live greenlets) are not counted: a burst of 10,000 greenlets
// asked for four full GCs, each walking every suspended stack, and none could free one.
void IsolateState::NoteStarted() {
  const size_t live = Droppable();
  if (live < gc_hint_at_) return;
  gc_hint_at_ = 2 * live;
  isolate_->MemoryPressureNotification(v8::MemoryPressureLevel::kModerate);
}

bool IsolateState::Attach(Fiber* fiber) {
  last_start_capped_ = false;
  if (tcb_ != nullptr) {
    fiber->donor_ = tcb_->Acquire(&IsolateState::RunOnDonor, fiber);
    if (fiber->donor_ == nullptr) {
      last_start_capped_ = tcb_->last_spawn_capped();
      return false;
    }
    fiber->stack_release_pending_ = true;
    started_.insert(fiber);
    if (fiber->held_) ++held_started_;
    NoteStarted();
    return true;
  }
  Worker* worker = nullptr;
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    if (!idle_.empty()) {
      worker = idle_.back();
      idle_.pop_back();
      worker->fiber_ = fiber;  // claimed: its idle timeout will not retire it now
    }
  }
  if (worker == nullptr) {
    Reap();
    // Counted before pthread_create so that two isolates cannot both take the last place.
    if (!TakeThreadSlot()) {
      last_start_capped_ = true;
      return false;
    }
    worker = new Worker(this);
    worker->fiber_ = fiber;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, kStackSize);
    int err = pthread_create(&worker->thread_, &attr, &Worker::Main, worker);
    pthread_attr_destroy(&attr);
    if (err != 0) {
      g_fiber_threads.fetch_sub(1, std::memory_order_relaxed);
      delete worker;
      return false;
    }
    if (pinned_cpu_ >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(pinned_cpu_, &set);
      pthread_setaffinity_np(worker->thread_, sizeof(set), &set);
    }
    all_workers_.insert(worker);
  }
  fiber->worker_ = worker;
  fiber->stack_release_pending_ = true;
  started_.insert(fiber);
  if (fiber->held_) ++held_started_;
  NoteStarted();
  return true;
}

bool IsolateState::TryRetire(Worker* worker) {
  std::lock_guard<std::mutex> lock(pool_mutex_);
  // exit_ is set (under this mutex) by Teardown(), which then empties idle_ itself.
  if (worker->fiber_ != nullptr || worker->exit_.load(std::memory_order_relaxed) ||
      idle_.size() <= policy_.idle_keep) {
    return false;
  }
  idle_.erase(worker->idle_pos_);
  retired_.push_back(worker);
  return true;
}

void IsolateState::Reap() {
  std::vector<Worker*> retired;
  {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    retired.swap(retired_);
  }
  std::vector<Worker*> running;
  for (Worker* worker : retired) {
    if (pthread_tryjoin_np(worker->thread_, nullptr) == 0) {
      all_workers_.erase(worker);
      delete worker;
      g_fiber_threads.fetch_sub(1, std::memory_order_relaxed);
    } else {
      running.push_back(worker);
    }
  }
  if (!running.empty()) {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    retired_.insert(retired_.end(), running.begin(), running.end());
  }
}

void IsolateState::MakeCurrent(Fiber* next) {
  next->state_ = FiberState::kRunning;
  current_ = next;
  host_->OnRunning(next);
}

void IsolateState::SaveContinuationData(Fiber* fiber) {
  v8::HandleScope handle_scope(isolate_);  // Teardown() calls Transfer() outside any scope
#if V8_MAJOR_VERSION > 12 || (V8_MAJOR_VERSION == 12 && V8_MINOR_VERSION >= 4)
#if V8_MAJOR_VERSION >= 14
  v8::Local<v8::Data> data = isolate_->GetContinuationPreservedEmbedderDataV2();
#else
  v8::Local<v8::Data> data = isolate_->GetContinuationPreservedEmbedderData();
#endif
  // Most switches leave the same frame behind: keep the global handle rather than remake it.
  if (fiber->continuation_data_.IsEmpty() || fiber->continuation_data_ != data) {
    fiber->continuation_data_.Reset(isolate_, data);
  }
#else
  (void)fiber;  // V8 before 12.4 keeps no continuation data (Node 20 has no AsyncContextFrame)
#endif
}

// V8 visits the isolate's continuation data slot (Node's AsyncContextFrame on Node 24+) as a root
// once for the running thread and once more for every thread state that v8::Unlocker archived:
// Isolate::Iterate(visitor, thread) reads the isolate's slot, not the thread's. A suspended fiber
// is such an archived state, so with fibers suspended a scavenge evacuates the same young object
// two or more times: the references fixed up by the first copy point at a forwarded husk, and the
// process dies in a later GC ("unreachable code") or segfaults. A full GC marks idempotently and
// is unaffected. So for the span of each scavenge the slot holds undefined (an immortal root) and
// the value waits in a global handle, which the scavenger visits exactly once.
void IsolateState::ParkContinuationData(v8::Isolate* isolate, v8::GCType, v8::GCCallbackFlags, void* data) {
#if V8_MAJOR_VERSION > 12 || (V8_MAJOR_VERSION == 12 && V8_MINOR_VERSION >= 4)
  IsolateState* self = static_cast<IsolateState*>(data);
  if (self->continuation_data_parked_) return;
  v8::HandleScope handle_scope(isolate);
#if V8_MAJOR_VERSION >= 14
  self->parked_continuation_data_.Reset(isolate, isolate->GetContinuationPreservedEmbedderDataV2());
  isolate->SetContinuationPreservedEmbedderDataV2(v8::Undefined(isolate));
#else
  self->parked_continuation_data_.Reset(isolate, isolate->GetContinuationPreservedEmbedderData());
  isolate->SetContinuationPreservedEmbedderData(v8::Undefined(isolate));
#endif
  self->continuation_data_parked_ = true;
#else
  (void)isolate;
  (void)data;
#endif
}

void IsolateState::UnparkContinuationData(v8::Isolate* isolate, v8::GCType, v8::GCCallbackFlags, void* data) {
#if V8_MAJOR_VERSION > 12 || (V8_MAJOR_VERSION == 12 && V8_MINOR_VERSION >= 4)
  IsolateState* self = static_cast<IsolateState*>(data);
  if (!self->continuation_data_parked_) return;
  v8::HandleScope handle_scope(isolate);
#if V8_MAJOR_VERSION >= 14
  isolate->SetContinuationPreservedEmbedderDataV2(self->parked_continuation_data_.Get(isolate));
#else
  isolate->SetContinuationPreservedEmbedderData(self->parked_continuation_data_.Get(isolate).As<v8::Value>());
#endif
  self->parked_continuation_data_.Reset();
  self->continuation_data_parked_ = false;
#else
  (void)isolate;
  (void)data;
#endif
}

void IsolateState::RestoreContinuationData(Fiber* fiber) {
  v8::HandleScope handle_scope(isolate_);
#if V8_MAJOR_VERSION >= 14
  if (!fiber->continuation_data_.IsEmpty()) {
    isolate_->SetContinuationPreservedEmbedderDataV2(fiber->continuation_data_.Get(isolate_));
  }
#elif V8_MAJOR_VERSION > 12 || (V8_MAJOR_VERSION == 12 && V8_MINOR_VERSION >= 4)
  if (!fiber->continuation_data_.IsEmpty()) {
    isolate_->SetContinuationPreservedEmbedderData(
        fiber->continuation_data_.Get(isolate_).As<v8::Value>());
  }
#else
  (void)fiber;
#endif
}

// V8 before 12 (Node 20) records the stack start that its conservative stack scan (cppgc's final
// pause) walks to once per isolate, when a thread enters it, and Locker/Unlocker do not archive it:
// the last fiber thread to enter would win, and a GC on any other thread would scan from its own
// stack pointer to that thread's stack top, crossing unmapped guard pages. So a thread leaving the
// isolate exits it fully, and the first Enter after the lock is retaken re-reads the stack start of
// the thread that really runs. V8 12+ keeps the stack start per thread: nothing to do there.
int IsolateState::ExitFully() {
#if V8_MAJOR_VERSION < 12
  int entries = 0;
  while (isolate_->IsCurrent()) {
    isolate_->Exit();
    ++entries;
  }
  return entries;
#else
  return 0;
#endif
}

void IsolateState::Reenter(int entries) {
  for (int i = 0; i < entries; ++i) isolate_->Enter();
}

bool IsolateState::Transfer(Fiber* target) {
  Fiber* self = current_;
  last_start_capped_ = false;
  if (target->state_ == FiberState::kUnstarted && !Attach(target)) return false;
  self->state_ = FiberState::kSuspended;
  MakeCurrent(target);
  host_->OnSuspended(self);
  SaveContinuationData(self);
  ++switches_;
  uint32_t parks_before = 0;
  const int entries = ExitFully();
  {
    // Releases the isolate: V8 archives this thread's stack and state until the Unlocker ends.
    v8::Unlocker unlocker(isolate_);
    if (tcb_ != nullptr) {
      // Runs the target on this thread; returns when some fiber switches back to this one.
      if (self->stack_release_pending_) {
        self->stack_release_pending_ = false;  // the first suspension reaches deepest
        TcbBackend::ReleaseStackBelow(self->donor_);
      }
      tcb_->Switch(ContextOf(self), ContextOf(target));
    } else {
      BatonOf(target)->Post();
      void* release = self->stack_release_pending_ ? self->worker_->stack_lo_ : nullptr;
      parks_before = BatonOf(self)->parks();
      if (BatonOf(self)->Wait(policy_, release)) self->stack_release_pending_ = false;
    }
  }
  Reenter(entries);
  if (tcb_ == nullptr) CountWake(*BatonOf(self), parks_before);
  // Whoever handed the isolate back made us current_ before posting our baton.
  RestoreContinuationData(self);
  if (self->terminate_on_resume_) {
    isolate_->TerminateExecution();
  } else if (self->is_main_ && propagate_termination_) {
    propagate_termination_ = false;
    isolate_->TerminateExecution();
  }
  return true;
}

void IsolateState::CountWake(const Baton& baton, uint32_t parks_before) {
  if (baton.parks() != parks_before) {
    ++cold_wakes_;
  } else {
    ++hot_wakes_;
  }
}

TcbContext* IsolateState::ContextOf(Fiber* fiber) {
  return fiber->is_main_ ? tcb_->main_context() : TcbBackend::ContextOf(fiber->donor_);
}

void IsolateState::RunFiber(Worker* worker) {
  Fiber* next = RunToEnd(worker->fiber_, worker->stack_limit_);
  // The isolate is unlocked and exited: hand it over. If `next` was pooled on this very thread's
  // list it cannot be us: we were pushed after Attach() picked it.
  BatonOf(next)->Post();
}

void IsolateState::RunOnDonor(void* arg) {
  Fiber* fiber = static_cast<Fiber*>(arg);
  IsolateState* self = fiber->owner_;
  self->tcb_->Settle();
  Donor* donor = fiber->donor_;
  Fiber* next = self->RunToEnd(fiber, self->tcb_->StackLimit(donor));
  // The donor is pooled once we are off it (its idle keeper may retire it from then on); its
  // context is rebuilt when it is taken again.
  self->tcb_->Exit(donor, self->ContextOf(next));
}

Fiber* IsolateState::RunToEnd(Fiber* fiber, uintptr_t stack_limit) {
  Fiber* next = nullptr;
  {
    v8::Locker locker(isolate_);
    v8::Isolate::Scope isolate_scope(isolate_);
    isolate_->SetStackLimit(stack_limit);
    if (tcb_ == nullptr) CountWake(fiber->worker_->baton_, fiber->worker_->parks_before_);
    {
      v8::HandleScope handle_scope(isolate_);
      v8::Context::Scope context_scope(context_.Get(isolate_));
      bool terminated = fiber->terminate_on_resume_;
      if (!terminated) next = host_->RunEntry(fiber, &terminated);
      if (terminated || isolate_->IsExecutionTerminating()) {
        isolate_->CancelTerminateExecution();
        if (!fiber->terminate_on_resume_) propagate_termination_ = true;
        next = main_;
      }
    }
    fiber->state_ = FiberState::kDead;
    fiber->continuation_data_.Reset();
    Worker* worker = fiber->worker_;
    fiber->worker_ = nullptr;
    fiber->donor_ = nullptr;
    if (started_.erase(fiber) != 0 && fiber->held_) --held_started_;
    // Back to a hint per 1,024 new fibers once dropped ones have been collected.
    gc_hint_at_ = std::min(gc_hint_at_, std::max(kGcHintMin, 2 * Droppable()));
    host_->OnDead(fiber);
    if (released_.erase(fiber) != 0) delete fiber;

    if (next == nullptr || next->state_ == FiberState::kDead ||
        next->state_ == FiberState::kRunning ||
        (next->state_ == FiberState::kUnstarted && !Attach(next))) {
      next = main_;
    }
    ++switches_;
    MakeCurrent(next);
    if (worker != nullptr) {
      std::lock_guard<std::mutex> lock(pool_mutex_);
      worker->fiber_ = nullptr;
      worker->idle_pos_ = idle_.insert(idle_.end(), worker);
    }  // the in-thread backend pools its donor in RunOnDonor, once off its stack
  }
  return next;
}

void IsolateState::Release(Fiber* fiber) {
  fiber->host_data = nullptr;
  if (fiber->is_main_) return;  // deleted with the IsolateState
  if (fiber->state_ == FiberState::kUnstarted || fiber->state_ == FiberState::kDead) {
    delete fiber;
  } else {
    released_.insert(fiber);
  }
}

void IsolateState::Teardown() {
  tearing_down_ = true;
  // Cleanup hooks run outside any HandleScope; V8 13+ makes handles while handing the lock over.
  v8::HandleScope handle_scope(isolate_);
  // Termination runs no JavaScript, so no fiber can start or resume another meanwhile; each one we
  // resume dies and hands the isolate straight back to us.
  while (!started_.empty()) {
    Fiber* fiber = *started_.begin();
    fiber->terminate_on_resume_ = true;
    if (fiber->state_ != FiberState::kSuspended) {
      if (started_.erase(fiber) != 0 && fiber->held_) --held_started_;  // cannot happen: only the main fiber runs now
      continue;
    }
    Transfer(fiber);
    isolate_->CancelTerminateExecution();
  }
  {
    // exit_, set under this mutex, keeps these threads from retiring themselves meanwhile.
    std::lock_guard<std::mutex> lock(pool_mutex_);
    for (Worker* worker : idle_) {
      // Release: the worker reads exit_ after its baton wakes it.
      worker->exit_.store(true, std::memory_order_release);
      worker->baton_.Post();
    }
    idle_.clear();
    retired_.clear();  // they exit by themselves; joined below with the rest
  }
  {
    // Pooled threads take no lock on their way out, but a worker still returning from its last
    // fiber may be between its Locker's release and its next Wait(): unlock so nothing waits on us.
    v8::Unlocker unlocker(isolate_);
    for (Worker* worker : all_workers_) pthread_join(worker->thread_, nullptr);
    if (tcb_ != nullptr) tcb_->Shutdown();
  }
  g_fiber_threads.fetch_sub(all_workers_.size(), std::memory_order_relaxed);
  for (Worker* worker : all_workers_) delete worker;
  all_workers_.clear();
  // V8 handles must go while the isolate lives: this object may outlive it (see binding.cc).
  main_->continuation_data_.Reset();
#if V8_MAJOR_VERSION > 12 || (V8_MAJOR_VERSION == 12 && V8_MINOR_VERSION >= 4)
  isolate_->RemoveGCPrologueCallback(&ParkContinuationData, this);
  isolate_->RemoveGCEpilogueCallback(&UnparkContinuationData, this);
#endif
  parked_continuation_data_.Reset();
  context_.Reset();
}

IsolateState::Stats IsolateState::stats() {
  if (tcb_ != nullptr) {
    return Stats{tcb_->threads(), tcb_->idle(), started_.size(), Backend::kTcb, switches_, 0, 0};
  }
  Reap();
  std::lock_guard<std::mutex> lock(pool_mutex_);
  return Stats{all_workers_.size() - retired_.size(), idle_.size(), started_.size(),
               Backend::kThread, switches_, hot_wakes_, cold_wakes_};
}

}  // namespace greenfiber
