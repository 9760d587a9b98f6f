//! Pipelines and progressions on the wire: lists read a page at a time, the pipeline's
//! own reads and writes, and the writes that move a flag past a phase.

use http::Method;
use ld_release_core::client::PreparedRequest;
use ld_release_core::error::ErrorCode;
use ld_release_core::phases::PhaseRef;
use ld_release_core::pipelines::{
  AdvanceOutcome, AdvanceSettings, AdvanceTo, AdvanceWrite, Pager, PipelineView, ProgressionFilter,
};
use ld_release_core::release::PipelineKind;
use serde_json::json;

use crate::server::{Reply, Response, Server};
use crate::support::*;

fn page(keys: &[&str], total: Option<u64>) -> Reply {
  let items: Vec<_> = keys.iter().map(|k| json!({ "key": k })).collect();
  let body = match total {
    Some(total) => json!({ "items": items, "totalCount": total }),
    None => json!({ "items": items }),
  };
  Reply::Answer(Response::json(200, body))
}

/// Reads every page of `pager` (at most ten), returning the items.
async fn read_all(client: &ld_release_core::client::Client, pager: &mut Pager) -> Vec<String> {
  let mut items = Vec::new();
  for _ in 0..10 {
    if pager.is_done() {
      return items;
    }
    items.extend(client.next_page(pager, NONE).await.unwrap().items);
  }
  panic!("the pager did not stop: {items:?}");
}

#[tokio::test]
async fn pipelines_are_read_a_page_at_a_time_up_to_the_total() {
  bounded(async {
    let server = Server::script(vec![page(&["a", "b"], Some(3)), page(&["c"], Some(3))]).await;
    let client = client(&server);
    let mut pager = Pager::pipelines("my web").unwrap();
    let items = read_all(&client, &mut pager).await;
    assert_eq!(
      items,
      [r#"{"key":"a"}"#, r#"{"key":"b"}"#, r#"{"key":"c"}"#]
    );
    assert_eq!(
      server.lines(),
      [
        "GET /api/v2/projects/my%20web/release-pipelines?limit=50&offset=0",
        "GET /api/v2/projects/my%20web/release-pipelines?limit=50&offset=2",
      ]
    );
    for request in &server.requests() {
      assert_common_headers(request);
    }
  })
  .await;
}

#[tokio::test]
async fn progressions_are_filtered_and_end_on_an_empty_page() {
  bounded(async {
    let server = Server::script(vec![page(&["f1", "f2"], None), page(&[], None)]).await;
    let client = client(&server);
    let filter = ProgressionFilter {
      status: Some("active".into()),
      active_phase_id: Some("ph 1".into()),
    };
    let mut pager = Pager::progressions("web", "roll/out", filter).unwrap();
    let items = read_all(&client, &mut pager).await;
    assert_eq!(items.len(), 2);
    let filter = "filter=status%20equals%20%22active%22%2CactivePhaseId%20equals%20%22ph%201%22";
    assert_eq!(
      server.lines(),
      [
        format!(
          "GET /api/v2/projects/web/release-pipelines/roll%2Fout/releases?{filter}&limit=50&offset=0"
        ),
        format!(
          "GET /api/v2/projects/web/release-pipelines/roll%2Fout/releases?{filter}&limit=50&offset=2"
        ),
      ]
    );
    // A filter LaunchDarkly refuses is refused before anything is sent.
    let bad = ProgressionFilter {
      status: Some("completed".into()),
      active_phase_id: Some("p".into()),
    };
    assert_eq!(
      Pager::progressions("web", "p", bad).unwrap_err().code,
      ErrorCode::InvalidArgument
    );
    assert_eq!(server.requests().len(), 2);
  })
  .await;
}

#[tokio::test]
async fn a_page_that_is_not_a_list_fails_and_the_pager_stays() {
  bounded(async {
    let server = Server::script(vec![
      Reply::Answer(Response::json(200, json!({"items": "none"}))),
      page(&["a"], Some(1)),
    ])
    .await;
    let client = client(&server);
    let mut pager = Pager::pipelines("web").unwrap();
    let error = client.next_page(&mut pager, NONE).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::Decode);
    assert!(!pager.is_done());
    let page = client.next_page(&mut pager, NONE).await.unwrap();
    assert_eq!(page.total_count, Some(1));
    assert!(pager.is_done());
    let lines = server.lines();
    assert_eq!(lines[0], lines[1], "the same page asked for again");
  })
  .await;
}

