//! A phase start (`PUT .../release/phases/{id}` with `{"status":"active"}`) that may
//! have been applied is never resent blindly: after a timeout, a dropped connection or a
//! 5xx, the release is read; the phase active resolves the call, the phase not started
//! sends the start again (while retries are left), and a release that cannot tell
//! fails with `ERR_LD_OUTCOME_UNKNOWN`. A server that refuses a repeat (400) then
//! never turns an applied start into a failure.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ld_release_core::config::RequestOptions;
use ld_release_core::error::ErrorCode;
use ld_release_core::phases::{PhaseAction, PhaseRef};
use serde_json::{json, Value};

use crate::server::{Reply, Request, Response, Server};
use crate::support::*;

const RELEASE: &str = "/api/v2/flags/web/checkout/release";
const START_QA: &str = "/api/v2/projects/web/flags/checkout/release/phases/b";

/// The release of a new pipeline: Testing (`a`) active, or with QA (`b`) started, QA
/// active and Testing completed.
fn release_at(qa_started: bool) -> Value {
  let phase = |id: &str, name: &str, status: &str| {
    json!({
      "_id": id, "_name": name, "complete": status == "completed", "status": status,
      "started": status != "not-started",
    })
  };
  json!({
    "name": "Release", "releasePipelineKey": "progressive", "_version": 2,
    "phases": if qa_started {
      [phase("a", "Testing", "completed"), phase("b", "QA", "active"), phase("c", "GA", "not-started")]
    } else {
      [phase("a", "Testing", "active"), phase("b", "QA", "not-started"), phase("c", "GA", "not-started")]
    },
  })
}

/// What the server does with each start it gets: apply it or not, and how it answers.
#[derive(Clone)]
struct Start {
  applies: bool,
  reply: Reply,
}

fn start(applies: bool, reply: impl Into<Reply>) -> Start {
  Start {
    applies,
    reply: reply.into(),
  }
}

/// A new-pipeline server for flag `checkout` that starts QA as `starts` say, one per
/// PUT in order. A start of QA once it is active is refused (400), as LaunchDarkly
/// refuses a repeat. Reads of the release show whether QA has started.
async fn starting(starts: Vec<Start>) -> Server {
  let state = Arc::new(Mutex::new((false, starts.into_iter())));
  Server::start(move |request: &Request| {
    let mut state = state.lock().unwrap();
    let ok = |body: Value| Reply::Answer(Response::json(200, body));
    match (request.method.as_str(), request.path()) {
      ("GET", RELEASE) => ok(release_at(state.0)),
      ("GET", "/api/v2/projects/web/release-pipelines/progressive") => {
        ok(pipeline("progressive", false))
      }
      ("PUT", START_QA) => {
        if state.0 {
          return Response::json(
            400,
            json!({"code": "invalid_request", "message": "Phase must have status ready-to-start or not-started: QA is already active"}),
          )
          .into();
        }
        let Some(next) = state.1.next() else {
          return Response::new(599).body("not in the script").into();
        };
        state.0 |= next.applies;
        next.reply
      }
      _ => Response::new(599).body("unexpected").into(),
    }
  })
  .await
}

fn applied_answer() -> Response {
  Response::json(200, release_at(true))
}

async fn complete_testing(
  server: &Server,
  options: RequestOptions,
) -> Result<ld_release_core::release::Release, ld_release_core::error::LdError> {
  client(server)
    .change_phase(
      change("checkout", PhaseRef::Index(0), PhaseAction::Complete),
      options,
    )
    .await
}

fn starts_sent(server: &Server) -> usize {
  server
    .lines()
    .iter()
    .filter(|line| line.starts_with("PUT "))
    .count()
}

fn qa_active(release: &ld_release_core::release::Release) -> bool {
  let body: Value = serde_json::from_str(release.json()).unwrap();
  body["phases"][1]["status"] == "active"
}

/// The requests after the reads that plan the completion (release, pipeline).
fn after_plan(server: &Server) -> Vec<String> {
  server.lines()[2..].to_vec()
}

