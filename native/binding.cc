// The JavaScript face of the fiber core: a FiberHandle class and a few functions, nothing else.
// All validation, error classes and greenlet semantics live in src/fiber.ts; this file returns
// status codes and never throws, so no misuse from JavaScript can crash the process.
//
// Rules every function here keeps (each breaks the process if broken):
//  - No napi_open_handle_scope on any path that can switch fibers: N-API checks that a callback
//    leaves the env's handle-scope count as it found it, and a switch interleaves two callbacks
//    of the same env. V8 HandleScopes are used instead; they are per thread.
//  - A fiber's own handle is never held on its own stack while it is suspended, so a suspended
//    fiber nobody references can be collected (and then unwound, see Orphan).
#include <napi.h>
// NODE_MODULE_VERSION only; node_version.h also defines the runtime's NAPI_VERSION, which must not
// replace the one binding.gyp builds against.
#pragma push_macro("NAPI_VERSION")
#undef NAPI_VERSION
#include <node_version.h>
#undef NAPI_VERSION
#pragma pop_macro("NAPI_VERSION")
#include <uv.h>
#include <v8.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fiber_core.h"

namespace greenfiber {
namespace {

// Status codes returned by transfer(); src/fiber.ts turns them into FiberError messages.
enum TransferStatus : int32_t {
  kOk = 0,
  kNotAHandle = 1,
  kForeign = 2,     // the target belongs to another isolate (worker thread)
  kIsCurrent = 3,   // the target is the fiber that is running
  kDead = 4,
  kNoThread = 5,    // no OS thread could be created for an unstarted target
  kTornDown = 6,    // the isolate's environment is being torn down
  kCapped = 7,      // the process is at its fiber-thread cap (see ThreadLimits)
};

constexpr napi_type_tag kHandleTag = {0x6772656566696265ULL, 0x722d68616e646c65ULL};
constexpr napi_type_tag kFiberExternalTag = {0x6772656566696265ULL, 0x722d66696265722eULL};

napi_value TaggedExternal(napi_env env, Fiber* fiber) {
  napi_value external;
  napi_create_external(env, fiber, nullptr, nullptr, &external);
  napi_type_tag_object(env, external, &kFiberExternalTag);
  return external;
}

bool IsFiberExternal(napi_env env, napi_value value) {
  bool tagged = false;
  return napi_check_object_type_tag(env, value, &kFiberExternalTag, &tagged) == napi_ok && tagged;
}

class FiberHandle;

// Per-environment state (N-API instance data). Lives until the env is gone and every
// FiberHandle of it was finalized (refs_ counts the env plus one per FiberHandle).
class Addon : public Host {
 public:
  explicit Addon(Napi::Env env) : env_(env) {}

  Fiber* RunEntry(Fiber* fiber, bool* terminated) override;
  void OnRunning(Fiber* fiber) override;
  void OnSuspended(Fiber* fiber) override;
  void OnDead(Fiber* fiber) override;

  void Orphan(Fiber* fiber);
  // Unwinds the orphans found so far (JavaScript runs: call only where a switch may happen).
  void Sweep();
  static void SweepOrphans(uv_async_t* async);
  static void Cleanup(void* arg);
  static void CloseSweeper(napi_async_cleanup_hook_handle hook, void* arg);
  void Unref() {
    if (--refs_ == 0) delete this;
  }

  Napi::Env env_;
  IsolateState* state_ = nullptr;
  Napi::FunctionReference handle_class_;
  Napi::FunctionReference entry_;
  Napi::FunctionReference orphan_;
  Napi::ObjectReference main_handle_;
  uv_async_t* sweeper_ = nullptr;
  napi_async_cleanup_hook_handle close_hook_ = nullptr;
  std::vector<Fiber*> orphans_;
  // orphans_.size(), in an ArrayBuffer src/fiber.ts reads before each switch and new Fiber: the
  // GC's weak callback may only record an orphan; JavaScript unwinds it at the next chance.
  int32_t* orphan_flag_ = nullptr;
  Napi::Reference<Napi::ArrayBuffer> orphan_flag_buffer_;
  bool sweeping_ = false;
  // Every live handle by its id (what src/fiber.ts passes to transfer(): a bounds-checked index
  // is much cheaper than checking an object's type tag and unwrapping it on every switch).
  std::vector<FiberHandle*> by_id_;
  std::vector<int32_t> free_ids_;
  size_t refs_ = 1;
  bool cleaned_up_ = false;