#[tokio::test]
async fn pipeline_writes_send_their_input_as_json() {
  bounded(async {
    let server = Server::always(Response::json(200, pipeline("standard", true))).await;
    let client = client(&server);
    let config = client.config();
    let input = json!({"key": "standard", "name": "Standard", "phases": []});
    let requests = [
      PreparedRequest::create_release_pipeline(config, "web", &input).unwrap(),
      PreparedRequest::release_pipeline_with(config, Method::PUT, "web", "standard", Some(&input))
        .unwrap(),
      PreparedRequest::release_pipeline_with(config, Method::GET, "web", "standard", None).unwrap(),
    ];
    for request in requests {
      client.send_object(request, NONE).await.unwrap();
    }
    let delete =
      PreparedRequest::release_pipeline_with(config, Method::DELETE, "web", "standard", None)
        .unwrap();
    client.send_no_content(delete, NONE).await.unwrap();
    assert_eq!(
      server.lines(),
      [
        "POST /api/v2/projects/web/release-pipelines",
        "PUT /api/v2/projects/web/release-pipelines/standard",
        "GET /api/v2/projects/web/release-pipelines/standard",
        "DELETE /api/v2/projects/web/release-pipelines/standard",
      ]
    );
    let sent = server.requests();
    for request in &sent {
      assert_common_headers(request);
    }
    let expected = r#"{"key":"standard","name":"Standard","phases":[]}"#;
    assert_eq!(sent[0].body_text(), expected);
    assert_eq!(sent[1].body_text(), expected);
    assert!(sent[2].body.is_empty() && sent[3].body.is_empty());
    // Input that is not an object is refused before anything is sent.
    let error = PreparedRequest::create_release_pipeline(config, "web", &json!([1])).unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidArgument);
    assert_eq!(server.requests().len(), 4);
  })
  .await;
}

