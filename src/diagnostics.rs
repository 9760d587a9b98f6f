//! A call's requests, published on `node:diagnostics_channel`: `ld-release:request`,
//! `ld-release:response`, `ld-release:retry` and `ld-release:wait`.
//!
//! When a call starts, its JavaScript thread reads `hasSubscribers` of the four channels
//! of its environment (the main thread's or a worker's, each with its own channels).
//! With no subscriber the call gets no observer: nothing is built, nothing crosses to
//! JavaScript. Otherwise the core's events for the subscribed channels are queued and
//! published on the JavaScript thread, through a thread-safe function, as they happen;
//! whatever is still queued when the call settles is published before its promise
//! settles, so a caller that awaits the call has seen every one of its events.

use std::cell::RefCell;
use std::mem::ManuallyDrop;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{
  FnArgs, Function, FunctionRef, JsObjectValue, Object, ObjectRef, Unknown,
};
use napi::threadsafe_function::{
  ThreadsafeCallContext, ThreadsafeFunction, ThreadsafeFunctionCallMode,
};
use napi::{Env, Status};

use crate::config::RequestOptions;
use ld_release_core::events::{Event, EventKind, Observer};

/// The channels, in the order of `EventKind::index`.
const CHANNELS: [&str; 4] = [
  "ld-release:request",
  "ld-release:response",
  "ld-release:retry",
  "ld-release:wait",
];

/// The channels of the environment of this thread.
#[derive(Default)]
enum Channels {
  /// Not looked up yet.
  #[default]
  Unknown,
  /// `node:diagnostics_channel` could not be had (a runtime without it), or the
  /// environment is gone: no events.
  Unavailable,
  Ready {
    channels: Vec<ObjectRef>,
    /// A function returning which channels have subscribers (see `subscribed`), made once:
    /// cheaper than reading the four `hasSubscribers` getters through Node-API at each
    /// call. `None` where it could not be made: the getters are read instead.
    check: Option<FunctionRef<(), u32>>,
  },
}

/// Makes the `check` of `Channels::Ready`.
const CHECK: &str = "(function (a, b, c, d) {
  return () => (a.hasSubscribers ? 1 : 0) | (b.hasSubscribers ? 2 : 0) | (c.hasSubscribers ? 4 : 0) | (d.hasSubscribers ? 8 : 0)
})";

/// Publishes a call's queued events on the JavaScript thread of its environment: one per
/// environment, made by its first observed call. Weak: a call in flight keeps the event
/// loop alive by itself.
type Publisher = ThreadsafeFunction<Arc<Mutex<Pending>>, (), (), Status, false, true>;

// `ManuallyDrop`: what they hold is released by the environment's cleanup hook, while the
// environment is there; never by the thread's exit (when a process exits early, the main
// thread's environment may have been left without its cleanup).
thread_local! {
  static ENV_CHANNELS: RefCell<ManuallyDrop<Channels>> = RefCell::default();
  static ENV_PUBLISHER: RefCell<ManuallyDrop<Option<Arc<Publisher>>>> = RefCell::default();
}

/// Takes a JavaScript exception left pending by a failed Node-API call, so that a failure
/// here never surfaces in the caller's code.
fn clear_exception(env: &Env) {
  let mut pending = false;
  // SAFETY: plain Node-API calls on this environment's JavaScript thread.
  unsafe {
    if napi::sys::napi_is_exception_pending(env.raw(), &mut pending) == napi::sys::Status::napi_ok
      && pending
    {
      let mut exception = std::ptr::null_mut();
      napi::sys::napi_get_and_clear_last_exception(env.raw(), &mut exception);
    }
  }
}

/// `require('node:diagnostics_channel').channel(name)` for each channel, through
/// `process.getBuiltinModule` (Node.js 20.16 and later, also in worker threads).
fn look_up(env: &Env) -> napi::Result<Vec<ObjectRef>> {
  let process: Object = env.get_global()?.get_named_property("process")?;
  let get_builtin: Function<&str, Object> = process.get_named_property("getBuiltinModule")?;
  let module = get_builtin.apply(process, "node:diagnostics_channel")?;
  let channel: Function<&str, Object> = module.get_named_property("channel")?;
  CHANNELS
    .iter()
    .map(|name| channel.apply(module, name)?.create_ref())
    .collect()
}

