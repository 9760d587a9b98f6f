//! Settling JavaScript promises from the runtime: abort signals, the end of a worker
//! thread, and `LdError` as a JavaScript error with a stable `code`.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use napi::bindgen_prelude::{
  FnArgs, Function, JsObjectValue, Object, PromiseRaw, ToNapiValue, TypeName,
};
use napi::{Env, JsString, JsValue, Status, Unknown, UnknownRef};

use crate::bulk::Stop;
use crate::diagnostics::CallEvents;
use crate::error::{ErrorCode, LdError};
use crate::release::Release;

/// A Release on its way to JavaScript: the server's JSON text, turned into objects by
/// `JSON.parse` on the JavaScript thread (one V8 call instead of one N-API call per
/// field).
pub struct ReleaseJson(String);

impl ReleaseJson {
  /// JSON text checked to be JSON (a page's item, as the server sent it).
  pub fn from_text(text: String) -> Self {
    ReleaseJson(text)
  }
}

impl From<Release> for ReleaseJson {
  fn from(release: Release) -> Self {
    ReleaseJson(release.into_json())
  }
}

impl TypeName for ReleaseJson {
  fn type_name() -> &'static str {
    "Release"
  }

  fn value_type() -> napi::ValueType {
    napi::ValueType::Object
  }
}

impl ToNapiValue for ReleaseJson {
  unsafe fn to_napi_value(
    raw: napi::sys::napi_env,
    val: Self,
  ) -> napi::Result<napi::sys::napi_value> {
    let env = Env::from_raw(raw);
    let json: Object = env.get_global()?.get_named_property("JSON")?;
    let parse: Function<JsString, Unknown> = json.get_named_property("parse")?;
    // ASCII text (the usual case) is copied into a one-byte string as is; other text
    // goes through UTF-8 decoding.
    let text = if val.0.is_ascii() {
      env.create_string_latin1(val.0.as_bytes())?
    } else {
      env.create_string_from_std(val.0)?
    };
    Ok(parse.call(text)?.raw())
  }
}

/// The calls in flight of the JavaScript environment of this thread (the main thread's,
/// or a worker's: each has its own thread).
#[derive(Default)]
struct EnvCalls {
  /// Set when the environment is torn down: every call it started is dropped, closing
  /// its connections, instead of running on in the shared runtime. Made, with the
  /// environment's cleanup hook, by the first call.
  teardown: Option<Arc<Teardown>>,
  /// References the calls in flight hold (an abort signal and its listener, or an abort
  /// reason), by call. Kept here rather than in each call's callback, so that the
  /// cleanup hook can release them while the environment is still there.
  refs: Vec<(u64, Vec<UnknownRef>)>,
  next_id: u64,
}

/// The end of an environment, as its calls on the runtime see it.
#[derive(Default)]
struct Teardown {
  done: AtomicBool,
  notify: tokio::sync::Notify,
}

thread_local! {
  static ENV_CALLS: RefCell<EnvCalls> = RefCell::default();
}

/// A future that completes when the environment of `env` is torn down.
fn torn_down(env: &Env) -> napi::Result<impl Future<Output = ()> + Send + 'static> {
  let teardown = ENV_CALLS.with_borrow_mut(|calls| -> napi::Result<_> {
    if let Some(teardown) = &calls.teardown {
      return Ok(teardown.clone());
    }
    env.add_env_cleanup_hook(env.raw() as usize, |raw| {
      tear_down(raw as napi::sys::napi_env)
    })?;
    Ok(calls.teardown.insert(Arc::default()).clone())
  })?;
  Ok(async move {
    loop {
      let notified = teardown.notify.notified();
      if teardown.done.load(Ordering::Acquire) {
        return;
      }
      notified.await;
    }
  })
}

/// The environment's cleanup hook: cancels its calls and releases their references.
fn tear_down(raw: napi::sys::napi_env) {
  let (teardown, refs) =
    ENV_CALLS.with_borrow_mut(|calls| (calls.teardown.take(), std::mem::take(&mut calls.refs)));
  if let Some(teardown) = teardown {
    teardown.done.store(true, Ordering::Release);
    teardown.notify.notify_waiters();
  }
  let env = Env::from_raw(raw);
  for reference in refs.into_iter().flat_map(|(_, refs)| refs) {
    let _ = reference.unref(&env);
  }
}

/// `work`, ended with an `AbortError` (and dropped) as soon as `stop` completes. Written
/// out rather than with `tokio::select!`, whose expansion for each kind of call weighs on
/// the addon's size.
struct Cancellable<F> {
  stop: Pin<Box<dyn Future<Output = ()> + Send>>,
  work: Pin<Box<F>>,
}

