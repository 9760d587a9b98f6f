//! Many phase changes through one client: bounded concurrency, results in input order,
//! one item's failure never fails the batch. A run can be stopped (`Stop`): it then ends
//! at once with what it did, each item it had not finished saying whether its write
//! had been sent.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::client::Client;
use crate::config::RequestOptions;
use crate::error::{LdError, Result};
use crate::phases::{PhaseChange, PhaseOutcome};
use crate::release::Release;

pub const DEFAULT_CONCURRENCY: usize = 8;
pub const MAX_CONCURRENCY: usize = 256;

/// Called after each item with (items done, total).
pub type Progress = Arc<dyn Fn(usize, usize) + Send + Sync>;

/// The stop of a call (its abort signal, in JavaScript). Work run under it (`scope`,
/// `guard`) sees it in every run it makes (`run_each`): once stopped, a run starts no
/// more items, drops those under way (closing their connections) and returns at once,
/// each item it had not finished an `LdError::unfinished` that says whether its write
/// had been sent. Stopping twice is stopping once.
#[derive(Clone, Default)]
pub struct Stop(Arc<StopState>);

#[derive(Default)]
struct StopState {
  stopped: AtomicBool,
  /// Set when a run under this stop begins: from then on the work is left to end by
  /// itself (`guard`).
  engaged: AtomicBool,
  notify: tokio::sync::Notify,
}

tokio::task_local! {
  /// The stop of the work this task runs (see `Stop::scope`).
  static STOP: Stop;
  /// Set when the write of the run item this task runs is being sent (see `note_write`).
  static WRITE_SENT: Arc<AtomicBool>;
}

impl Stop {
  pub fn new() -> Self {
    Stop::default()
  }

  /// Stops the work under this stop.
  pub fn stop(&self) {
    self.0.stopped.store(true, Ordering::SeqCst);
    self.0.notify.notify_waiters();
  }

  pub fn is_stopped(&self) -> bool {
    self.0.stopped.load(Ordering::SeqCst)
  }

  /// Whether a run has begun under this stop.
  pub fn is_engaged(&self) -> bool {
    self.0.engaged.load(Ordering::SeqCst)
  }

  /// Completes once stopped.
  pub async fn stopped(&self) {
    loop {
      let notified = self.0.notify.notified();
      if self.is_stopped() {
        return;
      }
      notified.await;
    }
  }

  /// `work` with this stop seen by the runs it makes. The work goes on to its end:
  /// for work that is a run and nothing else.
  pub async fn scope<T>(&self, work: impl Future<Output = T>) -> T {
    STOP.scope(self.clone(), work).await
  }

  /// `work` under this stop, as `scope`; but stopped before a run has begun (while it
  /// reads what it will write), the work is dropped and ends with an `AbortError`:
  /// nothing was written. Once a run has begun, the work goes on to its end, which the
  /// stopped run makes prompt. Already stopped, `work` is not started.
  pub async fn guard<T>(&self, work: impl Future<Output = Result<T>>) -> Result<T> {
    let work = STOP.scope(self.clone(), work);
    tokio::pin!(work);
    loop {
      tokio::select! {
        biased;
        () = self.stopped(), if !self.is_engaged() => {
          if !self.is_engaged() {
            return Err(LdError::aborted());
          }
        }
        result = &mut work => return result,
      }
    }
  }
}

/// Notes that the write of the run item the current task runs is being sent: stopped
/// after this, the item's outcome is unknown. Outside a run, nothing.
pub fn note_write() {
  let _ = WRITE_SENT.try_with(|sent| sent.store(true, Ordering::SeqCst));
}

/// Runs every phase change (items that failed to prepare are reported as they are), at
/// most `concurrency` at a time. All requests share the client's rate-limit gate and
/// what it knows of release pipelines. With `dry_run`, each item's reads happen and its
/// write is only planned (see `Client::plan_phase`). An item that repeats an earlier one
/// (the same project, flag, phase and change) is not run again: it gets the earlier one's
/// result, so a phase listed three times is written (or planned) once.
pub async fn run(
  client: Arc<Client>,
  items: Vec<Result<PhaseChange>>,
  (concurrency, dry_run): (usize, bool),
  options: RequestOptions,
  progress: Option<Progress>,
) -> Vec<Result<PhaseOutcome>> {
  let (items, repeats) = without_repeats(items);
  let mut results = run_each(
    client,
    items,
    concurrency,
    progress,
    move |client, change| {
      let options = options.clone();
      Box::pin(async move { client.phase_outcome(change, dry_run, options).await })
    },
  )
  .await;
  for (repeat, first) in repeats {
    results[repeat] = results[first].clone();
  }
  results
}

/// `items` with each repeat of an earlier item set aside (as an error standing in for
/// it, counted done from the start), and the pairs (repeat, first) to fill in after.
fn without_repeats(
  items: Vec<Result<PhaseChange>>,
) -> (Vec<Result<PhaseChange>>, Vec<(usize, usize)>) {
  let mut first_of = std::collections::HashMap::new();
  let mut repeats = Vec::new();
  let items = items
    .into_iter()
    .enumerate()
    .map(|(index, item)| {
      let Ok(change) = item else {
        return item;
      };
      let key = format!(
        "{:?}",
        (
          &change.project_key,
          &change.flag_key,
          &change.phase,
          change.action
        )
      );
      match first_of.get(&key) {
        Some(&first) => {
          repeats.push((index, first));
          Err(LdError::invalid("a repeat of an earlier item"))
        }
        None => {
          first_of.insert(key, index);
          Ok(change)
        }
      }
    })
    .collect();
  (items, repeats)
}