 private:
  ~Addon() { delete state_; }
};

// The JavaScript object behind a Fiber. Weak while its fiber is not running: when it is collected
// with its fiber suspended, the fiber becomes an orphan and is unwound on the next loop turn.
class FiberHandle : public Napi::ObjectWrap<FiberHandle> {
 public:
  static Napi::Function DefineClass(Napi::Env env) {
    return Napi::ObjectWrap<FiberHandle>::DefineClass(env, "FiberHandle", {});
  }

  // new FiberHandle(): a fresh unstarted fiber; new FiberHandle(external): adopts an orphan.
  explicit FiberHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FiberHandle>(info) {
    // No wrap: the environment stopped (worker.terminate()) between two N-API calls. Inert then,
    // holding no fiber and no reference (node-addon-api swallowed the error it cannot throw).
    if (static_cast<napi_ref>(*this) == nullptr) return;
    addon_ = info.Env().GetInstanceData<Addon>();
    if (addon_ == nullptr || addon_->state_ == nullptr) return;  // setup() not called: inert
    ++addon_->refs_;
    if (info.Length() > 0 && info[0].IsExternal() && IsFiberExternal(info.Env(), info[0])) {
      fiber_ = info[0].As<Napi::External<Fiber>>().Data();
    } else {
      fiber_ = addon_->state_->NewFiber();
    }
    fiber_->host_data = this;
    napi_type_tag_object(info.Env(), info.This(), &kHandleTag);
    if (addon_->free_ids_.empty()) {
      id_ = static_cast<int32_t>(addon_->by_id_.size());
      addon_->by_id_.push_back(this);
    } else {
      id_ = addon_->free_ids_.back();
      addon_->free_ids_.pop_back();
      addon_->by_id_[id_] = this;
    }
    if (!fiber_->is_main()) {
      // A V8 weak handle, not only N-API's: N-API defers finalizers to a later loop turn, while
      // this callback runs in the very GC that collected the handle (see OnCollected).
      napi_value self = info.This();
      v8::Local<v8::Object> object;
      static_assert(sizeof(object) == sizeof(self));
      std::memcpy(static_cast<void*>(&object), &self, sizeof(self));
      weak_.Reset(v8::Isolate::GetCurrent(), object);
      weak_.SetWeak(this, &FiberHandle::OnCollected, v8::WeakCallbackType::kParameter);
    }
  }

  // In the GC, first pass: only bookkeeping (no JavaScript, no V8 calls but the Reset()). The
  // fiber leaves its handle now; a suspended one is unwound by Addon::Sweep() later.
  static void OnCollected(const v8::WeakCallbackInfo<FiberHandle>& info) {
    FiberHandle* handle = info.GetParameter();
    handle->weak_.Reset();
    handle->ReleaseId();
    Fiber* fiber = handle->fiber_;
    if (fiber == nullptr || handle->addon_->cleaned_up_) return;
    handle->fiber_ = nullptr;
    fiber->host_data = nullptr;
    handle->addon_->Orphan(fiber);
  }

  ~FiberHandle() override {
    weak_.Reset();
    if (addon_ == nullptr) return;
    ReleaseId();
    if (fiber_ != nullptr) {
      if (fiber_->state() == FiberState::kSuspended && !addon_->cleaned_up_) {
        fiber_->host_data = nullptr;
        addon_->Orphan(fiber_);
      } else {
        addon_->state_->Release(fiber_);
      }
    }
    addon_->Unref();
  }

