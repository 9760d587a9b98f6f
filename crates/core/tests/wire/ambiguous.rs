//! A release whose phases share an id: a phase started by that id could be any of them
//! (the one already active, say), so no PUT is sent and the call fails.

use ld_release_core::error::ErrorCode;
use ld_release_core::phases::{PhaseAction, PhaseRef};

use crate::server::{Reply, Response, Server};
use crate::support::*;

const RELEASE: &str = "/api/v2/flags/web/checkout/release";

fn ok(body: serde_json::Value) -> Reply {
  Reply::Answer(Response::json(200, body))
}

/// Phases `a` (active), `a` again, and `c`: the second shares the first's id.
fn duplicated() -> serde_json::Value {
  release(
    "progressive",
    &[
      ("a", "Testing", false),
      ("a", "QA", false),
      ("c", "GA", false),
    ],
  )
}

#[tokio::test]
async fn completing_a_phase_whose_next_shares_its_id_sends_no_put() {
  bounded(async {
    let server = Server::script(vec![ok(duplicated()), ok(pipeline("progressive", false))]).await;
    let c = client(&server);
    let error = change_checkout(&c, PhaseRef::Index(0), PhaseAction::Complete)
      .await
      .unwrap_err();
    assert_eq!(error.code, ErrorCode::Decode, "{error:?}");
    assert!(
      error.message.contains("phases [0, 1] all have id \"a\"")
        && error.message.contains("Nothing was changed"),
      "{}",
      error.message
    );
    assert_eq!(
      server.lines(),
      [
        format!("GET {RELEASE}"),
        "GET /api/v2/projects/web/release-pipelines/progressive".to_string(),
      ],
      "no PUT"
    );
    // A phase whose next has an id of its own is completed as usual: QA, then GA.
    let server = Server::script(vec![
      ok(duplicated()),
      ok(pipeline("progressive", false)),
      ok(duplicated()),
    ])
    .await;
    let c = client(&server);
    change_checkout(&c, PhaseRef::Name("QA".into()), PhaseAction::Complete)
      .await
      .unwrap();
    assert_eq!(
      server.lines().last().map(String::as_str),
      Some("PUT /api/v2/projects/web/flags/checkout/release/phases/c")
    );
  })
  .await;
}

#[tokio::test]
async fn starting_a_phase_named_by_name_or_index_whose_id_is_shared_sends_no_put() {
  bounded(async {
    let server = Server::script(vec![ok(duplicated()), ok(duplicated()), ok(duplicated())]).await;
    let c = client(&server);
    for phase in [
      PhaseRef::Name("QA".into()),
      PhaseRef::Index(1),
      PhaseRef::Index(0),
    ] {
      let error = change_checkout(&c, phase.clone(), PhaseAction::Start)
        .await
        .unwrap_err();
      assert_eq!(error.code, ErrorCode::Decode, "{phase:?}: {error:?}");
    }
    assert_eq!(
      server.lines(),
      vec![format!("GET {RELEASE}"); 3],
      "reads only"
    );
    // Phase 2's id is its own: it is started.
    let server = Server::script(vec![ok(duplicated()), ok(duplicated())]).await;
    let c = client(&server);
    change_checkout(&c, PhaseRef::Index(2), PhaseAction::Start)
      .await
      .unwrap();
    assert_eq!(
      server.lines(),
      [
        format!("GET {RELEASE}"),
        "PUT /api/v2/projects/web/flags/checkout/release/phases/c".to_string(),
      ]
    );
  })
  .await;
}
