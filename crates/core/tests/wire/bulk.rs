//! Many phase changes through one client: results in input order, progress counted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ld_release_core::bulk::{run, Progress};
use ld_release_core::error::{ErrorCode, LdError};
use ld_release_core::phases::{PhaseAction, PhaseOutcome, PhaseRef};
use serde_json::json;

use crate::server::{Reply, Response, Server};
use crate::support::*;

/// A server answering each flag's release with the flag key as the release's name (the
/// answers for `slow` come after half a second), and the pipeline's read with a legacy
/// pipeline.
async fn naming_server(slow: &'static str) -> Server {
  Server::start(move |request| {
    if request.path().contains("/release-pipelines/") {
      return Reply::Answer(Response::json(200, pipeline("standard", true)));
    }
    let flag = request
      .path()
      .split('/')
      .nth(5)
      .unwrap_or_default()
      .to_string();
    let mut body = three_phases("standard", [true, false, false]);
    body["name"] = json!(flag);
    let response = Response::json(200, body);
    if flag == slow {
      Reply::After(Duration::from_millis(500), response)
    } else {
      Reply::Answer(response)
    }
  })
  .await
}

fn name(result: &Result<PhaseOutcome, LdError>) -> String {
  let PhaseOutcome::Done(release) = result.as_ref().unwrap() else {
    panic!("not a dry run: {result:?}")
  };
  let value: serde_json::Value = serde_json::from_str(release.json()).unwrap();
  value["name"].as_str().unwrap().to_string()
}

/// Each (items done, total) reported, in order.
type Seen = Arc<Mutex<Vec<(usize, usize)>>>;

fn recorder() -> (Progress, Seen) {
  let seen = Arc::new(Mutex::new(Vec::new()));
  let log = seen.clone();
  let progress: Progress = Arc::new(move |done, total| log.lock().unwrap().push((done, total)));
  (progress, seen)
}

#[tokio::test(start_paused = true)]
async fn results_come_back_in_input_order_when_the_first_answers_last() {
  bounded(async {
    let server = naming_server("f0").await;
    let client = Arc::new(client(&server));
    let items = (0..4)
      .map(|i| {
        Ok(change(
          &format!("f{i}"),
          PhaseRef::Index(0),
          PhaseAction::Complete,
        ))
      })
      .collect();
    let (progress, seen) = recorder();
    let results = run(client, items, (4, false), NONE, Some(progress)).await;
    let names: Vec<String> = results.iter().map(name).collect();
    assert_eq!(names, ["f0", "f1", "f2", "f3"]);
    assert_eq!(*seen.lock().unwrap(), [(1, 4), (2, 4), (3, 4), (4, 4)]);
    // All four were in flight together: the slow one did not hold the others back. Each
    // flag: its release read, its PATCH; and one read of the pipeline for all four.
    let requests = server.requests();
    assert_eq!(requests.len(), 9, "{:?}", server.lines());
    let first = requests.iter().map(|r| r.at).min().unwrap();
    let fast: Vec<_> = requests
      .iter()
      .filter(|r| !r.path().contains("/f0/"))
      .collect();
    assert_eq!(fast.len(), 7);
    assert!(fast
      .iter()
      .all(|r| r.at - first < Duration::from_millis(500)));
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn concurrency_bounds_the_requests_in_flight() {
  bounded(async {
    let server = naming_server("f0").await;
    let client = Arc::new(client(&server));
    let items = (0..3)
      .map(|i| {
        Ok(change(
          &format!("f{i}"),
          PhaseRef::Index(0),
          PhaseAction::Complete,
        ))
      })
      .collect();
    let results = run(client, items, (1, false), NONE, None).await;
    assert_eq!(
      results.iter().map(name).collect::<Vec<_>>(),
      ["f0", "f1", "f2"]
    );
    // One at a time: the others were sent only once the slow first one was answered.
    let requests = server.requests();
    assert_eq!(requests[0].path(), "/api/v2/flags/web/f0/release");
    for later in &requests[1..] {
      assert!(later.at - requests[0].at >= Duration::from_millis(500));
    }
  })
  .await;
}

#[tokio::test]
async fn items_that_failed_to_prepare_keep_their_place_and_count_as_done() {
  bounded(async {
    let server = naming_server("none").await;
    let client = Arc::new(client(&server));
    let invalid = || Err(LdError::invalid("flagKey must be a non-empty string"));
    let items = vec![
      invalid(),
      Ok(change("f1", PhaseRef::Index(0), PhaseAction::Complete)),
      invalid(),
    ];
    let (progress, seen) = recorder();
    let results = run(client.clone(), items, (8, false), NONE, Some(progress)).await;
    assert_eq!(
      results[0].as_ref().unwrap_err().code,
      ErrorCode::InvalidArgument
    );
    assert_eq!(name(&results[1]), "f1");
    assert_eq!(
      results[2].as_ref().unwrap_err().code,
      ErrorCode::InvalidArgument
    );
    // The two that failed count as done from the start: the one change ends the batch.
    assert_eq!(*seen.lock().unwrap(), [(3, 3)]);
    assert_eq!(server.requests().len(), 3);
    // Nothing to send at all: nothing is sent.
    let results = run(client, vec![invalid(), invalid()], (8, false), NONE, None).await;
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| r.is_err()));
    assert_eq!(server.requests().len(), 3);
  })
  .await;
}