  static FiberHandle* From(Napi::Env env, Napi::Value value) {
    if (!value.IsObject()) return nullptr;
    bool tagged = false;
    if (napi_check_object_type_tag(env, value, &kHandleTag, &tagged) != napi_ok || !tagged) {
      return nullptr;
    }
    // Raw napi_unwrap: it fails once the environment stops (worker.terminate() from another
    // thread, even between the tag check and here), and ObjectWrap::Unwrap would throw then.
    void* unwrapped = nullptr;
    if (napi_unwrap(env, value, &unwrapped) != napi_ok || unwrapped == nullptr) return nullptr;
    FiberHandle* handle = static_cast<FiberHandle*>(unwrapped);
    return handle->fiber_ != nullptr ? handle : nullptr;
  }

  // The live handle with this id, or null.
  static FiberHandle* ById(Addon* addon, int32_t id) {
    if (addon == nullptr || id < 0 || static_cast<size_t>(id) >= addon->by_id_.size()) return nullptr;
    FiberHandle* handle = addon->by_id_[id];
    return handle != nullptr && handle->fiber_ != nullptr ? handle : nullptr;
  }

  // Frees the id once the handle is collected (no JavaScript can name it any more).
  void ReleaseId() {
    if (id_ < 0) return;
    addon_->by_id_[id_] = nullptr;
    addon_->free_ids_.push_back(id_);
    id_ = -1;
  }

  // The N-API reference behind the wrap: strong while the fiber runs, weak otherwise.
  napi_ref ref() const { return static_cast<napi_ref>(*this); }
  int32_t id() const { return id_; }
  Addon* addon_ = nullptr;
  Fiber* fiber_ = nullptr;
  int32_t id_ = -1;
  v8::Global<v8::Object> weak_;
};

FiberHandle* HandleOf(Fiber* fiber) { return static_cast<FiberHandle*>(fiber->host_data); }

// A running fiber's handle is strong (nothing else may reference it while it runs); a suspended
// or dead one is weak. The main fiber's handle is always strong (Addon::main_handle_).
void Addon::OnRunning(Fiber* fiber) {
  if (fiber->is_main() || HandleOf(fiber) == nullptr) return;
  // Fails (harmlessly) when the handle was collected and its finalizer is still pending: only the
  // native core resumes such a fiber (Teardown terminating it), and it needs no handle.
  napi_reference_ref(env_, HandleOf(fiber)->ref(), nullptr);
}

void Addon::OnSuspended(Fiber* fiber) {
  if (fiber->is_main() || HandleOf(fiber) == nullptr) return;
  napi_reference_unref(env_, HandleOf(fiber)->ref(), nullptr);  // see OnRunning
}

Fiber* Addon::RunEntry(Fiber* fiber, bool* terminated) {
  (void)fiber;  // src/fiber.ts knows which fiber starts: it is the current one
  napi_value entry = entry_.Value();
  napi_value undefined;
  napi_get_undefined(env_, &undefined);
  napi_value result = nullptr;
  napi_status status = napi_call_function(env_, undefined, entry, 0, nullptr, &result);
  if (status != napi_ok) {
    // Only termination gets here (the entry catches everything else). Clear N-API's copy of it
    // so the next call into this env does not fail.
    napi_value ignored;
    napi_get_and_clear_last_exception(env_, &ignored);
    *terminated = true;
    return nullptr;
  }
  FiberHandle* next = FiberHandle::From(env_, Napi::Value(env_, result));
  return next != nullptr && next->fiber_->owner() == state_ ? next->fiber_ : nullptr;
}

void Addon::OnDead(Fiber* fiber) { OnSuspended(fiber); }

// Records a fiber whose handle was collected (any state; may run inside the GC).
void Addon::Orphan(Fiber* fiber) {
  orphans_.push_back(fiber);
  if (orphan_flag_ != nullptr) *orphan_flag_ = static_cast<int32_t>(orphans_.size());
  if (sweeper_ != nullptr) uv_async_send(sweeper_);
}

// Unwinds collected suspended fibers on the current fiber, outside the GC: each gets a new handle
// and src/fiber.ts throws FiberExit into it. Collected unstarted or dead fibers are deleted.
void Addon::Sweep() {
  if (cleaned_up_ || sweeping_ || orphans_.empty() || state_->tearing_down()) return;
  sweeping_ = true;
  v8::Isolate* isolate = state_->isolate();
  v8::HandleScope handle_scope(isolate);
  Napi::Env env = env_;
  std::vector<Fiber*> orphans;
  orphans.swap(orphans_);
  *orphan_flag_ = 0;
  for (size_t i = 0; i < orphans.size(); ++i) {
    Fiber* fiber = orphans[i];
    if (fiber->host_data != nullptr) continue;
    if (fiber->state() != FiberState::kSuspended) {
      state_->Release(fiber);
      continue;
    }
    napi_value external = TaggedExternal(env, fiber);
    napi_value handle;
    if (napi_new_instance(env, handle_class_.Value(), 1, &external, &handle) != napi_ok) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
      orphans_.insert(orphans_.end(), orphans.begin() + i, orphans.end());
      break;
    }
    napi_value undefined;
    napi_get_undefined(env, &undefined);
    napi_value result;
    if (napi_call_function(env, undefined, orphan_.Value(), 1, &handle, &result) != napi_ok) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
  }
  *orphan_flag_ = static_cast<int32_t>(orphans_.size());
  sweeping_ = false;
}

void Addon::SweepOrphans(uv_async_t* async) {
  Addon* addon = static_cast<Addon*>(async->data);
  if (addon->state_ == nullptr || addon->state_->current() != addon->state_->main()) return;
  addon->Sweep();
}

void Addon::Cleanup(void* arg) {
  Addon* addon = static_cast<Addon*>(arg);
  if (addon->state_ != nullptr) addon->state_->Teardown();
  addon->cleaned_up_ = true;
  // Teardown() ended every started fiber: the collected ones are dead or unstarted now.
  for (Fiber* fiber : addon->orphans_) {
    if (fiber->host_data == nullptr) addon->state_->Release(fiber);
  }
  addon->orphans_.clear();
  addon->orphan_flag_buffer_.Reset();
  addon->orphan_flag_ = nullptr;
  // The Addon may outlive the env (handles finalized later keep it): drop every reference into
  // the env now, while it can still take them back.
  addon->entry_.Reset();
  addon->orphan_.Reset();
  addon->main_handle_.Reset();
  addon->handle_class_.Reset();
}

// Closes the sweeper. An async cleanup hook, not a plain one: the environment runs the loop until
// the hook reports done, so the close callback (code in this addon) runs before a worker's
// environment unloads the addon. A uv_close() from a plain cleanup hook left the callback for the
// worker's last loop run, after the unload: SIGSEGV at every exit of a worker that alone loaded
// greenfiber.
void Addon::CloseSweeper(napi_async_cleanup_hook_handle hook, void* arg) {
  Addon* addon = static_cast<Addon*>(arg);
  addon->close_hook_ = hook;
  uv_async_t* sweeper = addon->sweeper_;
  addon->sweeper_ = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(sweeper), [](uv_handle_t* handle) {
    Addon* owner = static_cast<Addon*>(handle->data);
    delete reinterpret_cast<uv_async_t*>(handle);
    napi_remove_async_cleanup_hook(owner->close_hook_);
    owner->Unref();
  });
}