/// The work of one item: a future on the shared client.
pub type ItemFuture<O = Release> = Pin<Box<dyn Future<Output = Result<O>> + Send>>;

/// Runs `work` for every item (items that failed to prepare are reported as they are),
/// at most `concurrency` at a time, and returns the results in input order. Under a
/// stopped `Stop` (see `Stop::scope`), it returns at once: the items it had not finished
/// are each an `LdError::unfinished`, which says whether the item's write had been sent
/// (an item that was never started, or was still reading, was not).
pub async fn run_each<T: Send + 'static, O: Send + 'static>(
  client: Arc<Client>,
  items: Vec<Result<T>>,
  concurrency: usize,
  progress: Option<Progress>,
  work: impl Fn(Arc<Client>, T) -> ItemFuture<O> + Send + Sync + 'static,
) -> Vec<Result<O>> {
  let stop = STOP.try_with(Stop::clone).ok();
  if let Some(stop) = &stop {
    stop.0.engaged.store(true, Ordering::SeqCst);
  }
  let total = items.len();
  let mut results: Vec<Option<Result<O>>> = Vec::with_capacity(total);
  let mut queue = VecDeque::new();
  for (index, item) in items.into_iter().enumerate() {
    match item {
      Ok(item) => {
        results.push(None);
        queue.push_back((index, item));
      }
      Err(error) => results.push(Some(Err(error))),
    }
  }
  // Per item, whether its write has been sent.
  let sent: Arc<Vec<Arc<AtomicBool>>> = Arc::new((0..total).map(|_| Arc::default()).collect());
  let done = Arc::new(AtomicUsize::new(total - queue.len()));
  let workers = if stop.as_ref().is_some_and(Stop::is_stopped) {
    0
  } else {
    concurrency.clamp(1, MAX_CONCURRENCY).min(queue.len())
  };
  let queue = Arc::new(Mutex::new(queue));
  let results = Arc::new(Mutex::new(results));
  let work = Arc::new(work);
  let mut tasks = tokio::task::JoinSet::new();
  for _ in 0..workers {
    let (client, queue, results, done, progress, work, sent, stop) = (
      client.clone(),
      queue.clone(),
      results.clone(),
      done.clone(),
      progress.clone(),
      work.clone(),
      sent.clone(),
      stop.clone(),
    );
    tasks.spawn(async move {
      loop {
        if stop.as_ref().is_some_and(Stop::is_stopped) {
          break;
        }
        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
        let Some((index, item)) = next else {
          break;
        };
        let outcome = WRITE_SENT
          .scope(sent[index].clone(), work(client.clone(), item))
          .await;
        results.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(outcome);
        let finished = done.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(progress) = &progress {
          progress(finished, total);
        }
      }
    });
  }
  let stopped = async {
    match &stop {
      Some(stop) => stop.stopped().await,
      None => std::future::pending().await,
    }
  };
  tokio::pin!(stopped);
  loop {
    tokio::select! {
      biased;
      () = &mut stopped => {
        // The items under way are dropped where they are; those that ended keep
        // their results.
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        break;
      }
      next = tasks.join_next() => if next.is_none() { break },
    }
  }
  let stopped = stop.as_ref().is_some_and(Stop::is_stopped);
  let results = std::mem::take(&mut *results.lock().unwrap_or_else(|p| p.into_inner()));
  results
    .into_iter()
    .enumerate()
    .map(|(index, r)| {
      r.unwrap_or_else(|| {
        Err(if stopped {
          LdError::unfinished(sent[index].load(Ordering::SeqCst))
        } else {
          LdError::invalid("item was not processed")
        })
      })
    })
    .collect()
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::config::{ClientConfig, ClientOptions, Secret};
  use crate::error::ErrorCode;

  #[tokio::test]
  async fn failures_stay_in_place_and_progress_counts_everything() {
    // Nothing listens on this port once the listener is dropped: every request fails fast.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
      .unwrap()
      .local_addr()
      .unwrap()
      .port();
    let config = ClientConfig::resolve(
      &ClientOptions {
        api_key: Some(Secret::new("api-test")),
        base_url: Some(format!("http://127.0.0.1:{port}")),
        max_retries: Some(0),
        ..Default::default()
      },
      |_| None,
    )
    .unwrap();
    let client = Arc::new(Client::new(config.clone()).unwrap());
    let change = |flag: &str| {
      crate::config::validate_key("flagKey", flag).map(|()| PhaseChange {
        project_key: "p".into(),
        flag_key: flag.into(),
        phase: crate::phases::PhaseRef::Index(0),
        action: crate::phases::PhaseAction::Complete,
      })
    };
    let items = vec![change("a"), change(""), change("c")];
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let progress: Progress = Arc::new(move |done, total| log.lock().unwrap().push((done, total)));
    let results = run(
      client,
      items,
      (2, false),
      RequestOptions::default(),
      Some(progress),
    )
    .await;
    let codes: Vec<ErrorCode> = results
      .iter()
      .map(|r| r.as_ref().unwrap_err().code)
      .collect();
    assert_eq!(
      codes,
      [
        ErrorCode::Network,
        ErrorCode::InvalidArgument,
        ErrorCode::Network
      ]
    );
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen, [(2, 3), (3, 3)]);
  }
}