impl<T, F: Future<Output = Result<T, LdError>>> Future for Cancellable<F> {
  type Output = Result<T, LdError>;

  fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
    let this = self.get_mut();
    if this.stop.as_mut().poll(cx).is_ready() {
      return Poll::Ready(Err(LdError::aborted()));
    }
    this.work.as_mut().poll(cx)
  }
}

/// Keeps `refs` for a call until `take_refs(id)`; returns `id`.
fn hold_refs(refs: Vec<UnknownRef>) -> u64 {
  ENV_CALLS.with_borrow_mut(|calls| {
    calls.next_id += 1;
    let id = calls.next_id;
    calls.refs.push((id, refs));
    id
  })
}

/// The references `hold_refs` kept under `id`; none once the environment is torn down.
fn take_refs(id: u64) -> Vec<UnknownRef> {
  ENV_CALLS.with_borrow_mut(|calls| {
    let index = calls.refs.iter().position(|(held, _)| *held == id);
    index
      .map(|i| calls.refs.swap_remove(i).1)
      .unwrap_or_default()
  })
}

/// A call that is a run (`completePhases`, `advancePipeline`): its `Stop`, which `work`
/// runs under, and the message of the `AbortError` its results make.
pub struct Run<T> {
  pub stop: Stop,
  pub message: fn(&T) -> String,
}

/// Runs `work` on the runtime and settles a promise with `finish`'s value or the error.
/// With a signal, an `abort` listener drops `work` at once (closing any connection it
/// holds) and rejects with an `AbortError`; the listener is removed when the call ends.
/// An already-aborted signal runs nothing. A `run` is not dropped: the abort stops it
/// (see `Stop`), and it rejects with an `AbortError` whose `results` are `finish`'s
/// value for what it did (`[]` when it was stopped before its writes began). When the
/// environment that made the call is torn down (a worker thread terminated), `work` is
/// dropped the same way. The call's diagnostics `events` still queued are published
/// before the promise settles.
pub fn spawn_call<'env, T, V>(
  env: &'env Env,
  (signal, run): (Option<Object<'env>>, Option<Run<T>>),
  events: Option<CallEvents>,
  work: impl Future<Output = Result<T, LdError>> + Send + 'static,
  finish: impl FnOnce(&'env Env, T) -> napi::Result<V> + 'static,
) -> napi::Result<PromiseRaw<'env, V>>
where
  T: Send + 'static,
  V: ToNapiValue,
{
  let work = Cancellable {
    stop: Box::pin(torn_down(env)?),
    work: Box::pin(work),
  };
  let publish = move |env: &Env| {
    if let Some(events) = &events {
      events.publish(env);
    }
    crate::diagnostics::warn_deprecations(env);
  };
  let Some(signal) = signal else {
    return env.spawn_future_with_callback(async move { Ok(work.await) }, move |env, result| {
      publish(env);
      result
        .map_err(|e| throwable(env, &e, None))
        .and_then(|t| finish(env, t))
    });
  };
  if signal
    .get_named_property::<bool>("aborted")
    .unwrap_or(false)
  {
    // The signal is held, not its reason: a reason can be any value (a string, `null`,
    // a Symbol), and only objects can be referenced on every Node-API version. The
    // reason is read when the promise settles, as for an abort during the call.
    let held = hold_refs(vec![signal.to_unknown().create_ref()?]);
    let reason = move |env: &'env Env| {
      let mut cause = None;
      for signal in take_refs(held) {
        cause = signal_reason(env, &signal);
        let _ = signal.unref(env);
      }
      cause
    };
    if let Some(run) = run {
      // A run stopped before it begins sends nothing, and says so of each item.
      run.stop.stop();
      return env.spawn_future_with_callback(async move { Ok(work.await) }, move |env, result| {
        publish(env);
        let cause = reason(env);
        stopped(env, result, cause.as_ref(), run, finish)
      });
    }
    return env
      .spawn_future_with_callback(async move { Ok(LdError::aborted()) }, move |env, error| {
        Err(throwable(env, &error, reason(env).as_ref()))
      });
  }
  let (tx, rx) = tokio::sync::oneshot::channel::<()>();
  let tx = RefCell::new(Some(tx));
  let listener: Function<Unknown, ()> =
    env.create_function_from_closure("onAbort", move |_ctx| {
      if let Some(tx) = tx.borrow_mut().take() {
        let _ = tx.send(());
      }
      Ok(())
    })?;
  if let Err(error) = listen(signal, listener) {
    // The signal's own code threw (a getter or an `addEventListener` of its own): the
    // call rejects with that as the cause, and never throws.
    return reject(env, error);
  }
  let refs = hold_refs(vec![
    signal.to_unknown().create_ref()?,
    listener.to_unknown().create_ref()?,
  ]);
  let stop = run.as_ref().map(|run| run.stop.clone());
  env.spawn_future_with_callback(
    async move {
      let cancel = async move {
        if rx.await.is_err() {
          std::future::pending::<()>().await;
        }
      };
      tokio::pin!(work);
      Ok(tokio::select! {
        biased;
        () = cancel => match stop {
          // The run ends at once, with what it did.
          Some(stop) => {
            stop.stop();
            work.await
          }
          None => Err(LdError::aborted()),
        },
        result = &mut work => result,
      })
    },
    move |env, result| {
      publish(env);
      let cause = match <[UnknownRef; 2]>::try_from(take_refs(refs)) {
        Ok([signal_ref, listener_ref]) => release_listener(env, signal_ref, listener_ref),
        Err(_) => None,
      };
      match run {
        Some(run) if run.stop.is_stopped() => stopped(env, result, cause.as_ref(), run, finish),
        _ => result
          .map_err(|e| throwable(env, &e, cause.as_ref()))
          .and_then(|t| finish(env, t)),
      }
    },
  )
}