void FinalizeAddon(Napi::Env, Addon* addon) { addon->Unref(); }  // the env's own reference

Addon* AddonOf(const Napi::CallbackInfo& info) { return info.Env().GetInstanceData<Addon>(); }

// setup(entry, orphan, { spinNs, pin, idleMs, idleKeep, maxFibers, backend }) -> main handle. Once
// per environment, on its main
// thread. backend: 'tcb' for the in-thread backend (src/fiber.ts checks tcbSupported first),
// anything else for the thread hand-off.
Napi::Value Setup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Addon* addon = AddonOf(info);
  if (addon->state_ != nullptr) return addon->main_handle_.Value();
  if (!info[0].IsFunction() || !info[1].IsFunction()) return env.Undefined();
  HandoffPolicy policy;
  IsolateState::Backend backend = IsolateState::Backend::kThread;
  if (info[2].IsObject()) {
    Napi::Object options = info[2].As<Napi::Object>();
    Napi::Value spin = options.Get("spinNs");
    if (spin.IsNumber()) policy.spin_ns = spin.As<Napi::Number>().Int64Value();
    policy.pin = options.Get("pin").ToBoolean().Value();
    Napi::Value idle_ms = options.Get("idleMs");
    if (idle_ms.IsNumber()) policy.idle_ms = idle_ms.As<Napi::Number>().Int64Value();
    Napi::Value idle_keep = options.Get("idleKeep");
    if (idle_keep.IsNumber()) policy.idle_keep = idle_keep.As<Napi::Number>().Int64Value();
    // Before the IsolateState: the in-thread backend creates its first donors in its constructor.
    Napi::Value max_fibers = options.Get("maxFibers");
    Limits(max_fibers.IsNumber() ? max_fibers.As<Napi::Number>().Int64Value() : 0);
    Napi::Value name = options.Get("backend");
    std::string why;
    if (name.IsString() && name.As<Napi::String>().Utf8Value() == "tcb" &&
        TcbBackend::Supported(&why)) {
      backend = IsolateState::Backend::kTcb;
    }
  }
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  addon->state_ = new IsolateState(isolate, isolate->GetCurrentContext(), addon, policy, backend);
  addon->entry_ = Napi::Persistent(info[0].As<Napi::Function>());
  addon->orphan_ = Napi::Persistent(info[1].As<Napi::Function>());
  Napi::ArrayBuffer flag = Napi::ArrayBuffer::New(env, sizeof(int32_t));
  addon->orphan_flag_ = static_cast<int32_t*>(flag.Data());
  *addon->orphan_flag_ = 0;
  addon->orphan_flag_buffer_ = Napi::Persistent(flag);

  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  addon->sweeper_ = new uv_async_t;
  addon->sweeper_->data = addon;
  uv_async_init(loop, addon->sweeper_, &Addon::SweepOrphans);
  uv_unref(reinterpret_cast<uv_handle_t*>(addon->sweeper_));
  ++addon->refs_;  // released by the sweeper's close callback
  // Registered after Cleanup (Init), so it runs before it: hooks run in reverse order.
  napi_add_async_cleanup_hook(env, &Addon::CloseSweeper, addon, nullptr);

  napi_value external = TaggedExternal(env, addon->state_->main());
  Napi::Object main = addon->handle_class_.New({Napi::Value(env, external)});
  addon->main_handle_ = Napi::Persistent(main);
  return main;
}

