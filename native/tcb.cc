// Donors, their pool and the stack + FS base switch. See tcb.h for the design.
#include "tcb.h"

#if defined(__x86_64__) && defined(__linux__) && defined(__GLIBC__)
#define GREENFIBER_TCB 1
#endif

#ifdef GREENFIBER_TCB
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>

#include "handoff.h"
#endif

namespace greenfiber {

#ifndef GREENFIBER_TCB

bool TcbBackend::Supported(std::string* why) {
  *why = "the in-thread backend needs Linux on x86-64 with glibc";
  return false;
}
TcbBackend::TcbBackend(size_t stack_size, size_t reserve, DonorSlots slots, int64_t idle_ms,
                       size_t idle_keep)
    : stack_size_(stack_size),
      reserve_(reserve),
      slots_(slots),
      idle_ms_(idle_ms),
      idle_keep_(idle_keep),
      swap_(nullptr) {}
TcbBackend::~TcbBackend() = default;
Donor* TcbBackend::Acquire(void (*)(void*), void*) { return nullptr; }
void TcbBackend::Recycle(Donor*) {}
void TcbBackend::Exit(Donor*, const TcbContext*) { __builtin_trap(); }
void TcbBackend::Settle() {}
TcbContext* TcbBackend::ContextOf(Donor*) { return nullptr; }
uintptr_t TcbBackend::StackLimit(Donor*) const { return 0; }
void TcbBackend::Switch(TcbContext*, const TcbContext*) { __builtin_trap(); }
void TcbBackend::ReleaseStackBelow(Donor*) {}
void TcbBackend::Shutdown() {}
size_t TcbBackend::threads() { return 0; }
size_t TcbBackend::idle() { return 0; }
Donor* TcbBackend::Spawn(size_t) { return nullptr; }
size_t TcbBackend::SpawnBatch() { return 0; }
void* TcbBackend::KeeperMain(void*) { return nullptr; }
void TcbBackend::Keep() {}
void TcbBackend::Join(const std::vector<Donor*>&) {}

#else

extern "C" {
// Save callee-saved registers, MXCSR and the x87 control word on the running stack, store the
// stack pointer in from->sp, load to->fs as FS base and to->sp as stack pointer, restore, return.
void greenfiber_tcb_swap_wrfsbase(TcbContext* from, const TcbContext* to);
void greenfiber_tcb_swap_syscall(TcbContext* from, const TcbContext* to);
// First return target of a fresh context: calls r13(r12) and never returns.
void greenfiber_tcb_start();
// Parks the calling donor: saves its frame, moves to park_top, sets *ready to 1 (a futex wake
// only if it was 2: the owner waits for it), futex-waits until *release is nonzero, then returns
// on its own stack. A wake nobody waits for is not free: with thousands of donors parked, each
// costs a walk of a long futex hash chain.
void greenfiber_tcb_park(uint32_t* ready, uint32_t* release, void** saved_sp, void* park_top);
}

asm(R"(
  .text
  .globl greenfiber_tcb_swap_wrfsbase
  .type greenfiber_tcb_swap_wrfsbase, @function
greenfiber_tcb_swap_wrfsbase:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq 8(%rsi), %rax
  wrfsbase %rax
  movq (%rsi), %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size greenfiber_tcb_swap_wrfsbase, .-greenfiber_tcb_swap_wrfsbase

  .globl greenfiber_tcb_swap_syscall
  .type greenfiber_tcb_swap_syscall, @function
greenfiber_tcb_swap_syscall:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %r8
  movl $158, %eax
  movl $0x1002, %edi
  movq 8(%r8), %rsi
  syscall
  movq (%r8), %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size greenfiber_tcb_swap_syscall, .-greenfiber_tcb_swap_syscall

  .globl greenfiber_tcb_start
  .type greenfiber_tcb_start, @function
greenfiber_tcb_start:
  movq %r12, %rdi
  callq *%r13
  ud2
  .size greenfiber_tcb_start, .-greenfiber_tcb_start

  .globl greenfiber_tcb_park
  .type greenfiber_tcb_park, @function
greenfiber_tcb_park:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdx)
  movq %rcx, %rsp
  movq %rsi, %r12
  movq %rdx, %r13
  movl $1, %eax
  xchgl %eax, (%rdi)
  cmpl $2, %eax
  jne 1f
  movl $202, %eax
  movl $129, %esi
  movl $1, %edx
  syscall
1:
  movl (%r12), %eax
  testl %eax, %eax
  jnz 2f
  movq %r12, %rdi
  movl $202, %eax
  movl $128, %esi
  xorl %edx, %edx
  xorl %r10d, %r10d
  syscall
  jmp 1b
2:
  movq (%r13), %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size greenfiber_tcb_park, .-greenfiber_tcb_park
)");

