// The fiber core: threads, the lock hand-off and the fiber state machine. See fiber_core.h.
#include "fiber_core.h"

#include <pthread.h>
#include <sched.h>

#include <cstdio>
#include <cstdlib>

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
    for (;;) {
      self->parks_before_ = self->baton_.parks();
      self->baton_.Wait(self->owner_->policy_);
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
};

Fiber::Fiber(IsolateState* owner, bool is_main) : owner_(owner), is_main_(is_main) {
  if (is_main) state_ = FiberState::kRunning;
}

IsolateState::IsolateState(v8::Isolate* isolate, v8::Local<v8::Context> context, Host* host,
                           HandoffPolicy policy, Backend backend)
    : isolate_(isolate), context_(isolate, context), host_(host), policy_(policy) {
  main_ = new Fiber(this, true);
  current_ = main_;
  if (backend == Backend::kTcb) {
    tcb_ = new TcbBackend(kStackSize, kStackReserve);
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

Baton* IsolateState::BatonOf(Fiber* fiber) {
  return fiber->is_main_ ? &main_baton_ : &fiber->worker_->baton_;
}

bool IsolateState::Attach(Fiber* fiber) {
  if (tcb_ != nullptr) {
    fiber->donor_ = tcb_->Acquire(&IsolateState::RunOnDonor, fiber);
    if (fiber->donor_ == nullptr) return false;
    started_.insert(fiber);
    return true;
  }
  Worker* worker;
  if (!idle_.empty()) {
    worker = idle_.back();
    idle_.pop_back();
  } else {
    worker = new Worker(this);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, kStackSize);
    int err = pthread_create(&worker->thread_, &attr, &Worker::Main, worker);
    pthread_attr_destroy(&attr);
    if (err != 0) {
      delete worker;
      return false;
    }
    if (pinned_cpu_ >= 0) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(pinned_cpu_, &set);
      pthread_setaffinity_np(worker->thread_, sizeof(set), &set);
    }
    all_workers_.push_back(worker);
  }
  worker->fiber_ = fiber;
  fiber->worker_ = worker;
  fiber->stack_release_pending_ = true;
  started_.insert(fiber);
  return true;
}

void IsolateState::MakeCurrent(Fiber* next) {
  next->state_ = FiberState::kRunning;
  current_ = next;
  host_->OnRunning(next);
}

void IsolateState::SaveContinuationData(Fiber* fiber) {
  v8::HandleScope handle_scope(isolate_);  // Teardown() calls Transfer() outside any scope
#if V8_MAJOR_VERSION >= 14
  fiber->continuation_data_.Reset(isolate_, isolate_->GetContinuationPreservedEmbedderDataV2());
#elif V8_MAJOR_VERSION > 12 || (V8_MAJOR_VERSION == 12 && V8_MINOR_VERSION >= 4)
  fiber->continuation_data_.Reset(isolate_, isolate_->GetContinuationPreservedEmbedderData());
#else
  (void)fiber;  // V8 before 12.4 keeps no continuation data (Node 20 has no AsyncContextFrame)
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
  TcbContext* context = TcbBackend::ContextOf(fiber->donor_);
  Fiber* next = self->RunToEnd(fiber, self->tcb_->StackLimit(fiber->donor_));
  // The donor is pooled again but nothing can take it before we leave: only this thread runs the
  // isolate, and it is here. Its context is rebuilt when it is taken; this one is abandoned.
  self->tcb_->Switch(context, self->ContextOf(next));
  __builtin_trap();  // nothing switches to a context abandoned by a dead fiber
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
    Donor* donor = fiber->donor_;
    fiber->worker_ = nullptr;
    fiber->donor_ = nullptr;
    started_.erase(fiber);
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
      worker->fiber_ = nullptr;
      idle_.push_back(worker);
    } else {
      tcb_->Recycle(donor);
    }
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
      started_.erase(fiber);  // cannot happen: only the main fiber runs now
      continue;
    }
    Transfer(fiber);
    isolate_->CancelTerminateExecution();
  }
  for (Worker* worker : idle_) {
    // Release: the worker reads exit_ after its baton wakes it.
    worker->exit_.store(true, std::memory_order_release);
    worker->baton_.Post();
  }
  {
    // Pooled threads take no lock on their way out, but a worker still returning from its last
    // fiber may be between its Locker's release and its next Wait(): unlock so nothing waits on us.
    v8::Unlocker unlocker(isolate_);
    for (Worker* worker : all_workers_) pthread_join(worker->thread_, nullptr);
    if (tcb_ != nullptr) tcb_->Shutdown();
  }
  idle_.clear();
  // V8 handles must go while the isolate lives: this object may outlive it (see binding.cc).
  main_->continuation_data_.Reset();
  context_.Reset();
}

IsolateState::Stats IsolateState::stats() const {
  if (tcb_ != nullptr) {
    return Stats{tcb_->threads(), tcb_->idle(), started_.size(), Backend::kTcb, switches_, 0, 0};
  }
  return Stats{all_workers_.size(), idle_.size(), started_.size(), Backend::kThread,
               switches_,           hot_wakes_,   cold_wakes_};
}

}  // namespace greenfiber