// transfer(id) -> status, `id` from idOf(handle). Blocks until some fiber transfers back to the
// caller. A raw N-API callback, not a node-addon-api one: every byte of its frame stays on the stack
// of each suspended fiber, and the thinner frame saves a whole stack page per suspended fiber.
napi_value Transfer(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value target_value = nullptr;
  napi_get_cb_info(env, info, &argc, &target_value, nullptr, nullptr);
  Addon* addon = nullptr;
  napi_get_instance_data(env, reinterpret_cast<void**>(&addon));
  int32_t status = kOk;
  int32_t id = -1;
  if (argc < 1 || napi_get_value_int32(env, target_value, &id) != napi_ok) id = -1;
  FiberHandle* target = FiberHandle::ById(addon, id);
  IsolateState* state = addon == nullptr ? nullptr : addon->state_;
  if (target == nullptr || state == nullptr) {
    status = kNotAHandle;
  } else if (target->fiber_->owner() != state) {
    status = kForeign;
  } else if (state->tearing_down() || addon->cleaned_up_) {
    status = kTornDown;
  } else if (target->fiber_ == state->current()) {
    status = kIsCurrent;
  } else if (target->fiber_->state() == FiberState::kDead ||
             target->fiber_->state() == FiberState::kRunning) {
    status = kDead;
  } else if (!state->Transfer(target->fiber_)) {
    status = state->last_start_capped() ? kCapped : kNoThread;
  }
  napi_value result;
  napi_create_int32(env, status, &result);
  return result;
}

// idOf(handle) -> the handle's id for transfer(), or -1 if it is not a live handle.
Napi::Value IdOf(const Napi::CallbackInfo& info) {
  FiberHandle* handle = FiberHandle::From(info.Env(), info[0]);
  return Napi::Number::New(info.Env(), handle == nullptr ? -1 : handle->id());
}