/// How a run the signal stopped settles: an `AbortError` whose `results` are `finish`'s
/// value for what it did, or `[]` when it was stopped before its writes began. A
/// failure of its own that came first rejects as it is.
fn stopped<'env, T, V: ToNapiValue>(
  env: &'env Env,
  result: Result<T, LdError>,
  cause: Option<&Unknown>,
  run: Run<T>,
  finish: impl FnOnce(&'env Env, T) -> napi::Result<V>,
) -> napi::Result<V> {
  let (message, results) = match result {
    Ok(done) => {
      let message = (run.message)(&done);
      let value = finish(env, done)?;
      // SAFETY: the value is made in this environment, on its thread, and used at once.
      let results = unsafe {
        Unknown::from_raw_unchecked(env.raw(), ToNapiValue::to_napi_value(env.raw(), value)?)
      };
      (message, results)
    }
    Err(error) if error.code == ErrorCode::Aborted => (
      "The operation was aborted before any write was sent: nothing was written".to_string(),
      env.create_array(0)?.to_unknown(),
    ),
    Err(error) => return Err(throwable(env, &error, cause)),
  };
  let error = LdError::new(ErrorCode::Aborted, message);
  let made = bare_error_object(env, &error).and_then(|mut object| {
    let converted = napi::Error::from(object.to_unknown());
    set_cause(env, &mut object, &error, cause)?;
    object.set("results", results)?;
    Ok(converted)
  });
  Err(made.unwrap_or_else(|e| e))
}

/// Adds `listener` for the signal's `abort` event; an error (with the exception thrown,
/// if any) when the signal's code throws.
fn listen(signal: Object, listener: Function<Unknown, ()>) -> Result<(), LdError> {
  let added = (|| -> napi::Result<()> {
    let add: Function<FnArgs<(&str, Unknown)>, Unknown> =
      signal.get_named_property("addEventListener")?;
    add.apply(signal, ("abort", listener.to_unknown()).into())?;
    Ok(())
  })();
  added.map_err(|_| LdError {
    thrown: crate::options::keep_pending_exception(signal.value().env),
    ..LdError::invalid(
      "options.signal could not be listened to: its addEventListener failed".to_string(),
    )
  })
}

/// A promise rejected with `error`.
fn reject<'env, V: ToNapiValue>(
  env: &'env Env,
  error: LdError,
) -> napi::Result<PromiseRaw<'env, V>> {
  env.spawn_future_with_callback(async move { Ok(error) }, move |env, error| {
    Err(throwable(env, &error, None))
  })
}

/// The `reason` of the signal `signal` refers to; `None` if it cannot be read.
fn signal_reason<'env>(env: &'env Env, signal: &UnknownRef) -> Option<Unknown<'env>> {
  let signal: Object = unsafe { signal.get_value(env).ok()?.cast().ok()? };
  signal.get_named_property::<Unknown>("reason").ok()
}

/// Removes the abort listener and returns the signal's `reason`, for an AbortError's cause.
pub fn release_listener<'env>(
  env: &'env Env,
  signal_ref: UnknownRef,
  listener_ref: UnknownRef,
) -> Option<Unknown<'env>> {
  let reason = (|| -> napi::Result<Unknown<'env>> {
    let signal: Object = unsafe { signal_ref.get_value(env)?.cast()? };
    let listener = listener_ref.get_value(env)?;
    let remove: Function<FnArgs<(&str, Unknown)>, Unknown> =
      signal.get_named_property("removeEventListener")?;
    remove.apply(signal, ("abort", listener).into())?;
    signal.get_named_property::<Unknown>("reason")
  })();
  let _ = signal_ref.unref(env);
  let _ = listener_ref.unref(env);
  reason.ok()
}