#[tokio::test]
async fn advancing_a_flag_writes_the_guarded_patch_or_starts_the_next_phase() {
  bounded(async {
    let server = Server::script(vec![
      Reply::Answer(Response::json(200, pipeline("standard", true))),
      Reply::Answer(Response::json(
        200,
        three_phases("standard", [false, true, false]),
      )),
      Reply::Answer(Response::json(200, pipeline("progressive", false))),
      Reply::Answer(Response::json(
        200,
        three_phases("progressive", [false, false, false]),
      )),
      Reply::Answer(Response::json(
        200,
        three_phases("progressive", [true, false, false]),
      )),
    ])
    .await;
    let client = client(&server);
    let config = client.config().clone();
    for (key, flag) in [("standard", "f 1"), ("progressive", "f2")] {
      let read = PreparedRequest::release_pipeline(&config, "web", key).unwrap();
      let answer = client.send_object(read, NONE).await.unwrap();
      let view = PipelineView::from_answer(&answer).unwrap();
      let (index, write) = view
        .advance_write(&PhaseRef::Name("Testing".into()))
        .unwrap();
      assert_eq!(index, 0);
      if key == "standard" {
        assert_eq!(view.kind, PipelineKind::Legacy);
      } else {
        assert_eq!(view.kind, PipelineKind::New);
        assert_eq!(
          write,
          AdvanceWrite::Start {
            from: "a".into(),
            phase_id: "b".into()
          }
        );
      }
      let to = AdvanceTo {
        project_key: "web",
        flag_key: flag,
        write: &write,
        view: &view,
      };
      match client.advance_flag(&to, false, NONE).await {
        AdvanceOutcome::Done(result) => result.unwrap(),
        other => panic!("not written: {other:?}"),
      };
    }
    // On a new pipeline, the release is read first: its active phase is still `a`.
    assert_eq!(
      server.lines(),
      [
        "GET /api/v2/projects/web/release-pipelines/standard",
        "PATCH /api/v2/flags/web/f%201/release",
        "GET /api/v2/projects/web/release-pipelines/progressive",
        "GET /api/v2/flags/web/f2/release",
        "PUT /api/v2/projects/web/flags/f2/release/phases/b",
      ]
    );
    let sent = server.requests();
    for request in &sent {
      assert_common_headers(request);
    }
    assert_eq!(
      sent[1].body_text(),
      r#"[{"op":"test","path":"/phases/0/_id","value":"a"},{"op":"replace","path":"/phases/0/complete","value":true}]"#
    );
    assert_eq!(sent[4].body_text(), r#"{"status":"active"}"#);
  })
  .await;
}

/// A page of progressions of `flags`, as LaunchDarkly lists them.
fn progressions(flags: &[&str], total: u64) -> Reply {
  let items: Vec<_> = flags
    .iter()
    .map(|f| json!({ "flagKey": f, "activePhaseId": "a", "status": "active" }))
    .collect();
  Reply::Answer(Response::json(
    200,
    json!({ "items": items, "totalCount": total }),
  ))
}

fn settings(dry_run: bool) -> AdvanceSettings {
  AdvanceSettings {
    concurrency: 1,
    progress: None,
    dry_run,
  }
}

const AT_TESTING: &str = "/api/v2/projects/web/release-pipelines/standard/releases?filter=status%20equals%20%22active%22%2CactivePhaseId%20equals%20%22a%22&limit=50";

#[tokio::test]
async fn advancing_a_pipeline_reads_it_lists_every_page_and_writes_each_flag() {
  bounded(async {
    let server = Server::script(vec![
      Reply::Answer(Response::json(200, pipeline("standard", true))),
      progressions(&["f1", "f2"], 3),
      progressions(&["f3"], 3),
      Reply::Answer(Response::json(200, three_phases("standard", [true, false, false]))),
      Reply::Answer(Response::json(409, json!({"code": "conflict", "message": "moved"}))),
      Reply::Answer(Response::json(200, three_phases("standard", [true, false, false]))),
    ])
    .await;
    let client = std::sync::Arc::new(client_no_retry(&server));
    let from = PhaseRef::Name("Testing".into());
    let done = client
      .advance_pipeline("web", "standard", &from, settings(false), NONE)
      .await
      .unwrap();
    let flags: Vec<&str> = done.iter().map(|a| a.flag_key.as_str()).collect();
    assert_eq!(flags, ["f1", "f2", "f3"]);
    let outcomes: Vec<Result<bool, ErrorCode>> = done
      .iter()
      .map(|a| match &a.outcome {
        AdvanceOutcome::Done(result) => result
          .as_ref()
          .map(|r| r.view().unwrap().phases[0].complete)
          .map_err(|e| e.code),
        other => panic!("not written: {other:?}"),
      })
      .collect();
    assert_eq!(outcomes, [Ok(true), Err(ErrorCode::Conflict), Ok(true)]);
    assert_eq!(
      server.lines(),
      [
        "GET /api/v2/projects/web/release-pipelines/standard".to_string(),
        format!("GET {AT_TESTING}&offset=0"),
        format!("GET {AT_TESTING}&offset=2"),
        "PATCH /api/v2/flags/web/f1/release".to_string(),
        "PATCH /api/v2/flags/web/f2/release".to_string(),
        "PATCH /api/v2/flags/web/f3/release".to_string(),
      ]
    );
    let guarded = r#"[{"op":"test","path":"/phases/0/_id","value":"a"},{"op":"replace","path":"/phases/0/complete","value":true}]"#;
    for write in &server.requests()[3..] {
      assert_common_headers(write);
      assert_eq!(write.body_text(), guarded);
    }
  })
  .await;
}

#[tokio::test]
async fn a_dry_run_advance_lists_the_writes_and_sends_none() {
  bounded(async {
    let server = Server::script(vec![
      Reply::Answer(Response::json(200, pipeline("standard", false))),
      progressions(&["f1", "f 2"], 2),
      Reply::Answer(Response::json(200, three_phases("standard", [false; 3]))),
      Reply::Answer(Response::json(200, three_phases("standard", [false; 3]))),
    ])
    .await;
    let client = std::sync::Arc::new(client(&server));
    let done = client
      .advance_pipeline("web", "standard", &PhaseRef::Index(0), settings(true), NONE)
      .await
      .unwrap();
    let planned: Vec<(String, String, Option<String>)> = done
      .into_iter()
      .map(|a| match a.outcome {
        AdvanceOutcome::Planned(request) => (
          a.flag_key,
          format!("{} {}", request.method, request.url.path()),
          request.body.map(|b| String::from_utf8(b).unwrap()),
        ),
        other => panic!("not planned: {other:?}"),
      })
      .collect();
    let start = Some(r#"{"status":"active"}"#.to_string());
    assert_eq!(
      planned,
      [
        (
          "f1".to_string(),
          "PUT /api/v2/projects/web/flags/f1/release/phases/b".to_string(),
          start.clone()
        ),
        (
          "f 2".to_string(),
          "PUT /api/v2/projects/web/flags/f%202/release/phases/b".to_string(),
          start
        ),
      ]
    );
    // The releases are read, as the real run reads them before each start; no write.
    let lines = server.lines();
    assert_eq!(
      lines[2..],
      [
        "GET /api/v2/flags/web/f1/release",
        "GET /api/v2/flags/web/f%202/release"
      ]
    );
  })
  .await;
}

#[tokio::test]
async fn a_progression_without_a_flag_key_fails_the_advance_before_any_write() {
  bounded(async {
    let server = Server::script(vec![
      Reply::Answer(Response::json(200, pipeline("standard", true))),
      Reply::Answer(Response::json(
        200,
        json!({"items": [{"flagKey": "f1"}, {"flag": "f2"}], "totalCount": 2}),
      )),
    ])
    .await;
    let client = std::sync::Arc::new(client(&server));
    let error = client
      .advance_pipeline(
        "web",
        "standard",
        &PhaseRef::Id("a".into()),
        settings(false),
        NONE,
      )
      .await
      .unwrap_err();
    assert_eq!(error.code, ErrorCode::Decode);
    assert!(error.message.contains("flagKey"), "{}", error.message);
    assert_eq!(error.body_excerpt.as_deref(), Some(r#"{"flag":"f2"}"#));
    assert_eq!(server.requests().len(), 2, "{:?}", server.lines());
  })
  .await;
}

#[tokio::test]
async fn progressions_at_a_phase_by_name_read_the_pipeline_first() {
  bounded(async {
    let server = Server::script(vec![
      Reply::Answer(Response::json(200, pipeline("standard", true))),
      progressions(&["f1"], 1),
    ])
    .await;
    let client = client(&server);
    let config = client.config().clone();
    let at = |phase: Option<PhaseRef>| {
      Pager::progressions_at("web", "standard", ProgressionFilter::default(), phase).unwrap()
    };
    let line = |request: PreparedRequest| {
      let query = request
        .url
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
      format!("{} {}{query}", request.method, request.url.path())
    };
    // What the list sends first: the pipeline for a phase by index or name; else a page,
    // of releases active at the phase when it is given by id.
    let pipeline_read = "GET /api/v2/projects/web/release-pipelines/standard";
    for phase in [PhaseRef::Index(0), PhaseRef::Name("Testing".into())] {
      assert_eq!(
        line(at(Some(phase)).first_request(&config).unwrap()),
        pipeline_read
      );
    }
    assert_eq!(
      line(
        at(Some(PhaseRef::Id("a".into())))
          .first_request(&config)
          .unwrap()
      ),
      format!("GET {AT_TESTING}&offset=0")
    );
    assert_eq!(
      line(at(None).first_request(&config).unwrap()),
      "GET /api/v2/projects/web/release-pipelines/standard/releases?limit=50&offset=0"
    );
    // A phase means releases active at it: a status of `completed` is refused.
    let completed = ProgressionFilter {
      status: Some("completed".into()),
      active_phase_id: None,
    };
    let error =
      Pager::progressions_at("web", "standard", completed, Some(PhaseRef::Index(0))).unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidArgument);
    assert!(error.message.contains("completed"), "{}", error.message);
    let mut pager = at(Some(PhaseRef::Name("Testing".into())));
    let items = read_all(&client, &mut pager).await;
    assert_eq!(items.len(), 1);
    assert_eq!(
      server.lines(),
      [
        pipeline_read.to_string(),
        format!("GET {AT_TESTING}&offset=0")
      ]
    );
  })
  .await;
}

#[tokio::test]
async fn a_finished_list_fetches_nothing_more() {
  bounded(async {
    let server = Server::always(page(&["a", "b"], Some(10))).await;
    let client = client(&server);
    let mut pager = Pager::pipelines("web").unwrap();
    client.next_page(&mut pager, NONE).await.unwrap();
    assert!(!pager.is_done(), "8 more to come");
    pager.finish();
    assert!(pager.is_done());
    assert!(read_all(&client, &mut pager).await.is_empty());
    assert_eq!(server.requests().len(), 1);
  })
  .await;
}

#[tokio::test]
async fn pipelines_matching_a_text_send_it_as_a_query_filter() {
  bounded(async {
    let server = Server::script(vec![page(&["roll"], Some(1))]).await;
    let client = client(&server);
    let mut pager = Pager::pipelines_matching("web", Some("roll out".into())).unwrap();
    let items = read_all(&client, &mut pager).await;
    assert_eq!(items, [r#"{"key":"roll"}"#]);
    assert_eq!(
      server.lines(),
      ["GET /api/v2/projects/web/release-pipelines?filter=query%3Aroll%20out&limit=50&offset=0"]
    );
  })
  .await;
}

#[tokio::test]
async fn a_progression_summary_is_read_from_one_page_of_one_item() {
  bounded(async {
    let body = json!({
      "items": [{"flagKey": "a"}], "totalCount": 7, "activeCount": 4, "completedCount": 3,
      "phases": [{"_id": "p1", "name": "QA", "releaseCount": 1},
                 {"_id": "p2", "name": "Prod", "releaseCount": 3}],
      "_links": {}
    });
    let server = Server::script(vec![Reply::Answer(Response::json(200, body))]).await;
    let client = client(&server);
    let summary = client
      .progression_summary("web", "roll/out", NONE)
      .await
      .unwrap();
    assert_eq!(
      (
        summary.total_count,
        summary.active_count,
        summary.completed_count
      ),
      (7, 4, 3)
    );
    let phases: Vec<_> = summary
      .phases
      .iter()
      .map(|p| (p.id.as_str(), p.name.as_str(), p.release_count))
      .collect();
    assert_eq!(phases, [("p1", "QA", 1), ("p2", "Prod", 3)]);
    assert_eq!(
      server.lines(),
      ["GET /api/v2/projects/web/release-pipelines/roll%2Fout/releases?limit=1&offset=0"]
    );
    assert_common_headers(&server.requests()[0]);
  })
  .await;
}