/// The `check` of `channels`.
fn make_check(env: &Env, channels: &[ObjectRef]) -> napi::Result<FunctionRef<(), u32>> {
  type Make<'env> = Function<
    'env,
    FnArgs<(Object<'env>, Object<'env>, Object<'env>, Object<'env>)>,
    Function<'env, (), u32>,
  >;
  let make: Make = env.run_script(CHECK)?;
  let [a, b, c, d] = [0, 1, 2, 3].map(|i| channels[i].get_value(env));
  make.call((a?, b?, c?, d?).into())?.create_ref()
}

/// The channels of this environment and their `check`, looked up; `Unavailable` if they
/// cannot be had.
fn set_up(env: &Env) -> Channels {
  let Ok(channels) = look_up(env) else {
    clear_exception(env);
    return Channels::Unavailable;
  };
  if env
    .add_env_cleanup_hook(env.raw() as usize, release)
    .is_err()
  {
    for channel in channels {
      let _ = channel.unref(env);
    }
    return Channels::Unavailable;
  }
  let check = make_check(env, &channels)
    .inspect_err(|_| clear_exception(env))
    .ok();
  Channels::Ready { channels, check }
}

/// Runs `use_them` with the channels of this environment, looked up once (its cleanup
/// hook releases them), and their `check`; `None` when there are none to be had.
fn with_channels<T>(
  env: &Env,
  use_them: impl FnOnce(&[ObjectRef], Option<&FunctionRef<(), u32>>) -> T,
) -> Option<T> {
  if ENV_CHANNELS.with_borrow(|state| matches!(**state, Channels::Unknown)) {
    // Looked up with the cell free: the lookup runs JavaScript.
    let found = set_up(env);
    let unused = ENV_CHANNELS.with_borrow_mut(|state| match **state {
      Channels::Unknown => {
        **state = found;
        None
      }
      _ => Some(found),
    });
    if let Some(Channels::Ready { channels, .. }) = unused {
      for channel in channels {
        let _ = channel.unref(env);
      }
    }
  }
  ENV_CHANNELS.with_borrow(|state| match &**state {
    Channels::Ready { channels, check } => Some(use_them(channels, check.as_ref())),
    _ => None,
  })
}

/// The environment's cleanup hook: releases its channels and its publisher; no events
/// after this.
fn release(raw: usize) {
  drop(ManuallyDrop::into_inner(ENV_PUBLISHER.take()));
  let state = ENV_CHANNELS.replace(ManuallyDrop::new(Channels::Unavailable));
  if let Channels::Ready { channels, check } = ManuallyDrop::into_inner(state) {
    drop(check);
    let env = Env::from_raw(raw as napi::sys::napi_env);
    for channel in channels {
      let _ = channel.unref(&env);
    }
  }
}

/// Which channels have subscribers now: bit `i` for `CHANNELS[i]`.
fn subscribed(env: &Env) -> u8 {
  with_channels(env, |channels, check| {
    if let Some(bits) = check.and_then(|f| f.borrow_back(env).ok()?.call(()).ok()) {
      return bits as u8;
    }
    let mut bits = 0;
    for (i, channel) in channels.iter().enumerate() {
      let active = channel
        .get_value(env)
        .and_then(|c| c.get_named_property::<bool>("hasSubscribers"))
        .inspect_err(|_| clear_exception(env))
        .unwrap_or(false);
      if active {
        bits |= 1 << i;
      }
    }
    bits
  })
  .unwrap_or(0)
}

/// The channel objects, to publish on: taken out of their cell first, since a subscriber
/// may start another call.
fn channel_objects(env: &Env) -> Option<Vec<Object<'_>>> {
  with_channels(env, |channels, _| {
    channels
      .iter()
      .map(|c| c.get_value(env).ok())
      .collect::<Option<Vec<_>>>()
  })
  .flatten()
}

