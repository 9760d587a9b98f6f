//! Environment releases on the wire: the list's exact requests, and a watch's reads:
//! when they are sent (on paused time), what is handed on, and that nothing is sent
//! once the watch has ended or been dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ld_release_core::client::Client;
use ld_release_core::environment_releases::{Clock, Watch};
use ld_release_core::error::ErrorCode;
use ld_release_core::pipelines::Pager;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::server::{Reply, Response, Server};
use crate::support::*;

const RELEASES: &str = "/api/v2/projects/web/flags/checkout/environments/production/releases";

#[tokio::test]
async fn the_list_asks_for_pages_of_100_newest_first_with_the_kind_filter() {
  bounded(async {
    let items = |from: usize, n: usize| -> Vec<Value> {
      (from..from + n)
        .map(|i| json!({"id": format!("r{i}"), "status": "completed"}))
        .collect()
    };
    let server = Server::script(vec![
      Reply::Answer(Response::json(
        200,
        json!({"items": items(0, 100), "totalCount": 101}),
      )),
      Reply::Answer(Response::json(
        200,
        json!({"items": items(100, 1), "totalCount": 101}),
      )),
      Reply::Answer(Response::json(200, json!({"items": [], "totalCount": 0}))),
    ])
    .await;
    let client = client_for(&options(&server));
    let mut pager =
      Pager::environment_releases("web", "checkout", "production", Some("guarded")).unwrap();
    let mut ids = Vec::new();
    while !pager.is_done() {
      let page = client.next_page(&mut pager, NONE).await.unwrap();
      ids.extend(page.items);
    }
    assert_eq!(ids.len(), 101);
    assert_eq!(
      ids[0], r#"{"id":"r0","status":"completed"}"#,
      "as the server sent it"
    );
    let mut all = Pager::environment_releases("web", "checkout", "production", None).unwrap();
    assert!(client
      .next_page(&mut all, NONE)
      .await
      .unwrap()
      .items
      .is_empty());
    assert!(all.is_done());
    assert_eq!(
      server.lines(),
      [
        format!("GET {RELEASES}?filter=kind%20equals%20guarded&limit=100&offset=0"),
        format!("GET {RELEASES}?filter=kind%20equals%20guarded&limit=100&offset=100"),
        format!("GET {RELEASES}?limit=100&offset=0"),
      ]
    );
    for request in &server.requests() {
      assert_common_headers(request);
    }
    let bad = Pager::environment_releases("web", "checkout", "production", Some("canary"));
    assert_eq!(bad.unwrap_err().code, ErrorCode::InvalidArgument);
    assert_eq!(server.requests().len(), 3);
  })
  .await;
}

/// Runs a watch test, failing it when it is still running after two hours of (paused,
/// virtual) time: the watches here follow releases of minutes.
async fn bounded_watch<F: std::future::Future>(body: F) -> F::Output {
  tokio::time::timeout(Duration::from_secs(7_200), body)
    .await
    .expect("the test ended within its bound")
}

/// Unix ms at the start of every watch test: the watch's clock runs with tokio's.
const T0: u64 = 1_765_000_000_000;

fn clock() -> Clock {
  let start = Instant::now();
  Arc::new(move || T0 + start.elapsed().as_millis() as u64)
}

/// A release whose phases are `(status, current step, started steps' start)` with
/// three 60 s steps each, at phase `current`.
fn release(
  status: &str,
  reason: Option<&str>,
  kind: &str,
  current: Option<u64>,
  phases: &[(&str, u64, u64)],
) -> Value {
  json!({
    "id": "rel-1", "status": status, "statusReason": reason, "kind": kind,
    "projectKey": "web", "flagKey": "checkout", "environmentKey": "production",
    "metrics": if kind == "guarded" { json!([{"metricKey": "errors", "autoRollback": true}]) } else { json!([]) },
    "currentPhaseIndex": current,
    "phases": phases.iter().enumerate().map(|(i, (status, step, started))| json!({
      "id": format!("p{i}"), "phaseIndex": i, "ruleId": "rule", "status": status,
      "currentStepIndex": step,
      "metricStatuses": if kind == "guarded" { json!({"errors": "ok"}) } else { json!({}) },
      "steps": (0..3).map(|s| json!({
        "stepIndex": s, "allocation": 10_000 * (s + 1), "durationMillis": 60_000,
        "startedAt": (s <= *step).then_some(started + 60_000 * s),
      })).collect::<Vec<_>>(),
    })).collect::<Vec<_>>(),
  })
}

