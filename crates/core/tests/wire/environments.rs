//! Environment releases and release policies on the wire: the exact requests, a start
//! that is never sent twice (and how its outcome is found when no answer came), each
//! refusal as a script branches on it, and what the service says of deprecated routes.

use std::time::{SystemTime, UNIX_EPOCH};

use http::Method;
use ld_release_core::client::{Client, PreparedRequest};
use ld_release_core::config::RequestOptions;
use ld_release_core::deprecation;
use ld_release_core::environments::{ReleaseTarget, StartRelease, CLOCK_SKEW_MS};
use ld_release_core::error::{ErrorCode, LdError};
use ld_release_core::release::Release;
use serde_json::{json, Value};

use crate::server::{Reply, Request, Response, Server};
use crate::support::*;

const RELEASES: &str = "/api/v2/projects/web/flags/checkout/environments/production/releases";

fn now_ms() -> u64 {
  SystemTime::now()
    .duration_since(UNIX_EPOCH)
    .unwrap()
    .as_millis() as u64
}

fn target() -> ReleaseTarget {
  ReleaseTarget::new("web", "checkout", "production").unwrap()
}

/// A progressive start of two phases, the second without the kind clause.
fn input() -> Value {
  json!({
    "originalVariationId": "off-id",
    "targetVariationId": "on-id",
    "randomizationUnit": "user",
    "advancementMode": "automatic",
    "comment": "deploy 42",
    "phases": [
      {
        "description": "NZ first",
        "clauses": [
          {"contextKind": "user", "attribute": "kind", "op": "in", "values": ["user"]},
          {"contextKind": "user", "attribute": "country", "op": "in", "values": ["nz"]}
        ],
        "steps": [{"allocation": 10000, "durationMillis": 60000}, {"allocation": 100000, "durationMillis": 60000}]
      },
      {
        "clauses": [{"contextKind": "user", "attribute": "country", "op": "in", "values": ["au"]}],
        "steps": [{"allocation": 50000, "durationMillis": 1000}]
      }
    ]
  })
}

/// The release LaunchDarkly makes of `input()`, created at `created_at`.
fn release_of_input(id: &str, created_at: u64) -> Value {
  json!({
    "id": id, "status": "in_progress", "projectKey": "web", "environmentKey": "production",
    "flagKey": "checkout", "originalVariationId": "off-id", "originalVariationValue": false,
    "targetVariationId": "on-id", "targetVariationValue": true, "randomizationUnit": "user",
    "cleanupBehavior": "leave_rules_in_place", "kind": "progressive", "metrics": [],
    "advancementMode": "automatic", "currentPhaseIndex": 0, "createdAt": created_at,
    "phases": [
      {"id": "p0", "phaseIndex": 0, "ruleId": "r0", "description": "NZ first", "status": "in_progress",
       "metricStatuses": {}, "steps": [
        {"stepIndex": 0, "allocation": 10000, "durationMillis": 60000},
        {"stepIndex": 1, "allocation": 100000, "durationMillis": 60000}]},
      {"id": "p1", "phaseIndex": 1, "ruleId": "r1", "status": "pending", "metricStatuses": {},
       "steps": [{"stepIndex": 0, "allocation": 50000, "durationMillis": 1000}]}
    ]
  })
}

fn start_of(client: &Client, input: &Value) -> StartRelease {
  StartRelease::new(client.config(), target(), "input", input).unwrap()
}

async fn start(client: &Client, options: RequestOptions) -> Result<Release, LdError> {
  client
    .start_environment_release(&start_of(client, &input()), options)
    .await
}

fn page(items: Vec<Value>) -> Reply {
  let total = items.len();
  Response::json(200, json!({"items": items, "totalCount": total})).into()
}