#[tokio::test(start_paused = true)]
async fn a_start_answered_after_the_timeout_that_applied_resolves_without_a_resend() {
  bounded(async {
    let server = starting(vec![start(
      true,
      Reply::After(Duration::from_secs(5), applied_answer()),
    )])
    .await;
    let options = RequestOptions {
      timeout_ms: Some(1000),
      ..NONE
    };
    let release = complete_testing(&server, options).await.unwrap();
    assert!(qa_active(&release), "{}", release.json());
    assert_eq!(
      after_plan(&server),
      [format!("PUT {START_QA}"), format!("GET {RELEASE}")]
    );
    for request in server.requests() {
      assert_common_headers(&request);
    }
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_start_whose_connection_dropped_or_that_got_a_5xx_after_applying_resolves() {
  bounded(async {
    for reply in [
      Reply::Drop,
      Response::json(502, json!({"message": "bad gateway"})).into(),
      Response::new(503).body("<html>busy</html>").into(),
      Response::json(500, json!({"code": "internal", "message": "oops"})).into(),
    ] {
      let server = starting(vec![start(true, reply)]).await;
      let release = complete_testing(&server, NONE).await.unwrap();
      assert!(qa_active(&release));
      assert_eq!(starts_sent(&server), 1, "{:?}", server.lines());
      assert_eq!(
        after_plan(&server),
        [format!("PUT {START_QA}"), format!("GET {RELEASE}")]
      );
    }
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_start_that_was_not_applied_is_sent_again_after_a_read_and_fails_when_it_never_is() {
  bounded(async {
    // Not applied, then applied: the read shows QA not started, so the start is resent.
    let server = starting(vec![
      start(false, Response::new(503)),
      start(true, applied_answer()),
    ])
    .await;
    let release = complete_testing(&server, NONE).await.unwrap();
    assert!(qa_active(&release));
    assert_eq!(release.json(), release_at(true).to_string());
    assert_eq!(
      after_plan(&server),
      [
        format!("PUT {START_QA}"),
        format!("GET {RELEASE}"),
        format!("PUT {START_QA}"),
      ]
    );
    // Never applied: every retry is a start after a read, then the start's own error.
    let server = starting(vec![start(false, Response::new(503)); 4]).await;
    let error = complete_testing(&server, NONE).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::Server);
    assert_eq!(error.status, Some(503));
    assert_eq!(error.attempts, 4);
    assert!(
      error.message.ends_with(" [4 attempts]"),
      "{}",
      error.message
    );
    let put = format!("PUT {START_QA}");
    let get = format!("GET {RELEASE}");
    assert_eq!(
      after_plan(&server),
      [
        put.clone(),
        get.clone(),
        put.clone(),
        get.clone(),
        put.clone(),
        get.clone(),
        put.clone(),
        get.clone()
      ]
    );
    // A timeout that never applied fails as a timeout, after the same reads.
    let server = starting(vec![start(false, Reply::Hang); 2]).await;
    let options = RequestOptions {
      timeout_ms: Some(1000),
      max_retries: Some(1),
      ..NONE
    };
    let error = complete_testing(&server, options).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::Timeout);
    assert_eq!(error.attempts, 2);
    assert_eq!(after_plan(&server), [put.clone(), get.clone(), put, get]);
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_resend_refused_because_the_first_start_applied_meanwhile_resolves() {
  bounded(async {
    // The first start times out and has not applied when the release is read; it
    // applies before the resend arrives, which is refused as a repeat.
    let state = Arc::new(Mutex::new((0, false)));
    let server = Server::start(move |request: &Request| {
      let mut state = state.lock().unwrap();
      match (request.method.as_str(), request.path()) {
        ("GET", RELEASE) => Response::json(200, release_at(state.1)).into(),
        ("GET", _) => Response::json(200, pipeline("progressive", false)).into(),
        _ => {
          state.0 += 1;
          if state.0 == 1 {
            return Reply::Hang;
          }
          state.1 = true;
          Response::json(
            400,
            json!({"code": "invalid_request", "message": "QA is already active"}),
          )
          .into()
        }
      }
    })
    .await;
    let options = RequestOptions {
      timeout_ms: Some(1000),
      ..NONE
    };
    let release = complete_testing(&server, options).await.unwrap();
    assert!(qa_active(&release));
    assert_eq!(starts_sent(&server), 2);
    // A refusal of a resend while QA still has not started is the refusal.
    let server = server_refusing().await;
    let error = complete_testing(&server, NONE).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::BadRequest);
    assert_eq!(error.api_message.as_deref(), Some("audiences are locked"));
    assert_eq!(error.attempts, 2);
    assert_eq!(starts_sent(&server), 2);
  })
  .await;
}

/// A server whose first start gets a 502 and whose second is refused, QA never started.
async fn server_refusing() -> Server {
  let puts = Arc::new(Mutex::new(0));
  Server::start(
    move |request: &Request| match (request.method.as_str(), request.path()) {
      ("GET", RELEASE) => Response::json(200, release_at(false)).into(),
      ("GET", _) => Response::json(200, pipeline("progressive", false)).into(),
      _ => {
        let mut puts = puts.lock().unwrap();
        *puts += 1;
        if *puts == 1 {
          Response::new(502).into()
        } else {
          Response::json(
            400,
            json!({"code": "invalid_request", "message": "audiences are locked"}),
          )
          .into()
        }
      }
    },
  )
  .await
}

#[tokio::test(start_paused = true)]
async fn a_start_whose_outcome_cannot_be_told_says_so() {
  bounded(async {
    // The release moved past QA (GA started since): whether this start applied is unknown.
    let moved = {
      let mut r = release_at(true);
      r["phases"][1]["complete"] = json!(true);
      r["phases"][1]["status"] = json!("completed");
      r["phases"][2]["status"] = json!("active");
      r
    };
    let first_read = Arc::new(Mutex::new(true));
    let server = Server::start(move |request: &Request| {
      match (request.method.as_str(), request.path()) {
        ("GET", RELEASE) => {
          let mut first = first_read.lock().unwrap();
          let body = if *first { release_at(false) } else { moved.clone() };
          *first = false;
          Response::json(200, body).into()
        }
        ("GET", _) => Response::json(200, pipeline("progressive", false)).into(),
        _ => Reply::Drop,
      }
    })
    .await;
    let error = complete_testing(&server, NONE).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::OutcomeUnknown);
    assert_eq!(error.attempts, 1);
    assert!(
      error.message.starts_with(&format!("The start of phase \"b\" of the release of web/checkout may or may not have been applied: PUT {START_QA} to 127.0.0.1:")),
      "{}",
      error.message
    );
    assert!(
      error.message.ends_with("; the release, read to check, has moved past phase \"b\" (it is complete). Check with getRelease('web', 'checkout') before starting it again"),
      "{}",
      error.message
    );
    assert_eq!(starts_sent(&server), 1);
    // The release cannot be read to check.
    let reads = Arc::new(Mutex::new(0));
    let server = Server::start(move |request: &Request| {
      match (request.method.as_str(), request.path()) {
        ("GET", RELEASE) => {
          let mut reads = reads.lock().unwrap();
          *reads += 1;
          if *reads == 1 {
            Response::json(200, release_at(false)).into()
          } else {
            Response::json(403, json!({"code": "forbidden", "message": "no reader"})).into()
          }
        }
        ("GET", _) => Response::json(200, pipeline("progressive", false)).into(),
        _ => Response::new(504).into(),
      }
    })
    .await;
    let error = complete_testing(&server, NONE).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::OutcomeUnknown);
    assert_eq!(error.status, Some(504));
    assert!(
      error.message.contains("; the release could not be read to check (LaunchDarkly answered 403 Forbidden to GET /api/v2/flags/web/checkout/release: forbidden: no reader [1 attempt])."),
      "{}",
      error.message
    );
    assert_eq!(starts_sent(&server), 1);
    assert_no_token(&error.message);
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn starting_a_phase_by_id_that_timed_out_after_applying_resolves() {
  bounded(async {
    let server = starting(vec![start(true, Reply::Drop)]).await;
    let release = client(&server)
      .change_phase(
        change("checkout", PhaseRef::Id("b".into()), PhaseAction::Start),
        NONE,
      )
      .await
      .unwrap();
    assert!(qa_active(&release));
    assert_eq!(
      server.lines(),
      [format!("PUT {START_QA}"), format!("GET {RELEASE}")]
    );
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn every_start_sent_counts_toward_the_retries_and_the_attempts() {
  bounded(async {
    // A resend accepted with an answer that cannot be read: the error counts both starts.
    let server = starting(vec![
      start(false, Response::new(503)),
      start(true, Response::new(200).body("<html>started</html>")),
    ])
    .await;
    let error = complete_testing(&server, NONE).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::Decode);
    assert_eq!(error.attempts, 2);
    // With one retry, the resend is the last start sent: its 429 is not retried.
    let server = starting(vec![
      start(false, Response::new(503)),
      start(
        false,
        Response::json(429, json!({"code": "rate_limited", "message": "slow down"})),
      ),
      start(true, applied_answer()),
    ])
    .await;
    let options = RequestOptions {
      max_retries: Some(1),
      ..NONE
    };
    let error = complete_testing(&server, options).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::RateLimited);
    assert_eq!(error.attempts, 2);
    assert_eq!(starts_sent(&server), 2);
  })
  .await;
}
