//! Phase changes as requests: the PATCH of legacy pipelines (plain, or guarded for a
//! phase named by name or id), the start of the next phase on new pipelines, and what
//! is never sent.

use ld_release_core::error::ErrorCode;
use ld_release_core::phases::{PhaseAction, PhaseRef};
use ld_release_core::release::PipelineKind;
use serde_json::json;

use crate::server::{Reply, Response, Server};
use crate::support::*;

const RELEASE: &str = "/api/v2/flags/web/checkout/release";

fn ok(body: serde_json::Value) -> Reply {
  Reply::Answer(Response::json(200, body))
}

fn refused_patch() -> Reply {
  Reply::Answer(Response::json(
    400,
    json!({"code": "invalid_request", "message": "only available for releases that are part of a legacy release pipeline"}),
  ))
}

#[tokio::test]
async fn a_phase_named_on_a_legacy_pipeline_is_patched_behind_a_guard() {
  bounded(async {
    let release = three_phases("standard", [false; 3]);
    let server = Server::script(vec![
      ok(release.clone()),
      ok(pipeline("standard", true)),
      ok(three_phases("standard", [false, true, false])),
      // The second call: the kind is known, the release is read again for the index.
      ok(release.clone()),
      ok(three_phases("standard", [false, false, true])),
    ])
    .await;
    let client = client(&server);
    let after = change_checkout(&client, PhaseRef::Name("QA".into()), PhaseAction::Complete).await
      .unwrap();
    assert!(after.view().unwrap().phases[1].complete);
    change_checkout(&client, PhaseRef::Id("c".into()), PhaseAction::Reopen).await
      .unwrap();
    assert_eq!(
      server.lines(),
      [
        format!("GET {RELEASE}"),
        "GET /api/v2/projects/web/release-pipelines/standard".to_string(),
        format!("PATCH {RELEASE}"),
        format!("GET {RELEASE}"),
        format!("PATCH {RELEASE}"),
      ]
    );
    let requests = server.requests();
    for request in &requests {
      assert_common_headers(request);
    }
    assert_eq!(
      requests[2].body_text(),
      r#"[{"op":"test","path":"/phases/1/_id","value":"b"},{"op":"replace","path":"/phases/1/complete","value":true}]"#
    );
    assert_eq!(
      requests[4].body_text(),
      r#"[{"op":"test","path":"/phases/2/_id","value":"c"},{"op":"replace","path":"/phases/2/complete","value":false}]"#
    );
    assert_eq!(
      client.remembered_kind("web", "standard"),
      Some(PipelineKind::Legacy)
    );
  })
  .await;
}