namespace {
// A donor's stack, from the top: glibc's TCB and static TLS, the donor's own frames (start_thread
// and Donor::Main) within kDonorFrames, then its park stack of kParkStack, then the fibers' part.
// The park stack is where the parked donor's stack pointer stays. Not tiny: glibc's set*id
// broadcast (SIGSETXID) and SIGCANCEL cannot be blocked, so their signal frames and handlers run
// there, never in a fiber's part. Its pages are touched only by such a signal.
constexpr size_t kDonorFrames = 16 * 1024;
constexpr size_t kParkStack = 64 * 1024;
// Donors retired by the keeper at once, between two looks at Shutdown().
constexpr size_t kRetireBatch = 64;
constexpr uint32_t kInitialMxcsr = 0x1f80;
constexpr uint32_t kInitialFpcw = 0x037f;
// Donors created at once when the pool runs empty: their start-up overlaps on other cores. At most
// kMaxSpawnBatch donors are ever spare beyond the fibers that used them.
constexpr size_t kMinSpawnBatch = 2;
constexpr size_t kMaxSpawnBatch = 16;

uintptr_t CurrentFs() {
  uintptr_t fs;
  asm volatile("movq %%fs:0, %0" : "=r"(fs));  // glibc: the TCB's first word points at itself
  return fs;
}

void FutexWait(uint32_t* word, uint32_t expected) {
  syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}

void FutexWake(uint32_t* word) { syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0); }
}  // namespace

// A donor thread. Written by its own thread until `ready_` is posted (acquire/release pair), then
// only by the owning isolate's thread; `release_` is written once by Shutdown().
class Donor {
 public:
  static void* Main(void* arg) {
    Donor* self = static_cast<Donor*>(arg);
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, nullptr);
    pthread_attr_t attr;
    void* stack_lo = nullptr;
    size_t stack_size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      pthread_attr_getstack(&attr, &stack_lo, &stack_size);
      pthread_attr_destroy(&attr);
    }
    self->stack_lo_ = reinterpret_cast<uintptr_t>(stack_lo);
    const uintptr_t park_top =
        (reinterpret_cast<uintptr_t>(__builtin_frame_address(0)) - kDonorFrames) & ~uintptr_t{15};
    // Page-aligned: a parked fiber's frames then start at the top of a page and straddle one page
    // boundary fewer on average (each page it touches stays resident while it is parked).
    self->stack_top_ = (park_top - kParkStack) & ~uintptr_t{4095};
    self->context_.fs = CurrentFs();
    // From here on this thread runs only the assembly loop, on its park stack.
    greenfiber_tcb_park(&self->ready_, &self->release_, &self->park_sp_,
                        reinterpret_cast<void*>(park_top));
    return nullptr;
  }

  // Blocks until the donor has left its stack and TCB for good.
  // ready_: 0 starting, 1 parked, 2 starting and waited for (the donor then wakes us).
  void WaitReady() {
    // Acquire pairs with the donor's xchg of ready_ (a full barrier): stack_lo_, stack_top_ and
    // context_.fs are visible after it.
    for (;;) {
      uint32_t seen = __atomic_load_n(&ready_, __ATOMIC_ACQUIRE);
      if (seen == 1) return;
      if (seen == 0 && !__atomic_compare_exchange_n(&ready_, &seen, 2, false, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) continue;
      FutexWait(&ready_, 2);
    }
  }

  pthread_t thread_{};
  TcbContext context_;
  uintptr_t stack_lo_ = 0;
  uintptr_t stack_top_ = 0;
  uint32_t ready_ = 0;
  uint32_t release_ = 0;
  void* park_sp_ = nullptr;
  // When it was last pooled (steady clock, ns); mutex_ guards it while pooled.
  int64_t idle_since_ = 0;
};

