//! Lists as async iterators: `for await (const pipeline of listReleasePipelines('web'))`.
//! Each `next()` hands on the next item of the page in hand, and fetches the next page
//! (on the runtime, through the client's gate and retries) only when the page is used
//! up; `return()` (a `break` out of the loop) ends the list, so no further page is
//! fetched. An argument the call could not use rejects the first `next()`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use napi::bindgen_prelude::{JsObjectValue, Object, ToNapiValue};
use napi::{Env, JsValue, Unknown, ValueType};

use crate::client::Client;
use crate::config::RequestOptions;
use crate::error::{LdError, Result};
use crate::js::ReleaseJson;
use crate::operations::{rejected, settle, Outcome};
use crate::pipelines::Pager;

/// A list being read: its pager and the items of the page in hand.
pub struct Cursor {
  client: Arc<Client>,
  options: RequestOptions,
  /// The operation, for diagnostics: each page's requests are observed as its own call.
  name: &'static str,
  state: Arc<tokio::sync::Mutex<(Pager, VecDeque<String>)>>,
  stopped: Arc<AtomicBool>,
}

impl Cursor {
  pub fn new(
    client: Arc<Client>,
    pager: Pager,
    options: RequestOptions,
    name: &'static str,
  ) -> Self {
    Cursor {
      client,
      options,
      name,
      state: Arc::new(tokio::sync::Mutex::new((pager, VecDeque::new()))),
      stopped: Arc::default(),
    }
  }
}

/// A value the N-API callback returns as it is.
struct Raw(napi::sys::napi_value);

impl ToNapiValue for Raw {
  unsafe fn to_napi_value(
    _env: napi::sys::napi_env,
    val: Self,
  ) -> napi::Result<napi::sys::napi_value> {
    Ok(val.0)
  }
}

/// `{ value, done }`: the next item parsed, or the end.
pub fn step(env: &Env, item: Option<String>) -> napi::Result<Object<'_>> {
  let mut result = Object::new(env)?;
  match item {
    Some(text) => {
      result.set("value", ReleaseJson::from_text(text))?;
      result.set("done", false)?;
    }
    None => {
      result.set("value", ())?;
      result.set("done", true)?;
    }
  }
  Ok(result)
}

/// The iterator object for `cursor` (or for the error that kept the call from
/// starting). A `signal` aborts the page fetch in flight, like any call's.
pub fn iterator<'env>(
  env: &'env Env,
  cursor: Result<Cursor>,
  signal: Option<Object<'env>>,
) -> napi::Result<Unknown<'env>> {
  let (cursor, failure) = match cursor {
    Ok(cursor) => (Some(cursor), None),
    Err(error) => (None, Some(error)),
  };
  let stopped = cursor
    .as_ref()
    .map_or_else(|| Arc::new(AtomicBool::new(true)), |c| c.stopped.clone());
  let failure: Rc<RefCell<Option<LdError>>> = Rc::new(RefCell::new(failure));
  let cursor = Rc::new(cursor);

  let mut object = Object::new(env)?;
  if let Some(signal) = signal {
    object.set("signal", signal)?;
  }
  let next = {
    let (cursor, failure) = (cursor.clone(), failure.clone());
    env.create_function_from_closure::<(), Raw, _>("next", move |ctx| {
      let env: &Env = ctx.env;
      if let Some(error) = failure.borrow_mut().take() {
        return Ok(Raw(rejected(env, error)?.raw()));
      }
      let Some(cursor) = cursor.as_ref() else {
        let done = settle(env, None, None, Box::pin(async { Ok(Outcome::Step(None)) }))?;
        return Ok(Raw(done.raw()));
      };
      let signal = ctx
        .this::<Object>()
        .ok()
        .and_then(|this| this.get_named_property::<Unknown>("signal").ok())
        .filter(|s| s.get_type().ok() == Some(ValueType::Object))
        // SAFETY: checked to be an object just above.
        .and_then(|s| unsafe { s.cast::<Object>() }.ok());
      let (options, events) = crate::diagnostics::observe(env, cursor.options.clone(), cursor.name);
      let (client, state, stopped) = (
        cursor.client.clone(),
        cursor.state.clone(),
        cursor.stopped.clone(),
      );
      let work = Box::pin(async move {
        let mut state = state.lock().await;
        let (pager, items) = &mut *state;
        loop {
          if stopped.load(Ordering::SeqCst) {
            return Ok(Outcome::Step(None));
          }
          if let Some(item) = items.pop_front() {
            return Ok(Outcome::Step(Some(item)));
          }
          if pager.is_done() {
            return Ok(Outcome::Step(None));
          }
          match client.next_page(pager, options.clone()).await {
            Ok(page) => items.extend(page.items),
            Err(error) => {
              pager.finish();
              return Err(error);
            }
          }
        }
      });
      let promise = settle(env, signal, events, work)?;
      Ok(Raw(promise.raw()))
    })?
  };
  object.set("next", next)?;
  let finish = {
    let stopped = stopped.clone();
    env.create_function_from_closure::<(), Raw, _>("return", move |ctx| {
      stopped.store(true, Ordering::SeqCst);
      let done = settle(
        ctx.env,
        None,
        None,
        Box::pin(async { Ok(Outcome::Step(None)) }),
      )?;
      Ok(Raw(done.raw()))
    })?
  };
  object.set("return", finish)?;
  let this = env.create_function_from_closure::<(), Raw, _>("[Symbol.asyncIterator]", |ctx| {
    ctx.this::<Unknown>().map(|this| Raw(this.raw()))
  })?;
  let symbol: Unknown = env.get_global()?.get_named_property("Symbol")?;
  // SAFETY: the global `Symbol` is a function, which N-API reads properties of as an object.
  let symbol: Object = unsafe { symbol.cast() }?;
  let async_iterator: Unknown = symbol.get_named_property("asyncIterator")?;
  object.set_property(async_iterator, this)?;
  Ok(object.to_unknown())
}