/// The JavaScript error for an `LdError`: `name`, `code`, and `status`, `apiCode`,
/// `apiMessage`, `failedHealthChecks`, `retryAfterMs`, `attempts` where they apply; `cause` on an abort (the
/// signal's reason) and on an argument whose reading threw (what the caller's code threw).
pub fn error_object<'env>(
  env: &'env Env,
  error: &LdError,
  cause: Option<&Unknown>,
) -> napi::Result<Object<'env>> {
  let mut object = bare_error_object(env, error)?;
  set_cause(env, &mut object, error, cause)?;
  Ok(object)
}

/// The `cause` of the error object for `error`: the abort's reason, or what the caller's
/// code threw. Any value: a string, `null`, `false`, a Symbol.
fn set_cause(
  env: &Env,
  object: &mut Object,
  error: &LdError,
  cause: Option<&Unknown>,
) -> napi::Result<()> {
  if let Some(cause) = cause.filter(|_| error.code == ErrorCode::Aborted) {
    object.set("cause", *cause)?;
  } else if let Some(thrown) = error
    .thrown
    .and_then(|id| crate::options::take_thrown(env, id))
  {
    object.set("cause", thrown)?;
  }
  Ok(())
}

/// `error_object` without `cause`.
fn bare_error_object<'env>(env: &'env Env, error: &LdError) -> napi::Result<Object<'env>> {
  // The one place every error passes on its way to JavaScript: every token the process
  // holds is masked in its texts here, whatever produced it.
  let error = &crate::redact::scrub(error);
  let mut object = env.create_error(napi::Error::new(Status::GenericFailure, &error.message))?;
  object.set("name", error.name())?;
  object.set("code", error.code.as_str())?;
  if let Some(status) = error.status {
    object.set("status", u32::from(status))?;
  }
  if let Some(api_code) = &error.api_code {
    object.set("apiCode", api_code.as_str())?;
  }
  if let Some(api_message) = &error.api_message {
    object.set("apiMessage", api_message.as_str())?;
  }
  if let Some(excerpt) = &error.body_excerpt {
    object.set("bodyExcerpt", &**excerpt)?;
  }
  if let Some(checks) = &error.failed_health_checks {
    object.set("failedHealthChecks", checks.clone())?;
  }
  if let Some(ms) = error.retry_after_ms {
    object.set("retryAfterMs", ms as f64)?;
  }
  // An `AbortError` is Node's kind of error, not a LaunchDarklyError: no `attempts`.
  if error.code != ErrorCode::Aborted {
    object.set("attempts", error.attempts)?;
  }
  crate::guard::brand(&mut object, error)?;
  Ok(object)
}

/// `error_object` as a `napi::Error` that throws or rejects with exactly that object.
/// The `cause` is set after the conversion: napi-rs's converts a `cause` it finds to a
/// string, which throws for a Symbol and would leave the promise unsettled.
pub fn throwable(env: &Env, error: &LdError, cause: Option<&Unknown>) -> napi::Error {
  let made = bare_error_object(env, error).and_then(|mut object| {
    let converted = napi::Error::from(object.to_unknown());
    set_cause(env, &mut object, error, cause)?;
    Ok(converted)
  });
  made.unwrap_or_else(|e| e)
}

#[cfg(test)]
mod tests {
  use crate::error::ErrorCode;

  /// The `LaunchDarklyErrorCode` union of `types/header.d.ts`, as its members.
  fn declared_codes() -> Vec<String> {
    let header = include_str!("../types/header.d.ts");
    let start = header
      .find("export type LaunchDarklyErrorCode =")
      .expect("the header declares LaunchDarklyErrorCode");
    let rest = &header[start..];
    let end = rest.find("\n\n").unwrap_or(rest.len());
    rest[..end]
      .split('\'')
      .skip(1)
      .step_by(2)
      .map(str::to_string)
      .collect()
  }

  #[test]
  fn the_typescript_union_lists_exactly_the_codes_errors_carry() {
    let mut declared = declared_codes();
    declared.sort();
    let mut raised: Vec<String> = ErrorCode::ALL
      .iter()
      .filter(|code| **code != ErrorCode::Aborted)
      .map(|code| code.as_str().to_string())
      .collect();
    raised.sort();
    assert_eq!(declared, raised);
    assert!(include_str!("../types/header.d.ts").contains("code: 'ABORT_ERR'"));
  }
}