namespace {
int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

bool TcbBackend::Supported(std::string*) { return true; }

TcbBackend::TcbBackend(size_t stack_size, size_t reserve, DonorSlots slots, int64_t idle_ms,
                       size_t idle_keep)
    : stack_size_(stack_size),
      reserve_(reserve),
      slots_(slots),
      idle_ms_(idle_ms),
      idle_keep_(idle_keep) {
  main_.fs = CurrentFs();
  Donor* first = Spawn(kMinSpawnBatch);  // ready by the time the first fiber starts
  if (first != nullptr) Recycle(first);
  const char* force = getenv("GREENFIBER_TCB_NO_WRFSBASE");
  bool wrfsbase = (getauxval(AT_HWCAP2) & 2 /* HWCAP2_FSGSBASE */) != 0;
  if (force != nullptr && force[0] == '1') wrfsbase = false;
  swap_ = wrfsbase ? greenfiber_tcb_swap_wrfsbase : greenfiber_tcb_swap_syscall;
}

TcbBackend::~TcbBackend() { Shutdown(); }

Donor* TcbBackend::Spawn(size_t count) {
  std::vector<Donor*> made;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, stack_size_ + kParkStack + kDonorFrames);
  last_spawn_capped_ = false;
  for (size_t i = 0; i < count; ++i) {
    if (slots_.take != nullptr && !slots_.take()) {
      last_spawn_capped_ = true;
      break;
    }
    Donor* donor = new Donor();
    if (pthread_create(&donor->thread_, &attr, &Donor::Main, donor) != 0) {
      if (slots_.give != nullptr) slots_.give(1);
      delete donor;
      break;
    }
    made.push_back(donor);
  }
  pthread_attr_destroy(&attr);
  if (made.empty()) return nullptr;
  const int64_t now = NowNs();
  bool start_keeper;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    all_.insert(made.begin(), made.end());
    // The first created is taken first (it has had the longest to start): it is returned, and
    // the second is pooled last.
    for (size_t i = made.size(); i-- > 1;) {
      made[i]->idle_since_ = now;
      idle_.push_back(made[i]);
    }
    start_keeper = idle_ms_ > 0 && !keeper_started_ && !stopping_ && all_.size() > idle_keep_;
    if (keeper_waiting_ && idle_.size() > idle_keep_) {
      keeper_waiting_ = false;
      keeper_cv_.notify_one();
    }
  }
  if (start_keeper) {
    // Every signal blocked: the process's signals go to its other threads. A small stack: it runs
    // only Keep() and pthread_join().
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t keeper_attr;
    pthread_attr_init(&keeper_attr);
    pthread_attr_setstacksize(&keeper_attr, 64 * 1024);
    // If it cannot start, donors are kept, as before; the next Spawn tries again.
    keeper_started_ = pthread_create(&keeper_, &keeper_attr, &TcbBackend::KeeperMain, this) == 0;
    pthread_attr_destroy(&keeper_attr);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }
  return made.front();
}

size_t TcbBackend::SpawnBatch() {
  std::lock_guard<std::mutex> lock(mutex_);
  return std::clamp<size_t>(all_.size() / 8, kMinSpawnBatch, kMaxSpawnBatch);
}

Donor* TcbBackend::Acquire(void (*entry)(void*), void* arg) {
  Donor* donor = nullptr;
  bool empty;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!idle_.empty()) {
      donor = idle_.back();
      idle_.pop_back();
    }
    empty = idle_.empty();
  }
  if (donor == nullptr) {
    donor = Spawn(SpawnBatch());
    if (donor == nullptr) return nullptr;
    std::lock_guard<std::mutex> lock(mutex_);
    empty = idle_.empty();
  }
  // Creates the next donors ahead of need: they start on other cores while this one runs, so a
  // burst of new fibers rarely waits for a thread to be scheduled. Failure here is not an error.
  if (empty) {
    Donor* ahead = Spawn(SpawnBatch());
    if (ahead != nullptr) Recycle(ahead);
  }
  last_spawn_capped_ = false;
  donor->WaitReady();
  // A fresh frame at the top of the fiber part of the stack, as greenfiber_tcb_swap_* leaves one:
  // [csr][r15][r14][r13 = entry][r12 = arg][rbx][rbp][return = greenfiber_tcb_start].
  uintptr_t* top = reinterpret_cast<uintptr_t*>(donor->stack_top_);
  top[-1] = reinterpret_cast<uintptr_t>(&greenfiber_tcb_start);
  top[-2] = 0;  // rbp
  top[-3] = 0;  // rbx
  top[-4] = reinterpret_cast<uintptr_t>(arg);
  top[-5] = reinterpret_cast<uintptr_t>(entry);
  top[-6] = 0;
  top[-7] = 0;
  top[-8] = kInitialMxcsr | (uint64_t{kInitialFpcw} << 32);
  donor->context_.sp = &top[-8];
  return donor;
}

