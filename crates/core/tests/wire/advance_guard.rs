//! `advance_pipeline` against a server that does not apply the progressions filter: it
//! lists flags at other phases, finished ones, and the same flag more than once (on one
//! page and across pages). Only flags whose release is at `from` are written, each
//! once; the others are reported skipped. On a new pipeline each flag's release is read
//! before its start, and a release no longer at `from` is skipped too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ld_release_core::phases::PhaseRef;
use ld_release_core::pipelines::{Advance, AdvanceOutcome, AdvanceSettings};
use serde_json::{json, Value};

use crate::server::{Reply, Request, Response, Server};
use crate::support::*;

fn settings(dry_run: bool) -> AdvanceSettings {
  AdvanceSettings {
    concurrency: 2,
    progress: None,
    dry_run,
  }
}

/// Per flag: `written`, `planned`, `skipped <reason> <activePhaseId>` or the error code.
fn outcomes(done: &[Advance]) -> Vec<(String, String)> {
  done
    .iter()
    .map(|a| {
      let what = match &a.outcome {
        AdvanceOutcome::Done(Ok(_)) => "written".to_string(),
        AdvanceOutcome::Done(Err(error)) => format!("{:?}", error.code),
        AdvanceOutcome::Planned(_) => "planned".to_string(),
        AdvanceOutcome::Skipped(skip) => format!(
          "skipped {} {:?}",
          skip.reason.as_str(),
          skip.active_phase_id
        ),
      };
      (a.flag_key.clone(), what)
    })
    .collect()
}

fn expected(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
  pairs
    .iter()
    .map(|(flag, what)| (flag.to_string(), what.to_string()))
    .collect()
}

/// A progression item: at `phase`, or finished with `None`.
fn item(flag: &str, phase: Option<&str>) -> Value {
  match phase {
    Some(phase) => json!({ "flagKey": flag, "activePhaseId": phase, "_createdAt": 1 }),
    None => json!({ "flagKey": flag, "_createdAt": 1, "_completedAt": 2 }),
  }
}

