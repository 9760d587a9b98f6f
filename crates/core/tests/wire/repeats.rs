//! A bulk run given the same item more than once writes it once; each repeat gets the
//! first one's result, in its own place, and progress counts every item.

use std::sync::{Arc, Mutex};

use ld_release_core::bulk::{run, Progress};
use ld_release_core::config::RequestOptions;
use ld_release_core::phases::{PhaseAction, PhaseOutcome, PhaseRef};

use crate::server::{Reply, Response, Server};
use crate::support::*;

#[tokio::test]
async fn an_item_listed_three_times_is_written_once() {
  bounded(async {
    let server = Server::start(|request| {
      if request.path().contains("/release-pipelines/") {
        return Reply::Answer(Response::json(200, pipeline("standard", true)));
      }
      Reply::Answer(Response::json(
        200,
        three_phases("standard", [true, false, false]),
      ))
    })
    .await;
    let client = Arc::new(client(&server));
    let items = vec![
      Ok(change("a", PhaseRef::Index(0), PhaseAction::Complete)),
      Ok(change("a", PhaseRef::Index(0), PhaseAction::Complete)),
      Ok(change("b", PhaseRef::Index(0), PhaseAction::Complete)),
      Ok(change("a", PhaseRef::Index(0), PhaseAction::Complete)),
      // Not repeats: another phase, another change, another flag.
      Ok(change("a", PhaseRef::Index(1), PhaseAction::Complete)),
      Ok(change("a", PhaseRef::Index(0), PhaseAction::Reopen)),
    ];
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let progress: Progress = Arc::new(move |done, total| log.lock().unwrap().push((done, total)));
    let results = run(
      client,
      items,
      (1, false),
      RequestOptions::default(),
      Some(progress),
    )
    .await;
    assert_eq!(results.len(), 6);
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(results[1], results[0]);
    assert_eq!(results[3], results[0]);
    let mut lines: Vec<(String, String)> = server
      .requests()
      .iter()
      .map(|r| (r.line(), r.body_text().to_string()))
      .collect();
    lines.sort();
    // Each item run: its release read, then its PATCH; the pipeline read once for all.
    assert_eq!(lines.len(), 9, "{lines:?}");
    let count = |wanted: &str| lines.iter().filter(|(line, _)| line == wanted).count();
    assert_eq!(
      count("PATCH /api/v2/flags/web/a/release"),
      3,
      "a: phase 0 once, phase 1 once, the reopen once"
    );
    assert_eq!(count("GET /api/v2/flags/web/a/release"), 3, "{lines:?}");
    assert_eq!(count("PATCH /api/v2/flags/web/b/release"), 1, "{lines:?}");
    assert_eq!(count("GET /api/v2/flags/web/b/release"), 1, "{lines:?}");
    assert_eq!(
      count("GET /api/v2/projects/web/release-pipelines/standard"),
      1,
      "{lines:?}"
    );
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.last(), Some(&(6, 6)), "every item counted: {seen:?}");
    assert_eq!(
      seen.first(),
      Some(&(3, 6)),
      "the two repeats are done from the start: {seen:?}"
    );
  })
  .await;
}

#[tokio::test]
async fn a_dry_run_plans_a_repeated_item_once() {
  bounded(async {
    let server = Server::start(|request| {
      if request.path().contains("/release-pipelines/") {
        return Reply::Answer(Response::json(200, pipeline("standard", true)));
      }
      Reply::Answer(Response::json(
        200,
        three_phases("standard", [true, false, false]),
      ))
    })
    .await;
    let client = Arc::new(client(&server));
    let items = vec![
      Ok(change("a", PhaseRef::Index(1), PhaseAction::Complete)),
      Ok(change("a", PhaseRef::Index(1), PhaseAction::Complete)),
      Ok(change("b", PhaseRef::Index(1), PhaseAction::Complete)),
    ];
    let results = run(client, items, (1, true), RequestOptions::default(), None).await;
    assert_eq!(results.len(), 3);
    assert!(
      matches!(results[0], Ok(PhaseOutcome::Planned { .. })),
      "{results:?}"
    );
    assert_eq!(
      results[1], results[0],
      "the repeat gets the first one's plan"
    );
    assert_ne!(results[2], results[0], "another flag, another plan");
    let mut lines = server.lines();
    lines.sort();
    assert_eq!(
      lines,
      [
        "GET /api/v2/flags/web/a/release",
        "GET /api/v2/flags/web/b/release",
        "GET /api/v2/projects/web/release-pipelines/standard",
      ],
      "a's release read once, nothing written"
    );
  })
  .await;
}