void TcbBackend::Recycle(Donor* donor) {
  const int64_t now = NowNs();
  std::lock_guard<std::mutex> lock(mutex_);
  donor->idle_since_ = now;
  idle_.push_back(donor);
  if (keeper_waiting_ && idle_.size() > idle_keep_) {
    keeper_waiting_ = false;
    keeper_cv_.notify_one();
  }
}

void TcbBackend::Exit(Donor* donor, const TcbContext* to) {
  // Pooled only once we are off its stack and TCB: from then on the keeper may retire it.
  leaving_ = donor;
  swap_(&abandoned_, to);
  __builtin_trap();  // nothing resumes abandoned_
}

void TcbBackend::Settle() {
  if (leaving_ == nullptr) return;
  Donor* donor = leaving_;
  leaving_ = nullptr;
  Recycle(donor);
}

TcbContext* TcbBackend::ContextOf(Donor* donor) { return &donor->context_; }

uintptr_t TcbBackend::StackLimit(Donor* donor) const { return donor->stack_lo_ + reserve_; }

void TcbBackend::Switch(TcbContext* from, const TcbContext* to) {
  swap_(from, to);
  Settle();
}

void TcbBackend::ReleaseStackBelow(Donor* donor) {
  greenfiber::ReleaseStackBelow(reinterpret_cast<void*>(donor->stack_lo_));
}

size_t TcbBackend::threads() {
  std::lock_guard<std::mutex> lock(mutex_);
  return all_.size() + retiring_;
}

size_t TcbBackend::idle() {
  std::lock_guard<std::mutex> lock(mutex_);
  return idle_.size();
}

void* TcbBackend::KeeperMain(void* self) {
  static_cast<TcbBackend*>(self)->Keep();
  return nullptr;
}

void TcbBackend::Keep() {
  const int64_t idle_ns = idle_ms_ * 1000000;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    const int64_t now = NowNs();
    std::vector<Donor*> retire;
    // The least recently pooled first; a donor still starting up was pooled when created and
    // leaves at once when released (its park loop reads release_ before it waits).
    while (idle_.size() > idle_keep_ && retire.size() < kRetireBatch &&
           now - idle_.front()->idle_since_ >= idle_ns) {
      retire.push_back(idle_.front());
      all_.erase(idle_.front());
      idle_.pop_front();
    }
    if (!retire.empty()) {
      retiring_ = retire.size();
      lock.unlock();
      Join(retire);
      lock.lock();
      retiring_ = 0;
      continue;
    }
    if (idle_.size() > idle_keep_) {
      const int64_t due = idle_.front()->idle_since_ + idle_ns;
      keeper_cv_.wait_for(lock, std::chrono::nanoseconds(std::max<int64_t>(due - now, 1000000)));
    } else {
      keeper_waiting_ = true;  // Recycle() notifies once the pool outgrows the reserve again
      keeper_cv_.wait(lock);
      keeper_waiting_ = false;
    }
  }
}

void TcbBackend::Join(const std::vector<Donor*>& donors) {
  for (Donor* donor : donors) {
    // Release pairs with the parked loop's read of release_; the wake makes it look.
    __atomic_store_n(&donor->release_, 1, __ATOMIC_RELEASE);
    FutexWake(&donor->release_);
  }
  for (Donor* donor : donors) {
    pthread_join(donor->thread_, nullptr);
    delete donor;
  }
  if (slots_.give != nullptr && !donors.empty()) slots_.give(donors.size());
}

void TcbBackend::Shutdown() {
  if (keeper_started_) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    keeper_cv_.notify_all();
    pthread_join(keeper_, nullptr);
    keeper_started_ = false;
  }
  std::vector<Donor*> donors;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    donors.assign(all_.begin(), all_.end());
    all_.clear();
    idle_.clear();
  }
  Join(donors);
}

#endif  // GREENFIBER_TCB

}  // namespace greenfiber
