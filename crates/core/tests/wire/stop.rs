//! A run stopped part way (`bulk::Stop`): it ends at once with what it did, each item it
//! had not finished says whether its write had been sent, and nothing more is sent.

use std::sync::Arc;
use std::time::Duration;

use ld_release_core::bulk::{run, Stop};
use ld_release_core::error::{ErrorCode, LdError, Unfinished};
use ld_release_core::phases::{PhaseAction, PhaseOutcome, PhaseRef};
use ld_release_core::pipelines::{AdvanceOutcome, AdvanceSettings};
use serde_json::json;

use crate::server::{Reply, Response, Server};
use crate::support::*;

/// A server for flags of the legacy pipeline `standard`: each release read answers the
/// release with phase 0 to do, each PATCH the release with it done, the progressions of
/// phase `a` list `listed`; the request whose line (`METHOD target`) starts with `hang`
/// is never answered.
async fn server(hang: &'static str, listed: &'static [&'static str]) -> Server {
  Server::start(move |request| {
    if request.line().starts_with(hang) {
      return Reply::Hang;
    }
    let path = request.path();
    if path.ends_with("/release-pipelines/standard") {
      return Response::json(200, pipeline("standard", true)).into();
    }
    if path.ends_with("/release-pipelines/standard/releases") {
      let items: Vec<_> = listed
        .iter()
        .map(|flag| json!({ "flagKey": flag, "activePhaseId": "a" }))
        .collect();
      let total = items.len();
      return Response::json(200, json!({ "items": items, "totalCount": total })).into();
    }
    let done = request.method == "PATCH";
    Response::json(200, three_phases("standard", [done, false, false])).into()
  })
  .await
}

/// Waits (on tokio's clock, a millisecond at a time) until `server` has received a
/// request whose line starts with `line`.
async fn until(server: &Server, line: &str) {
  while !server.lines().iter().any(|l| l.starts_with(line)) {
    tokio::time::sleep(Duration::from_millis(1)).await;
  }
}

/// Each result as `done`, `not sent`, `unknown` or its error code.
fn kinds<T>(results: &[Result<T, LdError>]) -> Vec<String> {
  results
    .iter()
    .map(|result| match result {
      Ok(_) => "done".to_string(),
      Err(error) => match error.unfinished {
        Some(Unfinished::NotSent) => "not sent".to_string(),
        Some(Unfinished::Unknown) => "unknown".to_string(),
        None => error.code.as_str().to_string(),
      },
    })
    .collect()
}

fn items(flags: &[&str]) -> Vec<Result<ld_release_core::phases::PhaseChange, LdError>> {
  flags
    .iter()
    .map(|flag| Ok(change(flag, PhaseRef::Index(0), PhaseAction::Complete)))
    .collect()
}

type Results = Vec<Result<PhaseOutcome, LdError>>;

/// Runs `flags` one at a time under `stop`, in a task of its own.
fn spawn_run(server: &Server, flags: &[&str], stop: &Stop) -> tokio::task::JoinHandle<Results> {
  let client = Arc::new(client_no_retry(server));
  let items = items(flags);
  let stop = stop.clone();
  tokio::spawn(async move { stop.scope(run(client, items, (1, false), NONE, None)).await })
}

#[tokio::test(start_paused = true)]
async fn a_write_in_flight_is_unknown_and_the_items_after_it_were_not_sent() {
  bounded(async {
    let server = server("PATCH /api/v2/flags/web/f2/", &[]).await;
    let stop = Stop::new();
    let running = spawn_run(&server, &["f0", "f1", "f2", "f3", "f4"], &stop);
    until(&server, "PATCH /api/v2/flags/web/f2/").await;
    stop.stop();
    let results = running.await.unwrap();
    assert_eq!(
      kinds(&results),
      ["done", "done", "unknown", "not sent", "not sent"]
    );
    let unknown = results[2].as_ref().unwrap_err();
    assert_eq!(unknown.code, ErrorCode::Aborted);
    assert!(unknown.message.contains("may or may not have been applied"));
    let not_sent = results[3].as_ref().unwrap_err();
    assert_eq!(not_sent.code, ErrorCode::Aborted);
    assert!(not_sent.message.contains("nothing was written"));
    // Nothing was sent after the stop, then or later.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
      server
        .lines()
        .iter()
        .filter(|l| l.starts_with("PATCH"))
        .count(),
      3,
      "{:?}",
      server.lines()
    );
    assert!(!server
      .lines()
      .iter()
      .any(|l| l.contains("/f3/") || l.contains("/f4/")));
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn an_item_stopped_while_it_reads_was_not_sent() {
  bounded(async {
    let server = server("GET /api/v2/flags/web/f1/", &[]).await;
    let stop = Stop::new();
    let running = spawn_run(&server, &["f0", "f1", "f2"], &stop);
    until(&server, "GET /api/v2/flags/web/f1/").await;
    stop.stop();
    let results = running.await.unwrap();
    assert_eq!(kinds(&results), ["done", "not sent", "not sent"]);
    assert!(!server
      .lines()
      .iter()
      .any(|l| l.starts_with("PATCH /api/v2/flags/web/f1/")));
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_run_stopped_before_it_begins_sends_nothing_and_keeps_the_items_that_failed_to_prepare() {
  bounded(async {
    let server = server("nothing", &[]).await;
    let client = Arc::new(client_no_retry(&server));
    let mut items = items(&["f0", "f1"]);
    items.insert(
      1,
      Err(LdError::invalid("items[1].flagKey must not be empty")),
    );
    let stop = Stop::new();
    stop.stop();
    stop.stop();
    let results = stop.scope(run(client, items, (4, false), NONE, None)).await;
    assert_eq!(
      kinds(&results),
      ["not sent", "ERR_LD_INVALID_ARGUMENT", "not sent"]
    );
    assert!(server.requests().is_empty(), "{:?}", server.lines());
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_repeat_gets_the_unfinished_result_of_the_item_it_repeats() {
  bounded(async {
    let server = server("PATCH /api/v2/flags/web/f1/", &[]).await;
    let stop = Stop::new();
    let running = spawn_run(&server, &["f1", "f0", "f1"], &stop);
    until(&server, "PATCH /api/v2/flags/web/f1/").await;
    stop.stop();
    let results = running.await.unwrap();
    assert_eq!(kinds(&results), ["unknown", "not sent", "unknown"]);
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_run_the_stop_never_reaches_is_whole() {
  bounded(async {
    let server = server("nothing", &[]).await;
    let stop = Stop::new();
    let results = spawn_run(&server, &["f0", "f1"], &stop).await.unwrap();
    stop.stop();
    assert_eq!(kinds(&results), ["done", "done"]);
  })
  .await;
}

fn settings() -> AdvanceSettings {
  AdvanceSettings {
    concurrency: 1,
    progress: None,
    dry_run: false,
  }
}

/// `advance_pipeline` from phase 0 of `standard`, guarded by `stop`, in a task of its own.
fn spawn_advance(
  server: &Server,
  stop: &Stop,
) -> tokio::task::JoinHandle<Result<Vec<ld_release_core::pipelines::Advance>, LdError>> {
  let client = Arc::new(client_no_retry(server));
  let stop = stop.clone();
  tokio::spawn(async move {
    stop
      .guard(client.advance_pipeline("web", "standard", &PhaseRef::Index(0), settings(), NONE))
      .await
  })
}

#[tokio::test(start_paused = true)]
async fn an_advance_stopped_while_it_lists_ends_at_once_with_nothing_written() {
  bounded(async {
    let server = server(
      "GET /api/v2/projects/web/release-pipelines/standard/releases",
      &["a", "b"],
    )
    .await;
    let stop = Stop::new();
    let running = spawn_advance(&server, &stop);
    until(
      &server,
      "GET /api/v2/projects/web/release-pipelines/standard/releases",
    )
    .await;
    stop.stop();
    let error = running.await.unwrap().unwrap_err();
    assert_eq!(error.code, ErrorCode::Aborted);
    assert_eq!(error.unfinished, None);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(server.requests().len(), 2, "{:?}", server.lines());
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn an_advance_stopped_while_it_writes_returns_what_it_wrote() {
  bounded(async {
    let server = server("PATCH /api/v2/flags/web/b/", &["a", "b", "c"]).await;
    let stop = Stop::new();
    let running = spawn_advance(&server, &stop);
    until(&server, "PATCH /api/v2/flags/web/b/").await;
    stop.stop();
    let advanced = running.await.unwrap().unwrap();
    let flags: Vec<_> = advanced.iter().map(|a| a.flag_key.clone()).collect();
    assert_eq!(flags, ["a", "b", "c"]);
    let results: Vec<_> = advanced
      .into_iter()
      .map(|a| match a.outcome {
        AdvanceOutcome::Done(result) => result,
        AdvanceOutcome::Planned(_) => panic!("not a dry run"),
        AdvanceOutcome::Skipped(skip) => panic!("every flag is at the phase: {skip:?}"),
      })
      .collect();
    assert_eq!(kinds(&results), ["done", "unknown", "not sent"]);
    assert!(!server.lines().iter().any(|l| l.contains("/web/c/")));
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn an_advance_already_stopped_sends_nothing() {
  bounded(async {
    let server = server("nothing", &["a"]).await;
    let stop = Stop::new();
    stop.stop();
    let error = spawn_advance(&server, &stop).await.unwrap().unwrap_err();
    assert_eq!(error.code, ErrorCode::Aborted);
    assert!(server.requests().is_empty(), "{:?}", server.lines());
  })
  .await;
}