// hold(handle): the caller keeps this fiber referenced while it is started (a live greenlet), so
// it does not count towards the GC hints for dropped fibers. Ignores anything but a live handle.
Napi::Value Hold(const Napi::CallbackInfo& info) {
  FiberHandle* handle = FiberHandle::From(info.Env(), info[0]);
  if (handle != nullptr && handle->fiber_ != nullptr) handle->fiber_->owner()->SetHeld(handle->fiber_);
  return info.Env().Undefined();
}

// state(handle) -> 0 unstarted, 1 running, 2 suspended, 3 dead, -1 not a handle.
Napi::Value StateOf(const Napi::CallbackInfo& info) {
  FiberHandle* handle = FiberHandle::From(info.Env(), info[0]);
  int32_t state = handle == nullptr ? -1 : static_cast<int32_t>(handle->fiber_->state());
  return Napi::Number::New(info.Env(), state);
}

// current() -> the handle of the running fiber.
Napi::Value Current(const Napi::CallbackInfo& info) {
  Addon* addon = AddonOf(info);
  if (addon->state_ == nullptr) return info.Env().Undefined();
  FiberHandle* handle = HandleOf(addon->state_->current());
  return handle != nullptr ? handle->Value() : info.Env().Undefined();
}

// stats() -> { backend, threads, idle, started, orphans, switches, hotWakes, coldWakes }
Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Addon* addon = AddonOf(info);
  Napi::Object out = Napi::Object::New(env);
  if (addon->state_ == nullptr) return out;
  IsolateState::Stats stats = addon->state_->stats();
  out.Set("threads", Napi::Number::New(env, static_cast<double>(stats.threads)));
  out.Set("idle", Napi::Number::New(env, static_cast<double>(stats.idle)));
  out.Set("started", Napi::Number::New(env, static_cast<double>(stats.started)));
  out.Set("orphans", Napi::Number::New(env, static_cast<double>(addon->orphans_.size())));
  out.Set("processThreads", Napi::Number::New(env, static_cast<double>(ProcessFiberThreads())));
  out.Set("cap", Napi::Number::New(env, static_cast<double>(Limits(0).cap)));
  out.Set("backend", stats.backend == IsolateState::Backend::kTcb ? "tcb" : "thread");
  out.Set("switches", Napi::Number::New(env, static_cast<double>(stats.switches)));
  out.Set("hotWakes", Napi::Number::New(env, static_cast<double>(stats.hot_wakes)));
  out.Set("coldWakes", Napi::Number::New(env, static_cast<double>(stats.cold_wakes)));
  return out;
}

// limits() -> the process-wide fiber-thread cap and the numbers behind it (see ThreadLimits).
Napi::Value LimitsOf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const ThreadLimits& l = Limits(0);
  Napi::Object out = Napi::Object::New(env);
  auto set = [&](const char* name, size_t value) {
    out.Set(name, Napi::Number::New(env, static_cast<double>(value)));
  };
  set("cap", l.cap);
  set("byMaps", l.by_maps);
  set("byTasks", l.by_tasks);
  set("maxMapCount", l.max_map_count);
  set("mapsInUse", l.maps_in_use);
  set("mapReserve", l.map_reserve);
  set("taskLimit", l.task_limit);
  out.Set("taskLimitName", Napi::String::New(env, l.task_limit_name));
  set("tasksInUse", l.tasks_in_use);
  set("taskReserve", l.task_reserve);
  out.Set("explicit", Napi::Boolean::New(env, l.explicit_cap));
  return out;
}

// orphanFlag() -> the ArrayBuffer whose first int32 counts orphans waiting to be unwound.
Napi::Value OrphanFlag(const Napi::CallbackInfo& info) {
  Addon* addon = AddonOf(info);
  if (addon->orphan_flag_buffer_.IsEmpty()) return info.Env().Undefined();
  return addon->orphan_flag_buffer_.Value();
}

// sweep(): unwinds the orphans recorded so far, on the current fiber.
Napi::Value SweepNow(const Napi::CallbackInfo& info) {
  Addon* addon = AddonOf(info);
  if (addon->state_ != nullptr) addon->Sweep();
  return info.Env().Undefined();
}