/// A server whose release is what `state` gives for the time of the request (ms since
/// the test began).
async fn release_server(state: impl Fn(u64) -> Value + Send + 'static) -> Server {
  let start = Instant::now();
  Server::start(move |_| {
    let at = start.elapsed().as_millis() as u64;
    Reply::Answer(Response::json(200, state(at)))
  })
  .await
}

fn watch_of(client: &Client, interval_ms: Option<u64>) -> Watch {
  Watch::new(
    client.config(),
    ("web", "checkout", "production"),
    "rel-1",
    interval_ms,
  )
  .unwrap()
  .with_clock(clock())
}

/// Times of the requests, in ms since `start`, rounded to 10 ms.
fn times(server: &Server, start: Instant) -> Vec<u64> {
  server
    .requests()
    .iter()
    .map(|r| (r.at.duration_since(start).as_millis() as u64 + 5) / 10 * 10)
    .collect()
}

fn status_of(release: &ld_release_core::release::Release) -> (String, Option<u64>) {
  let value: Value = serde_json::from_str(release.json()).unwrap();
  let phase = value["currentPhaseIndex"].as_u64();
  let step = phase.and_then(|p| value["phases"][p as usize]["currentStepIndex"].as_u64());
  (value["status"].as_str().unwrap().to_string(), step)
}