/// A server whose start answers `first` and whose list of releases holds `listed()`.
async fn server_with(first: Reply, listed: impl Fn() -> Vec<Value> + Send + 'static) -> Server {
  let mut first = Some(first);
  Server::start(move |request: &Request| match request.method.as_str() {
    "POST" => first
      .take()
      .unwrap_or_else(|| Response::new(599).body("a second start").into()),
    "GET" => page(listed()),
    _ => Response::new(599).into(),
  })
  .await
}

fn posts(server: &Server) -> usize {
  server
    .requests()
    .iter()
    .filter(|r| r.method == "POST")
    .count()
}

#[tokio::test]
async fn a_start_is_the_documented_post_with_the_kind_clause_added() {
  let created = release_of_input("rel-1", now_ms());
  let server = Server::always(Response::json(201, created.clone())).await;
  let release = start(&client(&server), NONE).await.unwrap();
  assert_eq!(
    serde_json::from_str::<Value>(release.json()).unwrap(),
    created
  );
  let requests = server.requests();
  assert_eq!(requests.len(), 1);
  let request = &requests[0];
  assert_common_headers(request);
  assert_eq!(request.line(), format!("POST {RELEASES}"));
  let body: Value = serde_json::from_slice(&request.body).unwrap();
  let mut expected = input();
  expected["phases"][1]["clauses"] = json!([
    {"contextKind": "user", "attribute": "kind", "op": "in", "values": ["user"]},
    {"contextKind": "user", "attribute": "country", "op": "in", "values": ["au"]}
  ]);
  assert_eq!(body, expected);
}

#[tokio::test]
async fn reads_and_stops_are_the_documented_requests() {
  let server = Server::always(Response::json(200, release_of_input("rel-1", 1))).await;
  let client = client(&server);
  let config = client.config();
  let get = PreparedRequest::environment_release(config, &target(), "rel-1", true).unwrap();
  client
    .send_environment_release(&target(), get, NONE)
    .await
    .unwrap();
  let plain = PreparedRequest::environment_release(config, &target(), "rel-1", false).unwrap();
  client
    .send_environment_release(&target(), plain, NONE)
    .await
    .unwrap();
  let stop = PreparedRequest::stop_environment_release(
    config,
    &target(),
    "rel-1",
    "roll_back_current_phase_and_remove_pending_phases",
    Some("errors up"),
  )
  .unwrap();
  client
    .send_environment_release(&target(), stop, NONE)
    .await
    .unwrap();
  let requests = server.requests();
  for request in &requests {
    assert_common_headers(request);
  }
  assert_eq!(
    server.lines(),
    [
      format!("GET {RELEASES}/rel-1?expand=metrics"),
      format!("GET {RELEASES}/rel-1"),
      format!("PUT {RELEASES}/rel-1/stop"),
    ]
  );
  assert_eq!(
    serde_json::from_slice::<Value>(&requests[2].body).unwrap(),
    json!({"resolution": "roll_back_current_phase_and_remove_pending_phases", "comment": "errors up"})
  );
}

