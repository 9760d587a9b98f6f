//! Phase changes as requests: the PATCH of legacy pipelines (plain, or guarded for a
//! phase named by name or id), the start of the next phase on new pipelines, and what
//! is never sent.

use ld_release_core::error::ErrorCode;
use ld_release_core::phases::{PhaseAction, PhaseOutcome, PhaseRef};
use ld_release_core::release::PipelineKind;
use serde_json::json;

use crate::server::{Reply, Response, Server};
use crate::support::*;

const RELEASE: &str = "/api/v2/flags/web/checkout/release";

fn ok(body: serde_json::Value) -> Reply {
  Reply::Answer(Response::json(200, body))
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
async fn completing_on_a_new_pipeline_starts_the_next_phase_and_never_patches() {
  bounded(async {
    let server = Server::script(vec![
      ok(three_phases("progressive", [false; 3])),
      ok(pipeline("progressive", false)),
      ok(three_phases("progressive", [true, false, false])),
      // The second call: the kind is known, so no pipeline read.
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
    assert_eq!(requests[2].body_text(), r#"{"status":"active"}"#);
    assert_eq!(requests[4].body_text(), r#"{"status":"active"}"#);
  })
  .await;
}

#[tokio::test]
async fn a_new_pipeline_gets_no_write_it_would_refuse() {
  bounded(async {
    // A phase already complete: the release as read is the answer, nothing is written.
    let done = three_phases("progressive", [true, false, false]);
    let server = Server::script(vec![
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
    assert!(
      last.message.contains(r#"("Production")"#) && last.message.contains("progressive"),
      "{}",
      last.message
    );
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
async fn the_last_phase_of_a_new_pipeline_met_first_gets_no_write() {
  bounded(async {
    let server = Server::script(vec![
      ok(three_phases("progressive", [true, true, false])),
      ok(pipeline("progressive", false)),
    ])
    .await;
    let client = client(&server);
    let last = change_checkout(
      &client,
      PhaseRef::Name("Production".into()),
      PhaseAction::Complete,
    )
    .await
    .unwrap_err();
    assert_eq!(last.code, ErrorCode::Unsupported);
    assert_eq!(last.attempts, 0, "no write was attempted");
    assert_eq!(
      server.lines(),
      [
        format!("GET {RELEASE}"),
        "GET /api/v2/projects/web/release-pipelines/progressive".to_string(),
      ]
    );
  })
  .await;
}

#[tokio::test]
async fn a_patch_refused_on_a_legacy_pipeline_is_the_answer() {
  bounded(async {
    let server = Server::script(vec![
      ok(three_phases("standard", [false; 3])),
      ok(pipeline("standard", true)),
      Reply::Answer(Response::json(
        400,
        json!({"code": "invalid_request", "message": "phase is locked"}),
      )),
    ])
    .await;
    let client = client(&server);
    let error = change_checkout(&client, PhaseRef::Index(0), PhaseAction::Complete)
      .await
      .unwrap_err();
    assert_eq!(error.code, ErrorCode::BadRequest);
    assert_eq!(error.status, Some(400));
    assert_eq!(error.api_message.as_deref(), Some("phase is locked"));
    assert_eq!(
      server.lines(),
      [
        format!("GET {RELEASE}"),
        "GET /api/v2/projects/web/release-pipelines/standard".to_string(),
        format!("PATCH {RELEASE}"),
      ]
    );
    assert_eq!(
      client.remembered_pipeline("web", "checkout").as_deref(),
      Some("standard")
    );
  })
  .await;
}

#[tokio::test]
async fn a_release_that_cannot_be_read_ends_the_call_before_any_write() {
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
    assert_eq!(server.lines(), [format!("GET {RELEASE}")]);
  })
  .await;
}

#[tokio::test]
async fn a_phase_index_outside_the_release_is_refused_before_any_write() {
  bounded(async {
    for action in [
      PhaseAction::Complete,
      PhaseAction::Reopen,
      PhaseAction::Start,
    ] {
      let server = Server::always(Response::json(200, three_phases("standard", [false; 3]))).await;
      let client = client(&server);
      let error = change_checkout(&client, PhaseRef::Index(7), action)
        .await
        .unwrap_err();
      assert_eq!(error.code, ErrorCode::InvalidArgument, "{action:?}");
      assert_eq!(
        error.message, "phase 7 does not exist: the release has 3 phases",
        "{action:?}"
      );
      assert_eq!(server.lines(), [format!("GET {RELEASE}")], "{action:?}");
    }
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
async fn a_pipeline_that_cannot_be_read_gets_the_patch_and_is_read_again_later() {
  bounded(async {
    for status in [403, 404] {
      let refused = || {
        Reply::Answer(Response::json(
          status,
          json!({"code": "x", "message": "no"}),
        ))
      };
      let server = Server::script(vec![
        ok(three_phases("hidden", [false; 3])),
        refused(),
        ok(three_phases("hidden", [false, true, false])),
        ok(three_phases("hidden", [false; 3])),
        refused(),
        ok(three_phases("hidden", [false, true, false])),
      ])
      .await;
      let client = client(&server);
      for _ in 0..2 {
        change_checkout(&client, PhaseRef::Name("QA".into()), PhaseAction::Complete)
          .await
          .unwrap();
      }
      let call = [
        format!("GET {RELEASE}"),
        "GET /api/v2/projects/web/release-pipelines/hidden".to_string(),
        format!("PATCH {RELEASE}"),
      ];
      assert_eq!(server.lines(), [call.clone(), call].concat(), "{status}");
      assert_eq!(client.remembered_kind("web", "hidden"), None);
    }
  })
  .await;
}

#[tokio::test]
async fn a_pipeline_without_is_legacy_is_unknown_and_gets_the_patch() {
  bounded(async {
    let server = Server::script(vec![
      ok(three_phases("odd", [false; 3])),
      ok(json!({"key": "odd", "phases": []})),
      ok(three_phases("odd", [true, false, false])),
    ])
    .await;
    let client = client(&server);
    change_checkout(&client, PhaseRef::Index(0), PhaseAction::Complete)
      .await
      .unwrap();
    assert_eq!(
      server.lines(),
      [
        format!("GET {RELEASE}"),
        "GET /api/v2/projects/web/release-pipelines/odd".to_string(),
        format!("PATCH {RELEASE}"),
      ]
    );
    assert_eq!(client.remembered_kind("web", "odd"), None);
  })
  .await;
}

#[tokio::test]
async fn a_release_without_a_pipeline_key_gets_the_patch_without_a_pipeline_read() {
  bounded(async {
    let mut bare = three_phases("x", [false; 3]);
    bare.as_object_mut().unwrap().remove("releasePipelineKey");
    let server = Server::script(vec![ok(bare.clone()), ok(bare)]).await;
    let client = client(&server);
    change_checkout(&client, PhaseRef::Index(1), PhaseAction::Complete)
      .await
      .unwrap();
    assert_eq!(
      server.lines(),
      [format!("GET {RELEASE}"), format!("PATCH {RELEASE}")]
    );
  })
  .await;
}

/// A server that answers every flag's release read with a release of `pipeline`, the
/// pipeline read with `pipeline_reply`, and any write with the release.
fn flags_server(
  pipeline_reply: impl Fn() -> Response + Send + 'static,
) -> impl FnMut(&crate::server::Request) -> Reply + Send + 'static {
  move |request| {
    if request.path().contains("/release-pipelines/") {
      Reply::Answer(pipeline_reply())
    } else {
      ok(three_phases("shared", [false; 3]))
    }
  }
}

#[tokio::test]
async fn concurrent_first_calls_share_one_read_of_the_pipeline() {
  bounded(async {
    let server = Server::start(flags_server(|| {
      Response::json(200, pipeline("shared", true))
    }))
    .await;
    let client = std::sync::Arc::new(client(&server));
    let calls: Vec<_> = (0..6)
      .map(|n| {
        let client = client.clone();
        tokio::spawn(async move {
          client
            .change_phase(
              change(
                &format!("flag-{n}"),
                PhaseRef::Index(0),
                PhaseAction::Complete,
              ),
              NONE,
            )
            .await
        })
      })
      .collect();
    for call in calls {
      call.await.unwrap().unwrap();
    }
    let lines = server.lines();
    let reads = lines
      .iter()
      .filter(|l| l.contains("/release-pipelines/"))
      .count();
    assert_eq!(reads, 1, "{lines:?}");
    assert_eq!(lines.iter().filter(|l| l.starts_with("PATCH")).count(), 6);
    // A seventh flag of the same pipeline: no pipeline read at all.
    client
      .change_phase(
        change("flag-7", PhaseRef::Index(0), PhaseAction::Complete),
        NONE,
      )
      .await
      .unwrap();
    assert_eq!(server.lines().len(), lines.len() + 2);
  })
  .await;
}

#[tokio::test]
async fn concurrent_first_calls_share_a_refused_read_which_is_not_remembered() {
  bounded(async {
    let server = Server::start(flags_server(|| {
      Response::json(404, json!({"code": "not_found", "message": "no"}))
    }))
    .await;
    let client = std::sync::Arc::new(client(&server));
    let calls: Vec<_> = (0..6)
      .map(|n| {
        let client = client.clone();
        tokio::spawn(async move {
          client
            .change_phase(
              change(
                &format!("flag-{n}"),
                PhaseRef::Index(0),
                PhaseAction::Complete,
              ),
              NONE,
            )
            .await
        })
      })
      .collect();
    for call in calls {
      call.await.unwrap().unwrap();
    }
    let pipeline_reads = |server: &Server| {
      server
        .lines()
        .iter()
        .filter(|l| l.contains("/release-pipelines/"))
        .count()
    };
    assert_eq!(pipeline_reads(&server), 1, "{:?}", server.lines());
    // Later, the pipeline is read again: a refusal is not remembered.
    client
      .change_phase(
        change("flag-7", PhaseRef::Index(0), PhaseAction::Complete),
        NONE,
      )
      .await
      .unwrap();
    assert_eq!(pipeline_reads(&server), 2, "{:?}", server.lines());
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
    // A pipeline that does not say its kind is asked again each time.
    assert_eq!(
      server.lines(),
      [
        "GET /api/v2/projects/web/release-pipelines/standard",
        "GET /api/v2/projects/web/release-pipelines/progressive",
        "GET /api/v2/projects/web/release-pipelines/odd",
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
    let read = (format!("GET {RELEASE}"), String::new());
    let cases = [
      // Completing or reopening: the release is read first, whatever is known.
      (
        PhaseRef::Index(1),
        PhaseAction::Complete,
        false,
        read.clone(),
      ),
      (PhaseRef::Index(2), PhaseAction::Reopen, false, read.clone()),
      (
        PhaseRef::Index(0),
        PhaseAction::Complete,
        true,
        read.clone(),
      ),
      (PhaseRef::Index(0), PhaseAction::Reopen, true, read.clone()),
      (
        PhaseRef::Name("QA".into()),
        PhaseAction::Complete,
        false,
        read.clone(),
      ),
      (
        PhaseRef::Id("b".into()),
        PhaseAction::Reopen,
        false,
        read.clone(),
      ),
      // A start by index or name: the release is read to find the phase.
      (PhaseRef::Index(0), PhaseAction::Start, false, read.clone()),
      (PhaseRef::Name("QA".into()), PhaseAction::Start, false, read),
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
    for (phase, action, known, expected) in cases {
      let server = Server::start(flags_server(|| {
        Response::json(200, pipeline("shared", true))
      }))
      .await;
      let client = client_no_retry(&server);
      if known {
        client.remember_kind("web", "shared", PipelineKind::Legacy);
        client.remember_pipeline("web", "checkout", Some("shared"));
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

/// `action` on `phase` of `checkout` as a dry run.
async fn plan_checkout(
  client: &ld_release_core::client::Client,
  phase: PhaseRef,
  action: PhaseAction,
) -> Result<PhaseOutcome, ld_release_core::error::LdError> {
  client
    .phase_outcome(change("checkout", phase, action), true, NONE)
    .await
}

/// The method, path and body of a planned write.
fn planned(outcome: &PhaseOutcome) -> Option<(String, String)> {
  let PhaseOutcome::Planned { request, .. } = outcome else {
    panic!("a dry run wrote: {outcome:?}")
  };
  request.as_ref().map(|r| {
    (
      format!("{} {}", r.method, r.url.path()),
      String::from_utf8(r.body.clone().unwrap_or_default()).unwrap(),
    )
  })
}

#[tokio::test]
async fn a_dry_run_reads_and_sends_no_write() {
  bounded(async {
    let server = Server::start(|request| {
      let body = match request.path() {
        "/api/v2/projects/web/release-pipelines/standard" => pipeline("standard", true),
        _ => three_phases("standard", [true, false, false]),
      };
      Reply::Answer(Response::json(200, body))
    })
    .await;
    let client = client(&server);
    let outcome = plan_checkout(&client, PhaseRef::Name("QA".into()), PhaseAction::Complete)
      .await
      .unwrap();
    assert_eq!(
      planned(&outcome),
      Some((
        format!("PATCH {RELEASE}"),
        r#"[{"op":"test","path":"/phases/1/_id","value":"b"},{"op":"replace","path":"/phases/1/complete","value":true}]"#.to_string()
      ))
    );
    let PhaseOutcome::Planned { release, kind, .. } = &outcome else {
      unreachable!()
    };
    assert_eq!(*kind, Some(PipelineKind::Legacy));
    assert_eq!(
      release.as_ref().map(|r| r.json().to_string()),
      Some(three_phases("standard", [true, false, false]).to_string())
    );
    let reopen = plan_checkout(&client, PhaseRef::Index(0), PhaseAction::Reopen)
      .await
      .unwrap();
    assert_eq!(
      planned(&reopen),
      Some((
        format!("PATCH {RELEASE}"),
        r#"[{"op":"replace","path":"/phases/0/complete","value":false}]"#.to_string()
      ))
    );
    let start = plan_checkout(&client, PhaseRef::Index(2), PhaseAction::Start)
      .await
      .unwrap();
    assert_eq!(
      planned(&start),
      Some((
        "PUT /api/v2/projects/web/flags/checkout/release/phases/c".to_string(),
        r#"{"status":"active"}"#.to_string()
      ))
    );
    // A start by id needs no read: nothing at all is sent.
    let by_id = plan_checkout(&client, PhaseRef::Id("b".into()), PhaseAction::Start)
      .await
      .unwrap();
    assert_eq!(
      by_id,
      PhaseOutcome::Planned {
        kind: None,
        release: None,
        request: Some(client.first_request(&change("checkout", PhaseRef::Id("b".into()), PhaseAction::Start)).unwrap()),
      }
    );
    assert_eq!(
      server.lines(),
      [
        format!("GET {RELEASE}"),
        "GET /api/v2/projects/web/release-pipelines/standard".to_string(),
        format!("GET {RELEASE}"),
        format!("GET {RELEASE}"),
      ]
    );
  })
  .await;
}

#[tokio::test]
async fn a_dry_run_on_a_new_pipeline_plans_the_start_or_nothing_and_refuses_as_the_call_would() {
  bounded(async {
    let server = Server::start(|request| {
      let body = match request.path() {
        "/api/v2/projects/web/release-pipelines/progressive" => pipeline("progressive", false),
        _ => three_phases("progressive", [true, false, false]),
      };
      Reply::Answer(Response::json(200, body))
    })
    .await;
    let client = client(&server);
    let next = plan_checkout(&client, PhaseRef::Index(1), PhaseAction::Complete)
      .await
      .unwrap();
    assert_eq!(
      planned(&next),
      Some((
        "PUT /api/v2/projects/web/flags/checkout/release/phases/c".to_string(),
        r#"{"status":"active"}"#.to_string()
      ))
    );
    // Already complete: no write would be sent.
    let done = plan_checkout(&client, PhaseRef::Index(0), PhaseAction::Complete)
      .await
      .unwrap();
    assert_eq!(planned(&done), None);
    assert!(matches!(
      done,
      PhaseOutcome::Planned {
        kind: Some(PipelineKind::New),
        ..
      }
    ));
    for (phase, action) in [
      (PhaseRef::Index(2), PhaseAction::Complete),
      (PhaseRef::Index(1), PhaseAction::Reopen),
    ] {
      let error = plan_checkout(&client, phase, action).await.unwrap_err();
      assert_eq!(error.code, ErrorCode::Unsupported);
    }
    let error = plan_checkout(&client, PhaseRef::Index(3), PhaseAction::Complete)
      .await
      .unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidArgument);
    assert!(
      server.lines().iter().all(|line| line.starts_with("GET ")),
      "{:?}",
      server.lines()
    );
  })
  .await;
}

#[tokio::test]
async fn the_token_in_a_phase_name_the_server_sent_is_masked() {
  bounded(async {
    let hostile = release(
      "standard",
      &[("a", &format!("QA {TOKEN}"), false), ("b", "Prod", false)],
    );
    let server = Server::always(Response::json(200, hostile)).await;
    let client = client(&server);
    let error = change_checkout(
      &client,
      PhaseRef::Name("Staging".into()),
      PhaseAction::Complete,
    )
    .await
    .unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidArgument);
    assert!(
      error
        .message
        .starts_with(r#"no phase named "Staging"; the phases are 0: "QA "#),
      "{}",
      error.message
    );
    assert!(error.message.contains(r#"1: "Prod""#), "{}", error.message);
    assert_no_token(&error.message);
    assert_no_token(&format!("{error:?}"));
  })
  .await;
}