#[tokio::test(start_paused = true)]
async fn a_progressive_release_is_read_just_after_each_step_ends() {
  bounded_watch(async {
    let start = Instant::now();
    // One phase of three 60 s steps from T0; the server moves on 200 ms after each end.
    let server = release_server(|at| match at {
      0..60_200 => release(
        "in_progress",
        None,
        "progressive",
        Some(0),
        &[("in_progress", 0, T0)],
      ),
      60_200..120_200 => release(
        "in_progress",
        None,
        "progressive",
        Some(0),
        &[("in_progress", 1, T0)],
      ),
      120_200..180_200 => release(
        "in_progress",
        None,
        "progressive",
        Some(0),
        &[("in_progress", 2, T0)],
      ),
      _ => release(
        "completed",
        Some("completed_automatic"),
        "progressive",
        None,
        &[("completed", 2, T0)],
      ),
    })
    .await;
    let client = client_for(&options(&server));
    let mut watch = watch_of(&client, None);
    let mut seen = Vec::new();
    while let Some(release) = client.watch_next(&mut watch, NONE).await.unwrap() {
      seen.push(status_of(&release));
    }
    assert_eq!(
      seen,
      [
        ("in_progress".to_string(), Some(0)),
        ("in_progress".to_string(), Some(1)),
        ("in_progress".to_string(), Some(2)),
        ("completed".to_string(), None),
      ]
    );
    // Each read 500 ms after a step's end: four reads in three minutes.
    assert_eq!(times(&server, start), [0, 60_500, 120_500, 180_500]);
    for request in &server.requests() {
      assert_eq!(request.line(), format!("GET {RELEASES}/rel-1"));
      assert_common_headers(request);
    }
    // Ended: nothing more is read.
    assert!(client.watch_next(&mut watch, NONE).await.unwrap().is_none());
    tokio::time::sleep(Duration::from_secs(3_600)).await;
    assert_eq!(server.requests().len(), 4);
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_guarded_release_is_read_every_30_s_and_a_regression_is_told() {
  bounded_watch(async {
    let start = Instant::now();
    // A guarded step of one hour; a regression at 95 s reverts it.
    let server = release_server(|at| {
      let mut body = release(
        "in_progress",
        None,
        "guarded",
        Some(0),
        &[("in_progress", 0, T0)],
      );
      body["phases"][0]["steps"][0]["durationMillis"] = json!(3_600_000);
      if at >= 95_000 {
        body["status"] = json!("reverted");
        body["statusReason"] = json!("reverted_regression_detected");
        body["currentPhaseIndex"] = Value::Null;
        body["phases"][0]["status"] = json!("reverted");
        body["phases"][0]["metricStatuses"]["errors"] = json!("regressed");
      }
      body
    })
    .await;
    let client = client_for(&options(&server));
    let mut watch = watch_of(&client, None);
    let first = client.watch_next(&mut watch, NONE).await.unwrap().unwrap();
    assert_eq!(status_of(&first).0, "in_progress");
    let second = client.watch_next(&mut watch, NONE).await.unwrap().unwrap();
    let value: Value = serde_json::from_str(second.json()).unwrap();
    assert_eq!(value["statusReason"], "reverted_regression_detected");
    assert!(client.watch_next(&mut watch, NONE).await.unwrap().is_none());
    // Unchanged reads at 30, 60 and 90 s are not handed on; the one at 120 s is.
    assert_eq!(times(&server, start), [0, 30_000, 60_000, 90_000, 120_000]);
    // intervalMs bounds it further.
    let server = release_server(|_| {
      let mut body = release(
        "in_progress",
        None,
        "guarded",
        Some(0),
        &[("in_progress", 0, T0)],
      );
      body["phases"][0]["steps"][0]["durationMillis"] = json!(3_600_000);
      body
    })
    .await;
    let client = client_for(&options(&server));
    let mut watch = watch_of(&client, Some(5_000));
    client.watch_next(&mut watch, NONE).await.unwrap();
    let start = Instant::now();
    let pending = tokio::time::timeout(
      Duration::from_millis(21_000),
      client.watch_next(&mut watch, NONE),
    )
    .await;
    assert!(pending.is_err(), "nothing changed");
    assert_eq!(times(&server, start)[1..], [5_000, 10_000, 15_000, 20_000]);
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn only_changes_are_handed_on() {
  bounded_watch(async {
    let reads = Arc::new(Mutex::new(0));
    let count = reads.clone();
    // Reads 1–3 the same; 4 a metric regressed (waiting); 5 the same; 6 reverted.
    let server = Server::start(move |_| {
      let mut n = count.lock().unwrap();
      *n += 1;
      let mut body = release(
        "in_progress",
        None,
        "guarded",
        Some(0),
        &[("in_progress", 0, T0)],
      );
      if *n >= 4 {
        body["status"] = json!("waiting");
        body["statusReason"] = json!("waiting_regression_detected");
        body["phases"][0]["metricStatuses"]["errors"] = json!("regressed");
      }
      if *n >= 6 {
        body["status"] = json!("reverted");
        body["statusReason"] = json!("reverted_manual");
      }
      // Times move on every read; they are no change by themselves.
      body["phases"][0]["steps"][0]["startedAt"] = json!(T0 + *n);
      Reply::Answer(Response::json(200, body))
    })
    .await;
    let client = client_for(&options(&server));
    let mut watch = watch_of(&client, Some(1_000));
    let mut told = Vec::new();
    while let Some(release) = client.watch_next(&mut watch, NONE).await.unwrap() {
      told.push((status_of(&release).0, server.requests().len()));
    }
    assert_eq!(
      told,
      [
        ("in_progress".to_string(), 1),
        ("waiting".to_string(), 4),
        ("reverted".to_string(), 6)
      ]
    );
    assert_eq!(*reads.lock().unwrap(), 6);
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_release_already_ended_is_told_once() {
  bounded_watch(async {
    let server = Server::always(Response::json(
      200,
      release(
        "completed",
        Some("completed_manual"),
        "progressive",
        None,
        &[("completed", 2, T0)],
      ),
    ))
    .await;
    let client = client_for(&options(&server));
    let mut watch = watch_of(&client, None);
    assert!(client.watch_next(&mut watch, NONE).await.unwrap().is_some());
    assert!(watch.is_done());
    assert!(client.watch_next(&mut watch, NONE).await.unwrap().is_none());
    assert_eq!(server.requests().len(), 1);
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn pending_and_waiting_releases_are_read_at_their_own_pace() {
  bounded_watch(async {
    let start = Instant::now();
    let server = release_server(|at| match at {
      0..7_000 => release("pending", None, "progressive", None, &[("pending", 0, T0)]),
      7_000..40_000 => release(
        "waiting",
        Some("waiting_phase_ended"),
        "progressive",
        None,
        &[("completed", 2, T0)],
      ),
      _ => release(
        "completed",
        Some("completed_manual"),
        "progressive",
        None,
        &[("completed", 2, T0)],
      ),
    })
    .await;
    let client = client_for(&options(&server));
    let mut watch = watch_of(&client, None);
    let mut told = 0;
    while client.watch_next(&mut watch, NONE).await.unwrap().is_some() {
      told += 1;
    }
    assert_eq!(told, 3);
    // Pending: every 5 s; waiting for a person: every 30 s.
    assert_eq!(times(&server, start), [0, 5_000, 10_000, 40_000]);
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_dropped_watch_reads_nothing_more() {
  bounded_watch(async {
    let server = Server::always(Response::json(
      200,
      release(
        "in_progress",
        None,
        "guarded",
        Some(0),
        &[("in_progress", 0, T0)],
      ),
    ))
    .await;
    let client = client_for(&options(&server));
    let mut watch = watch_of(&client, None);
    client.watch_next(&mut watch, NONE).await.unwrap();
    // Left while it waits for its next read (as `return()` and an abort leave it).
    let waited =
      tokio::time::timeout(Duration::from_secs(10), client.watch_next(&mut watch, NONE)).await;
    assert!(waited.is_err());
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(server.requests().len(), 1, "the wait was cancelled");
    // Left while a read is in flight: the read is dropped and none follows.
    let hanging = Server::always(Reply::Hang).await;
    let client = client_for(&options(&hanging));
    let mut watch = Watch::new(
      client.config(),
      ("web", "checkout", "production"),
      "rel-1",
      None,
    )
    .unwrap();
    let waited =
      tokio::time::timeout(Duration::from_secs(1), client.watch_next(&mut watch, NONE)).await;
    assert!(waited.is_err());
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(hanging.requests().len(), 1);
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_failed_read_ends_the_watch() {
  bounded_watch(async {
    let server = Server::script(vec![
      Reply::Answer(Response::json(
        200,
        release(
          "in_progress",
          None,
          "progressive",
          Some(0),
          &[("in_progress", 0, T0)],
        ),
      )),
      Reply::Answer(Response::json(
        404,
        json!({"code": "not_found", "message": "Unknown release"}),
      )),
    ])
    .await;
    let client = client_for(&options(&server));
    let mut watch = watch_of(&client, Some(1_000));
    client.watch_next(&mut watch, NONE).await.unwrap();
    let error = client.watch_next(&mut watch, NONE).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::NotFound);
    assert!(watch.is_done());
    assert!(client.watch_next(&mut watch, NONE).await.unwrap().is_none());
    // An answer that is not a release ends it too.
    let server = Server::always(Response::json(200, json!({"status": ["in_progress"]}))).await;
    let client = client_for(&options(&server));
    let mut watch = Watch::new(
      client.config(),
      ("web", "checkout", "production"),
      "rel-1",
      None,
    )
    .unwrap();
    let error = client.watch_next(&mut watch, NONE).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::Decode);
    assert!(watch.is_done());
    assert_eq!(server.requests().len(), 1);
  })
  .await;
}

/// A server whose clock is `skew_ms` off the client's and sends it as `Date`: its
/// release (one phase of three 60 s steps from its time 0) moves on exactly at each
/// step's end, on its own clock.
async fn skewed_server(skew_ms: i64) -> Server {
  let start = Instant::now();
  let origin = (T0 as i64 + skew_ms) as u64;
  Server::start(move |_| {
    let at = start.elapsed().as_millis() as u64;
    let body = match at {
      0..60_000 => release(
        "in_progress",
        None,
        "progressive",
        Some(0),
        &[("in_progress", 0, origin)],
      ),
      60_000..120_000 => release(
        "in_progress",
        None,
        "progressive",
        Some(0),
        &[("in_progress", 1, origin)],
      ),
      120_000..180_000 => release(
        "in_progress",
        None,
        "progressive",
        Some(0),
        &[("in_progress", 2, origin)],
      ),
      _ => release(
        "completed",
        Some("completed_automatic"),
        "progressive",
        None,
        &[("completed", 2, origin)],
      ),
    };
    let date = std::time::UNIX_EPOCH + Duration::from_millis(origin + at);
    Reply::Answer(Response::json(200, body).header("Date", httpdate::fmt_http_date(date)))
  })
  .await
}

#[tokio::test(start_paused = true)]
async fn a_server_an_hour_ahead_or_behind_is_read_just_after_each_step_ends() {
  for skew in [3_600_000, -3_600_000, 59_000] {
    bounded_watch(async {
      let start = Instant::now();
      let server = skewed_server(skew).await;
      let client = client_for(&options(&server));
      let mut watch = watch_of(&client, None);
      let mut seen = Vec::new();
      while let Some(release) = client.watch_next(&mut watch, NONE).await.unwrap() {
        seen.push(status_of(&release));
      }
      assert_eq!(
        seen,
        [
          ("in_progress".to_string(), Some(0)),
          ("in_progress".to_string(), Some(1)),
          ("in_progress".to_string(), Some(2)),
          ("completed".to_string(), None),
        ],
        "skew {skew}"
      );
      // A second read 1 s after the first tells the server's clock runs at real time;
      // then each read 500 ms after a step ends on the server's clock.
      assert_eq!(
        times(&server, start),
        [0, 1_000, 60_500, 120_500, 180_500],
        "skew {skew}"
      );
      assert_eq!(watch.server_clock().rate(), 1.0);
    })
    .await;
  }
}

#[tokio::test(start_paused = true)]
async fn without_a_date_the_clients_clock_times_the_reads() {
  bounded_watch(async {
    let start = Instant::now();
    // The same release an hour ahead, but no Date: the client's clock says each step
    // ends an hour later, so the watch reads at its bound (5 minutes) instead.
    let origin = T0 + 3_600_000;
    let server = release_server(move |at| match at {
      0..60_000 => release(
        "in_progress",
        None,
        "progressive",
        Some(0),
        &[("in_progress", 0, origin)],
      ),
      _ => release(
        "completed",
        Some("completed_automatic"),
        "progressive",
        None,
        &[("completed", 2, origin)],
      ),
    })
    .await;
    let client = client_for(&options(&server));
    let mut watch = watch_of(&client, None);
    while client.watch_next(&mut watch, NONE).await.unwrap().is_some() {}
    assert_eq!(times(&server, start), [0, 300_000]);
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_sped_up_server_clock_is_followed_at_its_rate() {
  bounded_watch(async {
    let start = Instant::now();
    // The server's clock runs 30 times real time; its steps are of 60 s on it (2 s here).
    let speed = 30;
    let server = Server::start(move |_| {
      let local = start.elapsed().as_millis() as u64;
      let at = local * speed;
      let body = match at {
        0..60_000 => release(
          "in_progress",
          None,
          "progressive",
          Some(0),
          &[("in_progress", 0, T0)],
        ),
        60_000..120_000 => release(
          "in_progress",
          None,
          "progressive",
          Some(0),
          &[("in_progress", 1, T0)],
        ),
        120_000..180_000 => release(
          "in_progress",
          None,
          "progressive",
          Some(0),
          &[("in_progress", 2, T0)],
        ),
        _ => release(
          "completed",
          Some("completed_automatic"),
          "progressive",
          None,
          &[("completed", 2, T0)],
        ),
      };
      let date = std::time::UNIX_EPOCH + Duration::from_millis(T0 + at);
      Reply::Answer(Response::json(200, body).header("Date", httpdate::fmt_http_date(date)))
    })
    .await;
    let client = client_for(&options(&server));
    let mut watch = watch_of(&client, None);
    let mut seen = Vec::new();
    while let Some(release) = client.watch_next(&mut watch, NONE).await.unwrap() {
      seen.push(status_of(&release));
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(seen[3].0, "completed");
    let rate = watch.server_clock().rate();
    assert!((29.0..=31.0).contains(&rate), "{rate}");
    // Every change is read within 2 s of the server's time after it was made, and with
    // a handful of reads (not one per step's whole length on the client's clock).
    let times = times(&server, start);
    assert!(times.len() <= 10, "{times:?}");
    for end in [60_000, 120_000, 180_000] {
      let read = times.iter().map(|t| t * speed).find(|t| *t >= end).unwrap();
      assert!(read - end <= 2_000, "{end}: read at {read} ({times:?})");
    }
  })
  .await;
}