/// The events of one call, queued until the JavaScript thread publishes them.
#[derive(Default)]
struct Pending {
  events: Vec<Event>,
  /// A publication is scheduled on the JavaScript thread and has not begun.
  scheduled: bool,
}

/// The events of one call on their way to its environment's channels.
pub struct CallEvents {
  pending: Arc<Mutex<Pending>>,
}

impl CallEvents {
  /// Publishes what is queued. On the call's JavaScript thread, before it settles.
  pub fn publish(&self, env: &Env) {
    publish(env, &self.pending);
  }
}

fn lock(pending: &Mutex<Pending>) -> std::sync::MutexGuard<'_, Pending> {
  pending.lock().unwrap_or_else(|p| p.into_inner())
}

fn publish(env: &Env, pending: &Mutex<Pending>) {
  let events = {
    let mut pending = lock(pending);
    pending.scheduled = false;
    std::mem::take(&mut pending.events)
  };
  if events.is_empty() {
    return;
  }
  let Some(channels) = channel_objects(env) else {
    return;
  };
  for event in &events {
    // A failure to publish one event (the environment going away) drops it, never the
    // call.
    if publish_one(channels[event.kind.index()], event, env).is_err() {
      clear_exception(env);
    }
  }
}

fn publish_one(channel: Object, event: &Event, env: &Env) -> napi::Result<()> {
  let publish: Function<FnArgs<(Object,)>, Unknown> = channel.get_named_property("publish")?;
  publish.apply(channel, (payload(env, event)?,).into())?;
  Ok(())
}

/// The message of an event, as `types/header.d.ts` declares it.
fn payload<'env>(env: &'env Env, event: &Event) -> napi::Result<Object<'env>> {
  let mut object = Object::new(env)?;
  object.set("operation", event.operation)?;
  object.set("method", event.method.as_str())?;
  object.set("url", &*event.url)?;
  object.set("attempt", event.attempt)?;
  match &event.kind {
    EventKind::Request => {}
    EventKind::Response {
      status,
      failure,
      duration,
      rate_limit,
      will_retry,
    } => {
      if let Some(status) = status {
        object.set("status", u32::from(*status))?;
      }
      if let Some(failure) = failure {
        object.set("error", failure.as_str())?;
      }
      object.set("durationMs", duration.as_secs_f64() * 1000.0)?;
      let mut headers = Object::new(env)?;
      let numbers = [
        ("routeRemaining", rate_limit.route_remaining),
        ("globalRemaining", rate_limit.global_remaining),
        ("reset", rate_limit.reset),
      ];
      for (name, value) in numbers {
        if let Some(value) = value {
          headers.set(name, value as f64)?;
        }
      }
      if let Some(retry_after) = &rate_limit.retry_after {
        headers.set("retryAfter", retry_after.as_str())?;
      }
      object.set("rateLimit", headers)?;
      object.set("willRetry", *will_retry)?;
    }
    EventKind::Retry {
      reason,
      wait_ms,
      source,
    } => {
      object.set("reason", reason.as_str())?;
      if let ld_release_core::events::RetryReason::Status(status) = reason {
        object.set("status", u32::from(*status))?;
      }
      object.set("waitMs", *wait_ms as f64)?;
      object.set("source", source.as_str())?;
    }
    EventKind::Wait { wait_ms, reason } => {
      object.set("waitMs", *wait_ms as f64)?;
      object.set("reason", reason.as_str())?;
    }
  }
  Ok(object)
}

/// Gives the call an observer when its environment's channels have subscribers: on the
/// call's JavaScript thread, as it starts. Returns the call's events, to be published
/// before it settles (see `js::spawn_call`); `None` when nobody listens (or the observer
/// could not be made: the call then runs unobserved).
pub fn observe(
  env: &Env,
  mut options: RequestOptions,
  operation: &'static str,
) -> (RequestOptions, Option<CallEvents>) {
  let wanted = subscribed(env);
  if wanted == 0 {
    return (options, None);
  }
  let Some(publisher) = publisher(env) else {
    return (options, None);
  };
  let pending = Arc::new(Mutex::new(Pending::default()));
  let queue = pending.clone();
  let sink = Arc::new(move |event: Event| {
    if wanted & (1 << event.kind.index()) == 0 {
      return;
    }
    let schedule = {
      let mut pending = lock(&queue);
      pending.events.push(event);
      !std::mem::replace(&mut pending.scheduled, true)
    };
    if schedule {
      publisher.call(queue.clone(), ThreadsafeFunctionCallMode::NonBlocking);
    }
  });
  options.observer = Some(Observer::new(operation, sink));
  (options, Some(CallEvents { pending }))
}

