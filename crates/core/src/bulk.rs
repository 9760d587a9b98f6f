//! Many phase changes through one client: bounded concurrency, results in input order,
//! one item's failure never fails the batch.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// Runs every phase change (items that failed to prepare are reported as they are), at
/// most `concurrency` at a time. All requests share the client's rate-limit gate and
/// what it knows of release pipelines. With `dry_run`, each item's reads happen and its
/// write is only planned (see `Client::plan_phase`).
pub async fn run(
  client: Arc<Client>,
  items: Vec<Result<PhaseChange>>,
  (concurrency, dry_run): (usize, bool),
  options: RequestOptions,
  progress: Option<Progress>,
) -> Vec<Result<PhaseOutcome>> {
  run_each(
    client,
    items,
    concurrency,
    progress,
    move |client, change| {
      let options = options.clone();
      Box::pin(async move { client.phase_outcome(change, dry_run, options).await })
    },
  )
  .await
}

/// The work of one item: a future on the shared client.
pub type ItemFuture<O = Release> = Pin<Box<dyn Future<Output = Result<O>> + Send>>;

/// Runs `work` for every item (items that failed to prepare are reported as they are),
/// at most `concurrency` at a time, and returns the results in input order.
pub async fn run_each<T: Send + 'static, O: Send + 'static>(
  client: Arc<Client>,
  items: Vec<Result<T>>,
  concurrency: usize,
  progress: Option<Progress>,
  work: impl Fn(Arc<Client>, T) -> ItemFuture<O> + Send + Sync + 'static,
) -> Vec<Result<O>> {
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
  let done = Arc::new(AtomicUsize::new(total - queue.len()));
  let workers = concurrency.clamp(1, MAX_CONCURRENCY).min(queue.len());
  let queue = Arc::new(Mutex::new(queue));
  let results = Arc::new(Mutex::new(results));
  let work = Arc::new(work);
  let mut tasks = tokio::task::JoinSet::new();
  for _ in 0..workers {
    let (client, queue, results, done, progress, work) = (
      client.clone(),
      queue.clone(),
      results.clone(),
      done.clone(),
      progress.clone(),
      work.clone(),
    );
    tasks.spawn(async move {
      loop {
        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
        let Some((index, item)) = next else {
          break;
        };
        let outcome = work(client.clone(), item).await;
        results.lock().unwrap_or_else(|p| p.into_inner())[index] = Some(outcome);
        let finished = done.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(progress) = &progress {
          progress(finished, total);
        }
      }
    });
  }
  while tasks.join_next().await.is_some() {}
  let results = std::mem::take(&mut *results.lock().unwrap_or_else(|p| p.into_inner()));
  results
    .into_iter()
    .map(|r| r.unwrap_or_else(|| Err(LdError::invalid("item was not processed"))))
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