// reclaim(): a full GC, so that collected suspended fibers are found (then sweep()). Called when
// the fiber-thread cap refused a fiber.
Napi::Value Reclaim(const Napi::CallbackInfo& info) {
  v8::Isolate::GetCurrent()->LowMemoryNotification();
  return info.Env().Undefined();
}

// runLoopOnce() -> whether the loop is still alive. Runs one libuv iteration; the caller
// (src/hub.ts) guarantees it is the main fiber and not inside a loop callback.
Napi::Value RunLoopOnce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Addon* addon = AddonOf(info);
  if (addon->state_ == nullptr || addon->state_->current() != addon->state_->main()) {
    return Napi::Boolean::New(env, false);
  }
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  int alive = uv_run(loop, UV_RUN_ONCE);
  return Napi::Boolean::New(env, alive != 0 || uv_loop_alive(loop) != 0);
}

// triggerUncaught(error): hands `error` to Node's uncaught-exception path (napi_fatal_exception):
// 'uncaughtException' listeners, or the crash report and exit. Returns when a listener handled it.
// For errors a loop callback threw while the top level drove the loop (src/park.ts).
Napi::Value TriggerUncaught(const Napi::CallbackInfo& info) {
  napi_fatal_exception(info.Env(), info[0]);
  return info.Env().Undefined();
}

// loopAlive() -> whether the loop has anything left that could wake it.
Napi::Value LoopAlive(const Napi::CallbackInfo& info) {
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(info.Env(), &loop);
  return Napi::Boolean::New(info.Env(), loop != nullptr && uv_loop_alive(loop) != 0);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Addon* addon = new Addon(env);
  env.SetInstanceData<Addon, FinalizeAddon>(addon);
  napi_add_env_cleanup_hook(env, &Addon::Cleanup, addon);
  Napi::Function handle_class = FiberHandle::DefineClass(env);
  addon->handle_class_ = Napi::Persistent(handle_class);
  exports.Set("FiberHandle", handle_class);
  exports.Set("setup", Napi::Function::New(env, Setup, "setup"));
  napi_value transfer;
  napi_create_function(env, "transfer", NAPI_AUTO_LENGTH, Transfer, nullptr, &transfer);
  exports.Set("transfer", Napi::Value(env, transfer));
  exports.Set("idOf", Napi::Function::New(env, IdOf, "idOf"));
  exports.Set("state", Napi::Function::New(env, StateOf, "state"));
  exports.Set("hold", Napi::Function::New(env, Hold, "hold"));
  exports.Set("current", Napi::Function::New(env, Current, "current"));
  exports.Set("stats", Napi::Function::New(env, Stats, "stats"));
  exports.Set("limits", Napi::Function::New(env, LimitsOf, "limits"));
  exports.Set("orphanFlag", Napi::Function::New(env, OrphanFlag, "orphanFlag"));
  exports.Set("sweep", Napi::Function::New(env, SweepNow, "sweep"));
  exports.Set("reclaim", Napi::Function::New(env, Reclaim, "reclaim"));
  exports.Set("runLoopOnce", Napi::Function::New(env, RunLoopOnce, "runLoopOnce"));
  exports.Set("triggerUncaught", Napi::Function::New(env, TriggerUncaught, "triggerUncaught"));
  exports.Set("loopAlive", Napi::Function::New(env, LoopAlive, "loopAlive"));
  exports.Set("abiVersion", Napi::Number::New(env, 3));
  // The V8 ABI this file was compiled for. Node checks it only for non-Node-API addons, and this one
  // registers through Node-API while using V8's API: src/binding.ts compares it before any call.
  exports.Set("nodeModuleVersion", Napi::Number::New(env, NODE_MODULE_VERSION));
  // Why the in-thread backend cannot run here, or "" where it can.
  std::string why;
  exports.Set("tcbUnsupported", TcbBackend::Supported(&why) ? std::string() : why);
  return exports;
}

}  // namespace
}  // namespace greenfiber

static Napi::Object InitGreenfiber(Napi::Env env, Napi::Object exports) {
  return greenfiber::Init(env, exports);
}

NODE_API_MODULE(greenfiber, InitGreenfiber)