/// The publisher of this environment, made once (after its channels, so that their
/// cleanup hook, which drops it, is there).
fn publisher(env: &Env) -> Option<Arc<Publisher>> {
  ENV_PUBLISHER.with_borrow_mut(|publisher| {
    let publisher = &mut **publisher;
    if publisher.is_none() {
      let made = env
        .create_function_from_closure("publish", |_ctx| Ok(()))
        .and_then(|function: Function<(), ()>| {
          function
            .build_threadsafe_function::<Arc<Mutex<Pending>>>()
            .callee_handled::<false>()
            .weak::<true>()
            .build_callback(|ctx: ThreadsafeCallContext<Arc<Mutex<Pending>>>| {
              publish(&ctx.env, &ctx.value);
              Ok(())
            })
        });
      *publisher = made
        .inspect_err(|_| clear_exception(env))
        .ok()
        .map(Arc::new);
    }
    publisher.clone()
  })
}

/// The channel of deprecation notices (`DeprecationEvent`).
const DEPRECATION_CHANNEL: &str = "ld-release:deprecation";
/// The `code` of the warning.
const DEPRECATION_CODE: &str = "LD_RELEASE_DEPRECATED_ROUTE";

/// Warns of each route an answer said is deprecated or will be removed (`Deprecation`
/// or `Sunset` headers; see `ld_release_core::deprecation`), once per route per process:
/// `process.emitWarning` (type `DeprecationWarning`, code `LD_RELEASE_DEPRECATED_ROUTE`)
/// and a message on `ld-release:deprecation`. Runs on a JavaScript thread as a call
/// settles, so the warning comes before the promise of the call that got the answer
/// settles. A failure to warn never reaches the caller.
pub fn warn_deprecations(env: &Env) {
  for notice in ld_release_core::deprecation::take() {
    if warn(env, &notice).is_err() {
      clear_exception(env);
    }
  }
}

fn warn(env: &Env, notice: &ld_release_core::deprecation::Notice) -> napi::Result<()> {
  let process: Object = env.get_global()?.get_named_property("process")?;
  let emit: Function<FnArgs<(String, Object)>, Unknown> =
    process.get_named_property("emitWarning")?;
  let mut options = Object::new(env)?;
  options.set("type", "DeprecationWarning")?;
  options.set("code", DEPRECATION_CODE)?;
  options.set(
    "detail",
    "LaunchDarkly said so in its answer's headers. The README's \"Which API to use\" names the successor of each call.",
  )?;
  emit.apply(process, (notice.message(), options).into())?;
  let get_builtin: Function<&str, Object> = process.get_named_property("getBuiltinModule")?;
  let module = get_builtin.apply(process, "node:diagnostics_channel")?;
  let channel_of: Function<&str, Object> = module.get_named_property("channel")?;
  let channel = channel_of.apply(module, DEPRECATION_CHANNEL)?;
  if channel.get_named_property::<bool>("hasSubscribers")? {
    let mut message = Object::new(env)?;
    message.set("method", notice.method.as_str())?;
    message.set("route", notice.route.as_str())?;
    let headers = [
      ("deprecation", &notice.deprecation),
      ("sunset", &notice.sunset),
      ("link", &notice.link),
    ];
    for (name, value) in headers {
      if let Some(value) = value {
        message.set(name, value.as_str())?;
      }
    }
    let publish: Function<FnArgs<(Object,)>, Unknown> = channel.get_named_property("publish")?;
    publish.apply(channel, (message,).into())?;
  }
  Ok(())
}