/// A server for pipeline `key` (`legacy` or not) whose progressions ignore the filter:
/// it sends `pages` in order, by offset (the next page at the offset of the items
/// before it). Releases are read as `releases` says (flag → complete of phases a, b,
/// c); every write is answered 200 with the release moved on.
async fn unfiltered(
  key: &'static str,
  legacy: bool,
  pages: Vec<Vec<Value>>,
  releases: HashMap<&'static str, [bool; 3]>,
) -> Server {
  let total: usize = pages.iter().map(Vec::len).sum();
  let mut offsets = HashMap::new();
  let mut at = 0;
  for page in &pages {
    offsets.insert(at, page.clone());
    at += page.len();
  }
  Server::start(move |request: &Request| {
    let path = request.path();
    let answer = |body: Value| Reply::Answer(Response::json(200, body));
    if path == format!("/api/v2/projects/web/release-pipelines/{key}") {
      return answer(pipeline(key, legacy));
    }
    if path.ends_with("/releases") {
      let offset: usize = request
        .target
        .split("offset=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
      let items = offsets.get(&offset).cloned().unwrap_or_default();
      return answer(json!({ "items": items, "totalCount": total }));
    }
    let flag = path
      .trim_start_matches("/api/v2/flags/web/")
      .trim_start_matches("/api/v2/projects/web/flags/")
      .split('/')
      .next()
      .unwrap_or_default()
      .to_string();
    let complete = releases.get(flag.as_str()).copied().unwrap_or([false; 3]);
    answer(three_phases(key, complete))
  })
  .await
}

fn writes(server: &Server) -> Vec<String> {
  server
    .lines()
    .into_iter()
    .filter(|line| !line.starts_with("GET"))
    .collect()
}

#[tokio::test]
async fn a_legacy_advance_writes_only_the_flags_listed_at_the_phase_each_once() {
  bounded(async {
    let server = unfiltered(
      "standard",
      true,
      vec![
        vec![
          item("f1", Some("a")),
          item("f2", Some("b")),
          item("f1", Some("a")),
          item("done", None),
          json!({ "flagKey": "paused", "activePhaseId": "a", "status": "completed" }),
        ],
        vec![item("f3", Some("a")), item("f2", Some("b")), item("f1", Some("a"))],
      ],
      HashMap::new(),
    )
    .await;
    let client = Arc::new(client(&server));
    let done = client
      .advance_pipeline("web", "standard", &PhaseRef::Index(0), settings(false), NONE)
      .await
      .unwrap();
    assert_eq!(
      outcomes(&done),
      expected(&[
        ("f1", "written"),
        ("f2", "skipped listed-elsewhere Some(\"b\")"),
        ("done", "skipped listed-elsewhere None"),
        ("paused", "skipped listed-elsewhere Some(\"a\")"),
        ("f3", "written"),
      ])
    );
    let mut written = writes(&server);
    written.sort();
    assert_eq!(
      written,
      [
        "PATCH /api/v2/flags/web/f1/release",
        "PATCH /api/v2/flags/web/f3/release"
      ]
    );
    // What a skip says: where the listing puts the release, by id and name.
    let AdvanceOutcome::Skipped(skip) = &done[1].outcome else {
      unreachable!()
    };
    assert_eq!(
      skip.message,
      "the progressions listing shows the release of web/f2 at phase \"b\" (\"QA\"), not at phase \"a\" (\"Testing\"): it was skipped, nothing was written"
    );
    let AdvanceOutcome::Skipped(finished) = &done[2].outcome else {
      unreachable!()
    };
    assert!(
      finished.message.contains("web/done with no active phase (finished), not at phase \"a\""),
      "{}",
      finished.message
    );
    let AdvanceOutcome::Skipped(status) = &done[3].outcome else {
      unreachable!()
    };
    assert!(
      status.message.contains("web/paused with status \"completed\", not at"),
      "{}",
      status.message
    );
  })
  .await;
}

#[tokio::test]
async fn a_new_pipeline_advance_skips_flags_at_other_phases_and_reads_each_release_first() {
  bounded(async {
    // Advancing from QA (b): starting GA (c). The server lists flags at Testing (a),
    // which must not get GA started (QA would be skipped over), and a flag listed at QA
    // whose release has since moved to GA.
    let releases = HashMap::from([
      ("at-qa", [true, false, false]),
      ("twice", [true, false, false]),
      ("moved", [true, true, false]),
      ("at-testing", [false, false, false]),
    ]);
    let pages = vec![
      vec![item("at-testing", Some("a")), item("at-qa", Some("b")), item("twice", Some("b"))],
      vec![item("twice", Some("b")), item("moved", Some("b"))],
    ];
    let server = unfiltered("progressive", false, pages.clone(), releases.clone()).await;
    let client = Arc::new(client(&server));
    let from = PhaseRef::Name("QA".into());
    let done = client
      .advance_pipeline("web", "progressive", &from, settings(false), NONE)
      .await
      .unwrap();
    assert_eq!(
      outcomes(&done),
      expected(&[
        ("at-testing", "skipped listed-elsewhere Some(\"a\")"),
        ("at-qa", "written"),
        ("twice", "written"),
        ("moved", "skipped moved Some(\"c\")"),
      ])
    );
    let mut written = writes(&server);
    written.sort();
    assert_eq!(
      written,
      [
        "PUT /api/v2/projects/web/flags/at-qa/release/phases/c",
        "PUT /api/v2/projects/web/flags/twice/release/phases/c",
      ]
    );
    // Each flag listed at QA had its release read once, before its write.
    let lines = server.lines();
    for flag in ["at-qa", "twice", "moved"] {
      let read = format!("GET /api/v2/flags/web/{flag}/release");
      assert_eq!(lines.iter().filter(|l| **l == read).count(), 1, "{lines:?}");
    }
    assert!(!lines.iter().any(|l| l.contains("/at-testing/")), "{lines:?}");
    let AdvanceOutcome::Skipped(skip) = &done[3].outcome else {
      unreachable!()
    };
    assert_eq!(
      skip.message,
      "the release of web/moved, read before its write, shows it at phase \"c\" (\"Production\"), not at phase \"b\" (\"QA\"): it was skipped, nothing was written"
    );

    // A dry run reports the same skips and writes nothing.
    let server = unfiltered("progressive", false, pages, releases).await;
    let client = Arc::new(self::client(&server));
    let planned = client
      .advance_pipeline("web", "progressive", &from, settings(true), NONE)
      .await
      .unwrap();
    assert_eq!(
      outcomes(&planned),
      expected(&[
        ("at-testing", "skipped listed-elsewhere Some(\"a\")"),
        ("at-qa", "planned"),
        ("twice", "planned"),
        ("moved", "skipped moved Some(\"c\")"),
      ])
    );
    assert_eq!(writes(&server), Vec::<String>::new());
  })
  .await;
}

#[tokio::test]
async fn a_release_that_cannot_be_read_before_its_start_fails_alone_and_is_not_written() {
  bounded(async {
    let reads = Arc::new(Mutex::new(0));
    let counted = reads.clone();
    let server = Server::start(move |request: &Request| {
      let path = request.path().to_string();
      let answer = |status: u16, body: Value| Reply::Answer(Response::json(status, body));
      if path.ends_with("/release-pipelines/progressive") {
        return answer(200, pipeline("progressive", false));
      }
      if path.ends_with("/releases") {
        return answer(
          200,
          json!({ "items": [item("gone", Some("a")), item("odd", Some("a"))], "totalCount": 2 }),
        );
      }
      *counted.lock().unwrap() += 1;
      if path.contains("/gone/") {
        return answer(404, json!({ "code": "not_found", "message": "no release" }));
      }
      // A release without usable phases cannot show where it is.
      answer(200, json!({ "name": "R", "phases": "none" }))
    })
    .await;
    let client = Arc::new(client_no_retry(&server));
    let done = client
      .advance_pipeline(
        "web",
        "progressive",
        &PhaseRef::Index(0),
        settings(false),
        NONE,
      )
      .await
      .unwrap();
    assert_eq!(
      outcomes(&done),
      expected(&[("gone", "NotFound"), ("odd", "Decode")])
    );
    assert_eq!(*reads.lock().unwrap(), 2);
    assert_eq!(writes(&server), Vec::<String>::new());
  })
  .await;
}
