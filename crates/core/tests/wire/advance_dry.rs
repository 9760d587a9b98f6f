//! A dry run of `advance_pipeline` and the real run agree: a listed flag key no request
//! can be made for fails alone in both, and the others are planned (or written).

use std::sync::Arc;

use ld_release_core::error::ErrorCode;
use ld_release_core::phases::PhaseRef;
use ld_release_core::pipelines::{AdvanceOutcome, AdvanceSettings};
use serde_json::json;

use crate::server::{Reply, Response, Server};
use crate::support::*;

fn listing() -> Reply {
  let items: Vec<_> = ["good", "bad\u{7}key", ""]
    .iter()
    .map(|f| json!({ "flagKey": f, "activePhaseId": "a" }))
    .collect();
  Reply::Answer(Response::json(
    200,
    json!({ "items": items, "totalCount": 3 }),
  ))
}

fn settings(dry_run: bool) -> AdvanceSettings {
  AdvanceSettings {
    concurrency: 1,
    progress: None,
    dry_run,
  }
}

/// Per flag: `planned`, `written`, or the error code.
fn outcomes(done: Vec<ld_release_core::pipelines::Advance>) -> Vec<(String, String)> {
  done
    .into_iter()
    .map(|a| {
      let what = match a.outcome {
        AdvanceOutcome::Planned(_) => "planned".to_string(),
        AdvanceOutcome::Done(Ok(_)) => "written".to_string(),
        AdvanceOutcome::Done(Err(error)) => format!("{:?}", error.code),
        AdvanceOutcome::Skipped(skip) => format!("skipped ({})", skip.reason.as_str()),
      };
      (a.flag_key, what)
    })
    .collect()
}

#[tokio::test]
async fn an_unusable_flag_key_fails_alone_in_the_dry_run_as_in_the_real_run() {
  bounded(async {
    let server = Server::script(vec![
      Reply::Answer(Response::json(200, pipeline("standard", true))),
      listing(),
      Reply::Answer(Response::json(200, pipeline("standard", true))),
      listing(),
      Reply::Answer(Response::json(
        200,
        three_phases("standard", [true, false, false]),
      )),
    ])
    .await;
    let client = Arc::new(client(&server));
    let dry = client
      .advance_pipeline("web", "standard", &PhaseRef::Index(0), settings(true), NONE)
      .await
      .unwrap();
    let invalid = format!("{:?}", ErrorCode::InvalidArgument);
    assert_eq!(
      outcomes(dry),
      [
        ("good".to_string(), "planned".to_string()),
        ("bad\u{7}key".to_string(), invalid.clone()),
        (String::new(), invalid.clone()),
      ]
    );
    let real = client
      .advance_pipeline(
        "web",
        "standard",
        &PhaseRef::Index(0),
        settings(false),
        NONE,
      )
      .await
      .unwrap();
    assert_eq!(
      outcomes(real),
      [
        ("good".to_string(), "written".to_string()),
        ("bad\u{7}key".to_string(), invalid.clone()),
        (String::new(), invalid),
      ]
    );
    let writes: Vec<String> = server
      .lines()
      .into_iter()
      .filter(|line| !line.starts_with("GET"))
      .collect();
    assert_eq!(writes, ["PATCH /api/v2/flags/web/good/release"]);
  })
  .await;
}
