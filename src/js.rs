//! Settling JavaScript promises from the runtime: abort signals, and `LdError` as a
//! JavaScript error with a stable `code`.

use std::cell::RefCell;
use std::future::Future;

use napi::bindgen_prelude::{
  FnArgs, Function, JsObjectValue, Object, PromiseRaw, ToNapiValue, TypeName,
};
use napi::{Env, JsString, JsValue, Status, Unknown, UnknownRef};

use crate::error::{ErrorCode, LdError};
use crate::release::Release;

/// A Release on its way to JavaScript: the server's JSON text, turned into objects by
/// `JSON.parse` on the JavaScript thread (one V8 call instead of one N-API call per
/// field).
pub struct ReleaseJson(String);

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

/// A promise that rejects with `error`.
pub fn reject<'env, V: ToNapiValue>(
  env: &'env Env,
  error: LdError,
) -> napi::Result<PromiseRaw<'env, V>> {
  env.spawn_future_with_callback(async move { Ok(error) }, |env, error| {
    Err(throwable(env, &error, None))
  })
}

/// Runs `work` on the runtime and settles a promise with `finish`'s value or the error.
/// With a signal, an `abort` listener drops `work` at once (closing any connection it
/// holds) and rejects with an `AbortError`; the listener is removed when the call ends.
/// An already-aborted signal runs nothing.
pub fn spawn_call<'env, T, V>(
  env: &'env Env,
  signal: Option<Object<'env>>,
  work: impl Future<Output = Result<T, LdError>> + Send + 'static,
  finish: impl FnOnce(&'env Env, T) -> napi::Result<V> + 'static,
) -> napi::Result<PromiseRaw<'env, V>>
where
  T: Send + 'static,
  V: ToNapiValue,
{
  let Some(signal) = signal else {
    return env.spawn_future_with_callback(async move { Ok(work.await) }, move |env, result| {
      result
        .map_err(|e| throwable(env, &e, None))
        .and_then(|t| finish(env, t))
    });
  };
  if signal
    .get_named_property::<bool>("aborted")
    .unwrap_or(false)
  {
    let reason = signal
      .get_named_property::<Unknown>("reason")?
      .create_ref()?;
    return env.spawn_future_with_callback(
      async move { Ok(LdError::aborted()) },
      move |env, error| {
        let cause = reason.get_value(env).ok();
        let _ = reason.unref(env);
        Err(throwable(env, &error, cause.as_ref()))
      },
    );
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
  let add: Function<FnArgs<(&str, Unknown)>, Unknown> =
    signal.get_named_property("addEventListener")?;
  add.apply(signal, ("abort", listener.to_unknown()).into())?;
  let signal_ref = signal.to_unknown().create_ref()?;
  let listener_ref = listener.to_unknown().create_ref()?;
  env.spawn_future_with_callback(
    async move {
      let cancel = async move {
        if rx.await.is_err() {
          std::future::pending::<()>().await;
        }
      };
      Ok(tokio::select! {
        biased;
        () = cancel => Err(LdError::aborted()),
        result = work => result,
      })
    },
    move |env, result| {
      let cause = release_listener(env, signal_ref, listener_ref);
      result
        .map_err(|e| throwable(env, &e, cause.as_ref()))
        .and_then(|t| finish(env, t))
    },
  )
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
/// `apiMessage`, `retryAfterMs`, `attempts` where they apply; `cause` on an abort (the
/// signal's reason) and on an argument whose reading threw (what the caller's code threw).
pub fn error_object<'env>(
  env: &'env Env,
  error: &LdError,
  cause: Option<&Unknown>,
) -> napi::Result<Object<'env>> {
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
  if let Some(ms) = error.retry_after_ms {
    object.set("retryAfterMs", ms as f64)?;
  }
  if error.code != ErrorCode::Aborted || error.attempts > 0 {
    object.set("attempts", error.attempts)?;
  }
  if let Some(cause) = cause.filter(|_| error.code == ErrorCode::Aborted) {
    object.set("cause", *cause)?;
  } else if let Some(thrown) = error
    .thrown
    .and_then(|id| crate::options::take_thrown(env, id))
  {
    object.set("cause", thrown)?;
  }
  crate::guard::brand(&mut object, error)?;
  Ok(object)
}

/// `error_object` as a `napi::Error` that throws or rejects with exactly that object.
pub fn throwable(env: &Env, error: &LdError, cause: Option<&Unknown>) -> napi::Error {
  match error_object(env, error, cause) {
    Ok(object) => napi::Error::from(object.to_unknown()),
    Err(e) => e,
  }
}