#[tokio::test]
async fn completing_on_a_new_pipeline_starts_the_next_phase() {
  bounded(async {
    let server = Server::script(vec![
      refused_patch(),
      ok(three_phases("progressive", [false; 3])),
      ok(pipeline("progressive", false)),
      ok(three_phases("progressive", [true, false, false])),
      // The second call: known to be new, so no PATCH and no pipeline read.
      ok(three_phases("progressive", [true, false, false])),
      ok(three_phases("progressive", [true, true, false])),
    ])
    .await;
    let client = client(&server);
    let after = change_checkout(&client, PhaseRef::Index(0), PhaseAction::Complete)
      .await
      .unwrap();
    assert!(after.view().unwrap().phases[0].complete);
    assert_eq!(
      client.remembered_kind("web", "progressive"),
      Some(PipelineKind::New)
    );
    assert_eq!(
      client.remembered_pipeline("web", "checkout").as_deref(),
      Some("progressive")
    );
    change_checkout(&client, PhaseRef::Index(1), PhaseAction::Complete)
      .await
      .unwrap();
    assert_eq!(
      server.lines(),
      [
        format!("PATCH {RELEASE}"),
        format!("GET {RELEASE}"),
        "GET /api/v2/projects/web/release-pipelines/progressive".to_string(),
        "PUT /api/v2/projects/web/flags/checkout/release/phases/b".to_string(),
        format!("GET {RELEASE}"),
        "PUT /api/v2/projects/web/flags/checkout/release/phases/c".to_string(),
      ]
    );
    let requests = server.requests();
    for request in &requests {
      assert_common_headers(request);
    }
    assert_eq!(requests[3].body_text(), r#"{"status":"active"}"#);
    assert_eq!(requests[5].body_text(), r#"{"status":"active"}"#);
  })
  .await;
}

#[tokio::test]
async fn a_new_pipeline_gets_no_write_it_would_refuse() {
  bounded(async {
    // A phase already complete: the release as read is the answer, nothing is written.
    let done = three_phases("progressive", [true, false, false]);
    let server = Server::script(vec![
      refused_patch(),
      ok(done.clone()),
      ok(pipeline("progressive", false)),
      // The last phase cannot be completed, no phase reopened: known new, one read each.
      ok(done.clone()),
      ok(done.clone()),
    ])
    .await;
    let client = client(&server);
    let release = change_checkout(&client, PhaseRef::Index(0), PhaseAction::Complete)
      .await
      .unwrap();
    assert_eq!(release.json(), done.to_string());
    let last = change_checkout(&client, PhaseRef::Index(2), PhaseAction::Complete)
      .await
      .unwrap_err();
    assert_eq!(last.code, ErrorCode::Unsupported);
    assert!(last.message.contains("last phase"), "{}", last.message);
    let reopen = change_checkout(&client, PhaseRef::Index(0), PhaseAction::Reopen)
      .await
      .unwrap_err();
    assert_eq!(reopen.code, ErrorCode::Unsupported);
    assert!(
      reopen.message.contains("cannot be reopened"),
      "{}",
      reopen.message
    );
    assert_eq!(
      server.lines(),
      [
        format!("PATCH {RELEASE}"),
        format!("GET {RELEASE}"),
        "GET /api/v2/projects/web/release-pipelines/progressive".to_string(),
        format!("GET {RELEASE}"),
        format!("GET {RELEASE}"),
      ]
    );
  })
  .await;
}

#[tokio::test]
async fn a_patch_refused_on_a_legacy_pipeline_is_the_answer() {
  bounded(async {
    let server = Server::script(vec![
      Reply::Answer(Response::json(
        400,
        json!({"code": "invalid_request", "message": "phase is locked"}),
      )),
      ok(three_phases("standard", [false; 3])),
      ok(pipeline("standard", true)),
    ])
    .await;
    let client = client(&server);
    let error = change_checkout(&client, PhaseRef::Index(0), PhaseAction::Complete)
      .await
      .unwrap_err();
    assert_eq!(error.code, ErrorCode::BadRequest);
    assert_eq!(error.status, Some(400));
    assert_eq!(error.api_message.as_deref(), Some("phase is locked"));
    assert_eq!(server.requests().len(), 3, "{:?}", server.lines());
    // The read after the refusal learnt the flag's pipeline.
    assert_eq!(
      client.remembered_pipeline("web", "checkout").as_deref(),
      Some("standard")
    );
  })
  .await;
}

#[tokio::test]
async fn a_failed_patch_other_than_a_refusal_ends_the_call() {
  bounded(async {
    let server = Server::script(vec![Reply::Answer(Response::json(
      404,
      json!({"code": "not_found", "message": "Unknown flag"}),
    ))])
    .await;
    let client = client(&server);
    let error = change_checkout(&client, PhaseRef::Index(0), PhaseAction::Complete)
      .await
      .unwrap_err();
    assert_eq!(error.code, ErrorCode::NotFound);
    assert_eq!(server.lines(), [format!("PATCH {RELEASE}")]);
  })
  .await;
}

#[tokio::test]
async fn a_refused_patch_then_a_failed_read_reports_the_refusal() {
  bounded(async {
    let server = Server::script(vec![
      refused_patch(),
      Reply::Answer(Response::json(
        404,
        json!({"code": "not_found", "message": "gone"}),
      )),
    ])
    .await;
    let client = client(&server);
    let error = change_checkout(&client, PhaseRef::Index(0), PhaseAction::Complete)
      .await
      .unwrap_err();
    assert_eq!(error.code, ErrorCode::BadRequest);
    assert_eq!(server.requests().len(), 2);
  })
  .await;
}

#[tokio::test]
async fn starting_a_phase_puts_active_on_its_id() {
  bounded(async {
    let server = Server::script(vec![
      ok(three_phases("progressive", [false; 3])),
      ok(three_phases("progressive", [true, false, false])),
      ok(three_phases("progressive", [true, true, false])),
    ])
    .await;
    let client = client(&server);
    change_checkout(&client, PhaseRef::Name("QA".into()), PhaseAction::Start)
      .await
      .unwrap();
    change_checkout(&client, PhaseRef::Id("c".into()), PhaseAction::Start)
      .await
      .unwrap();
    assert_eq!(
      server.lines(),
      [
        format!("GET {RELEASE}"),
        "PUT /api/v2/projects/web/flags/checkout/release/phases/b".to_string(),
        "PUT /api/v2/projects/web/flags/checkout/release/phases/c".to_string(),
      ]
    );
    for request in &server.requests()[1..] {
      assert_common_headers(request);
      assert_eq!(request.body_text(), r#"{"status":"active"}"#);
    }
  })
  .await;
}

#[tokio::test]
async fn a_guard_that_fails_because_the_release_moved_is_a_conflict() {
  bounded(async {
    let server = Server::script(vec![
      ok(three_phases("standard", [false; 3])),
      ok(pipeline("standard", true)),
      Reply::Answer(Response::json(
        409,
        json!({"code": "conflict", "message": "test failed"}),
      )),
      // Read again: index 1 now holds another phase.
      ok(release(
        "standard",
        &[
          ("a", "Testing", false),
          ("x", "Staging", false),
          ("b", "QA", false),
        ],
      )),
    ])
    .await;
    let client = client_no_retry(&server);
    let error = change_checkout(&client, PhaseRef::Name("QA".into()), PhaseAction::Complete)
      .await
      .unwrap_err();
    assert_eq!(error.code, ErrorCode::Conflict);
    assert!(
      error.message.contains(r#"index 1 now holds "Staging""#),
      "{}",
      error.message
    );
    assert!(
      error.message.contains("being completed"),
      "{}",
      error.message
    );
    assert_eq!(server.requests().len(), 4);
  })
  .await;
}

#[tokio::test]
async fn a_guarded_patch_refused_for_another_reason_keeps_its_error() {
  bounded(async {
    let server = Server::script(vec![
      ok(three_phases("standard", [false; 3])),
      ok(pipeline("standard", true)),
      Reply::Answer(Response::json(
        400,
        json!({"code": "invalid_request", "message": "locked"}),
      )),
      ok(three_phases("standard", [false; 3])),
    ])
    .await;
    let client = client_no_retry(&server);
    let error = change_checkout(&client, PhaseRef::Id("b".into()), PhaseAction::Reopen)
      .await
      .unwrap_err();
    assert_eq!(error.code, ErrorCode::BadRequest);
    assert_eq!(error.api_message.as_deref(), Some("locked"));
    assert_eq!(server.requests().len(), 4);
  })
  .await;
}

#[tokio::test]
async fn a_pipeline_that_cannot_be_read_is_treated_as_legacy_and_remembered() {
  bounded(async {
    for status in [403, 404] {
      let server = Server::script(vec![
        ok(three_phases("hidden", [false; 3])),
        Reply::Answer(Response::json(
          status,
          json!({"code": "x", "message": "no"}),
        )),
        ok(three_phases("hidden", [false, true, false])),
        ok(three_phases("hidden", [false; 3])),
        ok(three_phases("hidden", [false, true, false])),
      ])
      .await;
      let client = client(&server);
      for _ in 0..2 {
        change_checkout(&client, PhaseRef::Name("QA".into()), PhaseAction::Complete)
          .await
          .unwrap();
      }
      assert_eq!(
        server.lines(),
        [
          format!("GET {RELEASE}"),
          "GET /api/v2/projects/web/release-pipelines/hidden".to_string(),
          format!("PATCH {RELEASE}"),
          format!("GET {RELEASE}"),
          format!("PATCH {RELEASE}"),
        ],
        "{status}"
      );
      assert_eq!(
        client.remembered_kind("web", "hidden"),
        Some(PipelineKind::Unknown)
      );
    }
  })
  .await;
}

#[tokio::test]
async fn a_pipeline_read_that_fails_otherwise_fails_the_call_and_is_not_remembered() {
  bounded(async {
    let server = Server::always(Response::json(500, json!({"message": "down"}))).await;
    let client = client_no_retry(&server);
    for _ in 0..2 {
      let error = client
        .pipeline_kind("web", "standard", NONE)
        .await
        .unwrap_err();
      assert_eq!(error.code, ErrorCode::Server);
    }
    assert_eq!(server.requests().len(), 2);
    assert_eq!(client.remembered_kind("web", "standard"), None);
  })
  .await;
}

#[tokio::test]
async fn the_kind_of_a_pipeline_is_read_once() {
  bounded(async {
    let server = Server::script(vec![
      ok(pipeline("standard", true)),
      ok(pipeline("progressive", false)),
      ok(json!({"key": "odd"})),
    ])
    .await;
    let client = client(&server);
    for _ in 0..2 {
      assert_eq!(
        client.pipeline_kind("web", "standard", NONE).await.unwrap(),
        PipelineKind::Legacy
      );
      assert_eq!(
        client
          .pipeline_kind("web", "progressive", NONE)
          .await
          .unwrap(),
        PipelineKind::New
      );
      assert_eq!(
        client.pipeline_kind("web", "odd", NONE).await.unwrap(),
        PipelineKind::Unknown
      );
    }
    assert_eq!(
      server.lines(),
      [
        "GET /api/v2/projects/web/release-pipelines/standard",
        "GET /api/v2/projects/web/release-pipelines/progressive",
        "GET /api/v2/projects/web/release-pipelines/odd",
      ]
    );
    // A kind already known is not replaced by a later note.
    client.remember_kind("web", "standard", PipelineKind::New);
    assert_eq!(
      client.remembered_kind("web", "standard"),
      Some(PipelineKind::Legacy)
    );
  })
  .await;
}

#[tokio::test]
async fn a_guarded_patch_that_fails_otherwise_is_not_followed_by_a_read() {
  bounded(async {
    let server = Server::script(vec![
      ok(three_phases("standard", [false; 3])),
      ok(pipeline("standard", true)),
      Reply::Answer(Response::json(
        404,
        json!({"code": "not_found", "message": "gone"}),
      )),
    ])
    .await;
    let client = client_no_retry(&server);
    let error = change_checkout(&client, PhaseRef::Name("QA".into()), PhaseAction::Complete)
      .await
      .unwrap_err();
    assert_eq!(error.code, ErrorCode::NotFound);
    assert_eq!(
      server.lines(),
      [
        format!("GET {RELEASE}"),
        "GET /api/v2/projects/web/release-pipelines/standard".to_string(),
        format!("PATCH {RELEASE}"),
      ]
    );
  })
  .await;
}

#[tokio::test]
async fn the_first_request_of_a_phase_change_is_the_one_the_call_sends_first() {
  bounded(async {
    let patch = |index: usize, complete: bool| {
      format!(r#"[{{"op":"replace","path":"/phases/{index}/complete","value":{complete}}}]"#)
    };
    let read = (format!("GET {RELEASE}"), String::new());
    let cases = [
      // By index: the PATCH, without reading anything.
      (
        PhaseRef::Index(1),
        PhaseAction::Complete,
        false,
        (format!("PATCH {RELEASE}"), patch(1, true)),
      ),
      (
        PhaseRef::Index(2),
        PhaseAction::Reopen,
        false,
        (format!("PATCH {RELEASE}"), patch(2, false)),
      ),
      // Unless the client knows the flag's pipeline to be new: then the release is read.
      (
        PhaseRef::Index(0),
        PhaseAction::Complete,
        true,
        read.clone(),
      ),
      // By name, and a start by index: the release is read to find the phase.
      (
        PhaseRef::Name("QA".into()),
        PhaseAction::Complete,
        false,
        read.clone(),
      ),
      (PhaseRef::Index(0), PhaseAction::Start, false, read),
      // A start by id: the PUT itself.
      (
        PhaseRef::Id("c".into()),
        PhaseAction::Start,
        false,
        (
          "PUT /api/v2/projects/web/flags/checkout/release/phases/c".to_string(),
          r#"{"status":"active"}"#.to_string(),
        ),
      ),
    ];
    for (phase, action, known_new, expected) in cases {
      let server =
        Server::always(Response::json(200, three_phases("progressive", [false; 3]))).await;
      let client = client_no_retry(&server);
      if known_new {
        client.remember_kind("web", "progressive", PipelineKind::New);
        client.remember_pipeline("web", "checkout", Some("progressive"));
      }
      let first = client
        .first_request(&change("checkout", phase.clone(), action))
        .unwrap();
      let body = first
        .body
        .map(|b| String::from_utf8(b).unwrap())
        .unwrap_or_default();
      let planned = (format!("{} {}", first.method, first.url.path()), body);
      assert_eq!(planned, expected, "{phase:?} {action:?}");
      // What the call then sends first (its outcome does not matter here).
      let _ = change_checkout(&client, phase.clone(), action).await;
      let sent = &server.requests()[0];
      assert_eq!(
        (sent.line(), sent.body_text().to_string()),
        expected,
        "{phase:?} {action:?}"
      );
    }
  })
  .await;
}