#[tokio::test]
async fn release_policies_are_the_documented_requests() {
  let policy = json!({"_id": "1", "key": "safe", "name": "Safe", "rank": 1, "releaseMethod": "guarded-release"});
  let server = Server::start({
    let policy = policy.clone();
    move |request: &Request| match (request.method.as_str(), request.path()) {
      ("DELETE", _) => Response::new(204).into(),
      (_, "/api/v2/projects/web/release-policies/order") => {
        Response::json(200, json!(["b", "safe"])).into()
      }
      ("GET", "/api/v2/projects/web/release-policies") => {
        Response::json(200, json!({"items": [policy.clone()], "totalCount": 1})).into()
      }
      _ => Response::json(200, policy.clone()).into(),
    }
  })
  .await;
  let client = client(&server);
  let config = client.config();
  let list = PreparedRequest::release_policies(config, "web").unwrap();
  let listed = client.send_release(list, NONE).await.unwrap();
  assert_eq!(
    serde_json::from_str::<Value>(listed.json()).unwrap()["items"][0],
    policy
  );
  let create_input = json!({"key": "safe", "name": "Safe", "releaseMethod": "guarded-release",
    "guardedReleaseConfig": {"stages": [{"allocation": 1000, "durationMillis": 60000}]}});
  let create = PreparedRequest::create_release_policy(config, "web", &create_input).unwrap();
  client.send_release(create, NONE).await.unwrap();
  let get = PreparedRequest::release_policy(config, Method::GET, "web", "safe", None).unwrap();
  client.send_release(get, NONE).await.unwrap();
  let update_input = json!({"name": "Safer", "releaseMethod": "progressive-release"});
  let update =
    PreparedRequest::release_policy(config, Method::PUT, "web", "safe", Some(&update_input))
      .unwrap();
  client.send_release(update, NONE).await.unwrap();
  let delete =
    PreparedRequest::release_policy(config, Method::DELETE, "web", "safe", None).unwrap();
  client.send_no_content(delete, NONE).await.unwrap();
  let keys = ["b".to_string(), "safe".to_string()];
  let order = PreparedRequest::reorder_release_policies(config, "web", &keys).unwrap();
  let ranked = client.send_json(&order, NONE).await.unwrap();
  assert_eq!(ranked.as_deref(), Some(r#"["b","safe"]"#));
  let requests = server.requests();
  for request in &requests {
    assert_common_headers(request);
  }
  assert_eq!(
    server.lines(),
    [
      "GET /api/v2/projects/web/release-policies",
      "POST /api/v2/projects/web/release-policies",
      "GET /api/v2/projects/web/release-policies/safe",
      "PUT /api/v2/projects/web/release-policies/safe",
      "DELETE /api/v2/projects/web/release-policies/safe",
      "POST /api/v2/projects/web/release-policies/order",
    ]
  );
  let body = |i: usize| serde_json::from_slice::<Value>(&requests[i].body).unwrap();
  assert_eq!(body(1), create_input);
  assert_eq!(body(3), update_input);
  assert_eq!(body(5), json!(["b", "safe"]));
  // An empty answer to the order is nothing; one that is not JSON says it was accepted.
  let empty = Server::always(Response::new(204)).await;
  let order =
    PreparedRequest::reorder_release_policies(client_for(&options(&empty)).config(), "web", &keys)
      .unwrap();
  assert_eq!(
    client_for(&options(&empty))
      .send_json(&order, NONE)
      .await
      .unwrap(),
    None
  );
  let garbled = Server::always(Response::new(200).body("<html>")).await;
  let garbled_client = client_for(&options(&garbled));
  let order =
    PreparedRequest::reorder_release_policies(garbled_client.config(), "web", &keys).unwrap();
  let error = garbled_client.send_json(&order, NONE).await.unwrap_err();
  assert_eq!(error.code, ErrorCode::Decode);
  assert!(error
    .message
    .starts_with("The server accepted the request (HTTP 200)"));
}

#[tokio::test]
async fn a_bad_start_or_stop_sends_nothing() {
  let server = Server::always(Response::new(599)).await;
  let client = client(&server);
  let mut bad = input();
  bad["phases"][0]["steps"][1]["allocation"] = json!(100);
  let error = StartRelease::new(client.config(), target(), "input", &bad).unwrap_err();
  assert_eq!(error.code, ErrorCode::InvalidArgument);
  assert!(error
    .message
    .starts_with("input.phases[0].steps[1].allocation"));
  let stop =
    PreparedRequest::stop_environment_release(client.config(), &target(), "r", "undo", None);
  assert_eq!(stop.unwrap_err().code, ErrorCode::InvalidArgument);
  assert!(server.requests().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_start_that_timed_out_is_not_resent_and_is_found_by_listing() {
  bounded(async {
    let server = server_with(Reply::Hang, || {
      vec![
        release_of_input("someone-elses", now_ms()).tap(|r| r["targetVariationId"] = json!("x")),
        release_of_input("mine", now_ms()),
      ]
    })
    .await;
    let options = RequestOptions {
      timeout_ms: Some(1000),
      ..NONE
    };
    let release = start(&client(&server), options).await.unwrap();
    let found: Value = serde_json::from_str(release.json()).unwrap();
    assert_eq!(found["id"], "mine");
    assert_eq!(
      server.lines(),
      [
        format!("POST {RELEASES}"),
        format!("GET {RELEASES}?limit=100")
      ]
    );
    for request in server.requests() {
      assert_common_headers(&request);
    }
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_start_whose_connection_dropped_or_that_got_a_5xx_is_not_resent() {
  bounded(async {
    for first in [
      Reply::Drop,
      Response::json(500, json!({"code": "internal", "message": "oops"})).into(),
      Response::new(503).body("<html>busy</html>").into(),
      // Accepted, with an answer too large to read: the release is found by listing.
      Response::new(201)
        .header("Content-Length", 64 * 1024 * 1024)
        .body("{}")
        .into(),
    ] {
      let server = server_with(first, || vec![release_of_input("mine", now_ms())]).await;
      let release = start(&client(&server), NONE).await.unwrap();
      assert_eq!(
        serde_json::from_str::<Value>(release.json()).unwrap()["id"],
        "mine"
      );
      assert_eq!(posts(&server), 1, "{:?}", server.lines());
      assert_eq!(server.requests().len(), 2);
    }
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_start_that_may_have_been_applied_says_so_and_how_to_check() {
  bounded(async {
    let old = now_ms() - CLOCK_SKEW_MS - 60_000;
    // Nothing matches: a release from before the start, another one's variations.
    let server = server_with(Reply::Drop, move || {
      vec![
        release_of_input("old", old),
        release_of_input("other", now_ms()).tap(|r| r["phases"][1]["steps"][0]["allocation"] = json!(40000)),
      ]
    })
    .await;
    let error = start(&client(&server), NONE).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::OutcomeUnknown);
    assert_eq!(error.code.as_str(), "ERR_LD_OUTCOME_UNKNOWN");
    assert_eq!(error.attempts, 1);
    assert!(
      error.message.starts_with("The start of a release of web/checkout in production may or may not have been applied: POST /api/v2/projects/web/flags/checkout/environments/production/releases to 127.0.0.1:"),
      "{}",
      error.message
    );
    assert!(
      error.message.ends_with("; no release of the flag in that environment created since matches it. It was not sent again (a start is not idempotent). Check with listEnvironmentReleases('web', 'checkout', 'production') before starting again"),
      "{}",
      error.message
    );
    assert_eq!(posts(&server), 1);
    assert_no_token(&error.message);
    // A release created within the clock-skew allowance before the start counts.
    let skewed = now_ms() - CLOCK_SKEW_MS + 5_000;
    let server = server_with(Reply::Drop, move || vec![release_of_input("mine", skewed)]).await;
    assert!(start(&client(&server), NONE).await.is_ok());
    // The list failing is said too; the start is still not resent.
    let server = Server::start(|request: &Request| match request.method.as_str() {
      "POST" => Reply::Drop,
      _ => Response::json(403, json!({"code": "forbidden", "message": "no reader"})).into(),
    })
    .await;
    let error = start(&client(&server), NONE).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::OutcomeUnknown);
    assert!(
      error.message.contains("; its releases could not be listed to check (LaunchDarkly answered 403 Forbidden to GET /api/v2/projects/web/flags/checkout/environments/production/releases: forbidden: no reader [1 attempt]). It was not sent again"),
      "{}",
      error.message
    );
    assert_eq!(posts(&server), 1);
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_start_that_certainly_did_not_arrive_is_sent_again() {
  bounded(async {
    let server = Server::script(vec![
      Response::json(429, json!({"code": "rate_limited", "message": "slow down"})).into(),
      Response::json(201, release_of_input("mine", now_ms())).into(),
    ])
    .await;
    start(&client(&server), NONE).await.unwrap();
    assert_eq!(posts(&server), 2);
    // No connection at all: every attempt, then the connection's error (never unknown).
    let closed = {
      let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
      let port = listener.local_addr().unwrap().port();
      drop(listener);
      port
    };
    let options = ld_release_core::config::ClientOptions {
      base_url: Some(format!("http://127.0.0.1:{closed}")),
      max_retries: Some(2),
      ..options(&server)
    };
    let error = start(&client_for(&options), NONE).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::Network);
    assert_eq!(error.attempts, 3);
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_start_accepted_with_an_unreadable_answer_says_it_was_accepted() {
  bounded(async {
    let server = Server::script(vec![
      Response::json(429, json!({"code": "rate_limited", "message": "slow down"})).into(),
      Response::new(201).body("<html>created</html>").into(),
    ])
    .await;
    let error = start(&client(&server), NONE).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::Decode);
    assert_eq!(error.attempts, 2);
    assert!(
      error
        .message
        .starts_with("The server accepted the request (HTTP 201)"),
      "{}",
      error.message
    );
    assert_eq!(posts(&server), 2);
  })
  .await;
}

#[tokio::test]
async fn refusals_reach_the_caller_as_codes_and_fields() {
  let refused = |status: u16, body: Value| Response::json(status, body);
  // A release is already running.
  let server = Server::always(refused(
    409,
    json!({"code": "release_already_active", "message": "A release is already active"}),
  ))
  .await;
  let error = start(&client(&server), NONE).await.unwrap_err();
  assert_eq!(error.code, ErrorCode::Conflict);
  assert_eq!(error.api_code.as_deref(), Some("release_already_active"));
  assert_eq!(error.status, Some(409));
  assert!(
    error
      .message
      .contains("a release of web/checkout in production is already running; nothing was started"),
    "{}",
    error.message
  );
  assert_eq!(server.requests().len(), 1);
  // The health checks failed.
  let server = Server::always(refused(
    400,
    json!({"code": "health_checks_failed", "message": "Release health checks failed",
           "failedChecks": ["flag_evaluations_any", "flag_evaluations_with_context", TOKEN]}),
  ))
  .await;
  let error = start(&client(&server), NONE).await.unwrap_err();
  assert_eq!(error.code, ErrorCode::BadRequest);
  assert_eq!(error.api_code.as_deref(), Some("health_checks_failed"));
  assert_eq!(
    error.failed_health_checks,
    Some(vec![
      "flag_evaluations_any".to_string(),
      "flag_evaluations_with_context".to_string(),
      "****89ab".to_string()
    ]),
    "an echoed token is masked there too"
  );
  assert_eq!(
    error.message,
    "LaunchDarkly answered 400 Bad Request to POST /api/v2/projects/web/flags/checkout/environments/production/releases: health_checks_failed: Release health checks failed [1 attempt] (nothing was started; to start anyway, pass bypassHealthChecks: ['flag_evaluations_any', 'flag_evaluations_with_context', '****89ab'])"
  );
  // Approvals are required, for a start and a stop alike; never retried.
  let server = Server::always(refused(
    405,
    json!({"code": "method_not_allowed", "message": "approval required"}),
  ))
  .await;
  let client = client(&server);
  let error = start(&client, NONE).await.unwrap_err();
  assert_eq!(error.code, ErrorCode::ApprovalRequired);
  assert_eq!(error.code.as_str(), "ERR_LD_APPROVAL_REQUIRED");
  assert_eq!(error.status, Some(405));
  let stop = PreparedRequest::stop_environment_release(
    client.config(),
    &target(),
    "r",
    "roll_forward_all_phases",
    None,
  )
  .unwrap();
  let error = client
    .send_environment_release(&target(), stop, NONE)
    .await
    .unwrap_err();
  assert_eq!(error.code, ErrorCode::ApprovalRequired);
  assert!(
    error.message.contains("requires approvals"),
    "{}",
    error.message
  );
  assert_eq!(server.requests().len(), 2);
  // Release plans are not available yet.
  let server = Server::always(refused(
    422,
    json!({"code": "unprocessable", "message": "plans unavailable"}),
  ))
  .await;
  let client = crate::support::client(&server);
  let plan = json!({"originalVariationId": "off-id", "targetVariationId": "on-id", "releasePlanKey": "standard"});
  let error = client
    .start_environment_release(&start_of(&client, &plan), NONE)
    .await
    .unwrap_err();
  assert_eq!(error.code, ErrorCode::Unsupported);
  assert_eq!(error.status, Some(422));
  assert!(
    error.message.contains("release plans are not available"),
    "{}",
    error.message
  );
  assert_eq!(
    serde_json::from_slice::<Value>(&server.requests()[0].body).unwrap(),
    plan
  );
}

#[tokio::test]
async fn deprecated_routes_are_noted_once_and_only_when_the_service_says_so() {
  // The only test of this binary whose answers carry these headers: the notices it
  // takes are its own.
  let server = Server::start(|request: &Request| {
    if request.path().ends_with("/quiet/release") {
      return Response::json(200, three_phases("p", [false; 3])).into();
    }
    Response::json(200, three_phases("p", [false; 3]))
      .header("Deprecation", "@1790812800")
      .header("Sunset", "Wed, 01 Sep 2027 00:00:00 GMT")
      .header(
        "Link",
        "<https://docs.example/successor>; rel=\"successor-version\"",
      )
      .into()
  })
  .await;
  let client = client(&server);
  let get =
    |flag: &str| PreparedRequest::release(client.config(), Method::GET, "web", flag, None).unwrap();
  client.send_release(get("quiet"), NONE).await.unwrap();
  assert_eq!(deprecation::take(), []);
  client.send_release(get("checkout"), NONE).await.unwrap();
  client.send_release(get("other-flag"), NONE).await.unwrap();
  let notices = deprecation::take();
  assert_eq!(notices.len(), 1, "once per route: {notices:?}");
  assert_eq!(notices[0].method, "GET");
  assert_eq!(
    notices[0].route,
    "/api/v2/flags/{projectKey}/{flagKey}/release"
  );
  assert_eq!(notices[0].deprecation.as_deref(), Some("@1790812800"));
  assert_eq!(
    notices[0].sunset.as_deref(),
    Some("Wed, 01 Sep 2027 00:00:00 GMT")
  );
  assert_eq!(
    notices[0].message(),
    "GET /api/v2/flags/{projectKey}/{flagKey}/release is deprecated by LaunchDarkly and will be removed (Deprecation: @1790812800; Sunset: Wed, 01 Sep 2027 00:00:00 GMT; Link: <https://docs.example/successor>; rel=\"successor-version\")"
  );
  // Another method on the route is another route; an error answer counts too.
  let patch = crate::support::change(
    "checkout",
    ld_release_core::phases::PhaseRef::Index(0),
    ld_release_core::phases::PhaseAction::Complete,
  );
  client.change_phase(patch, NONE).await.unwrap();
  let notices = deprecation::take();
  // The phase change reads the release (a route already noted), then the pipeline (a
  // route not noted yet), then sends the PATCH.
  assert_eq!(
    notices
      .iter()
      .map(|n| (n.method.as_str(), n.route.as_str()))
      .collect::<Vec<_>>(),
    [
      (
        "GET",
        "/api/v2/projects/{projectKey}/release-pipelines/{pipelineKey}"
      ),
      ("PATCH", "/api/v2/flags/{projectKey}/{flagKey}/release")
    ]
  );
  assert_eq!(deprecation::take(), []);
}

/// `tap` for building variations of a value in place.
trait Tap: Sized {
  fn tap(self, change: impl FnOnce(&mut Self)) -> Self;
}

impl Tap for Value {
  fn tap(mut self, change: impl FnOnce(&mut Self)) -> Self {
    change(&mut self);
    self
  }
}
