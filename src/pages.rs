//! Lists as async iterators: `for await (const pipeline of listReleasePipelines('web'))`.
//! Each `next()` hands on the next item of the page in hand, and fetches the next page
//! (on the runtime, through the client's gate and retries) only when the page is used
//! up; `return()` (a `break` out of the loop) ends the list, so no further page is
//! fetched, and a `next()` still waiting resolves as done at once (its fetch dropped).
//! An argument the call could not use rejects the first `next()`.
//!
//! A watch (`watchEnvironmentRelease`) is the same iterator over the states of a release:
//! each `next()` waits and reads until something changed (see
//! `environment_releases::Watch`); `return()` cancels a pending wait the same way.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use napi::bindgen_prelude::{JsObjectValue, Object, ToNapiValue};
use napi::{Env, JsValue, Unknown, ValueType};

use crate::client::Client;
use crate::config::RequestOptions;
use crate::environment_releases::Watch;
use crate::error::{LdError, Result};
use crate::js::ReleaseJson;
use crate::operations::{rejected, settle, Outcome, Pending};
use crate::pipelines::Pager;

/// Where an iterator's items come from: the pages of a list, or the states of a watched
/// release.
pub enum Feed {
  Pages(Pager),
  Watch(Watch),
}

impl Feed {
  fn is_done(&self) -> bool {
    match self {
      Feed::Pages(pager) => pager.is_done(),
      Feed::Watch(watch) => watch.is_done(),
    }
  }

  fn finish(&mut self) {
    match self {
      Feed::Pages(pager) => pager.finish(),
      Feed::Watch(watch) => watch.finish(),
    }
  }

  /// The next items: a page's, or the release when it changed (none: it ended).
  async fn more(&mut self, client: &Client, options: RequestOptions) -> Result<Vec<String>> {
    match self {
      Feed::Pages(pager) => Ok(client.next_page(pager, options).await?.items),
      Feed::Watch(watch) => Ok(
        client
          .watch_next(watch, options)
          .await?
          .map(|release| release.into_json())
          .into_iter()
          .collect(),
      ),
    }
  }
}

/// An iterator's end, as its work on the runtime sees it: set by `return()`, which
/// also wakes the `next()` in flight so that it resolves as done at once.
#[derive(Default)]
struct Stop {
  stopped: AtomicBool,
  notify: tokio::sync::Notify,
}

impl Stop {
  fn stop(&self) {
    self.stopped.store(true, Ordering::SeqCst);
    self.notify.notify_waiters();
  }

  fn is_stopped(&self) -> bool {
    self.stopped.load(Ordering::SeqCst)
  }

  /// Completes once `stop` has been called.
  async fn stopped(self: Arc<Self>) {
    loop {
      let notified = self.notify.notified();
      if self.is_stopped() {
        return;
      }
      notified.await;
    }
  }
}

/// `work`, resolved as the end of the iterator (and dropped, with any wait or request
/// it holds) as soon as `stop` completes.
struct Stoppable {
  stop: Pin<Box<dyn Future<Output = ()> + Send>>,
  work: Pending,
}

impl Future for Stoppable {
  type Output = Result<Outcome>;

  fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
    let this = self.get_mut();
    if this.stop.as_mut().poll(cx).is_ready() {
      return Poll::Ready(Ok(Outcome::Step(None)));
    }
    this.work.as_mut().poll(cx)
  }
}

/// A list being read: its feed and the items in hand.
pub struct Cursor {
  client: Arc<Client>,
  options: RequestOptions,
  /// The operation, for diagnostics: each page's requests are observed as its own call.
  name: &'static str,
  state: Arc<tokio::sync::Mutex<(Feed, VecDeque<String>)>>,
  stop: Arc<Stop>,
}

impl Cursor {
  pub fn new(client: Arc<Client>, feed: Feed, options: RequestOptions, name: &'static str) -> Self {
    Cursor {
      client,
      options,
      name,
      state: Arc::new(tokio::sync::Mutex::new((feed, VecDeque::new()))),
      stop: Arc::default(),
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
  let stop = cursor.as_ref().map_or_else(
    || {
      let stop = Stop::default();
      stop.stopped.store(true, Ordering::SeqCst);
      Arc::new(stop)
    },
    |c| c.stop.clone(),
  );
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
      let (client, state, stop) = (
        cursor.client.clone(),
        cursor.state.clone(),
        cursor.stop.clone(),
      );
      let work: Pending = Box::pin({
        let stop = stop.clone();
        async move {
          let mut state = state.lock().await;
          let (feed, items) = &mut *state;
          loop {
            if stop.is_stopped() {
              return Ok(Outcome::Step(None));
            }
            if let Some(item) = items.pop_front() {
              return Ok(Outcome::Step(Some(item)));
            }
            if feed.is_done() {
              return Ok(Outcome::Step(None));
            }
            match feed.more(&client, options.clone()).await {
              Ok(more) => items.extend(more),
              Err(error) => {
                feed.finish();
                return Err(error);
              }
            }
          }
        }
      });
      let work = Box::pin(Stoppable {
        stop: Box::pin(stop.stopped()),
        work,
      });
      let promise = settle(env, signal, events, work)?;
      Ok(Raw(promise.raw()))
    })?
  };
  object.set("next", next)?;
  let finish = {
    let stop = stop.clone();
    env.create_function_from_closure::<(), Raw, _>("return", move |ctx| {
      stop.stop();
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
