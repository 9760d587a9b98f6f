//! What the wire tests share: a client for a test server, releases and pipelines as
//! the server answers them, and the headers every request must carry.

use ld_release_core::client::Client;
use ld_release_core::config::{ClientConfig, ClientOptions, RequestOptions, Secret};
use ld_release_core::error::LdError;
use ld_release_core::phases::{PhaseAction, PhaseChange, PhaseRef};
use ld_release_core::release::Release;
use serde_json::{json, Value};

use crate::server::{Request, Server};

/// The access token of every test client. No test server echoes it unless told to.
pub const TOKEN: &str = "api-5f3c9a7e-2b1d-4c8e-9f60-0123456789ab";
/// The caller's `userAgent` suffix.
pub const AGENT_SUFFIX: &str = "wire-test/1";

/// Options for a client of `server`, with the environment left out.
pub fn options(server: &Server) -> ClientOptions {
  ClientOptions {
    api_key: Some(Secret::new(TOKEN)),
    base_url: Some(server.url()),
    user_agent: Some(AGENT_SUFFIX.to_string()),
    ..Default::default()
  }
}

pub fn client_for(options: &ClientOptions) -> Client {
  Client::new(ClientConfig::resolve(options, |_| None).unwrap()).unwrap()
}

/// A client of `server` with the default settings (three retries, 30 s per attempt).
pub fn client(server: &Server) -> Client {
  client_for(&options(server))
}

/// A client of `server` that never retries.
pub fn client_no_retry(server: &Server) -> Client {
  client_for(&ClientOptions {
    max_retries: Some(0),
    ..options(server)
  })
}

/// A release of `pipeline` with phases `(id, name, complete)`, as LaunchDarkly answers it.
pub fn release(pipeline: &str, phases: &[(&str, &str, bool)]) -> Value {
  json!({
    "name": "Release",
    "releasePipelineKey": pipeline,
    "releasePipelineDescription": "",
    "_version": 3,
    "phases": phases
      .iter()
      .map(|(id, name, complete)| json!({
        "_id": id, "_name": name, "complete": complete,
        "status": if *complete { "completed" } else { "not-started" },
      }))
      .collect::<Vec<_>>(),
  })
}

/// The three phases most tests use: Testing (`a`), QA (`b`) and Production (`c`).
pub fn three_phases(pipeline: &str, complete: [bool; 3]) -> Value {
  release(
    pipeline,
    &[
      ("a", "Testing", complete[0]),
      ("b", "QA", complete[1]),
      ("c", "Production", complete[2]),
    ],
  )
}

/// A pipeline answer: `_isLegacy` as given, phases `a`, `b`, `c`.
pub fn pipeline(key: &str, legacy: bool) -> Value {
  json!({
    "key": key, "name": key, "_isLegacy": legacy, "isProjectDefault": false,
    "createdAt": "2025-09-16T22:01:04.602697Z",
    "phases": [
      {"id": "a", "name": "Testing", "audiences": []},
      {"id": "b", "name": "QA", "audiences": []},
      {"id": "c", "name": "Production", "audiences": []},
    ],
  })
}

/// No per-call options: the client's own.
pub const NONE: RequestOptions = RequestOptions {
  timeout_ms: None,
  max_retries: None,
  observer: None,
};

pub fn change(flag: &str, phase: PhaseRef, action: PhaseAction) -> PhaseChange {
  PhaseChange {
    project_key: "web".to_string(),
    flag_key: flag.to_string(),
    phase,
    action,
  }
}

/// `action` on `phase` of flag `checkout` (project `web`), with no per-call options.
pub async fn change_checkout(
  client: &Client,
  phase: PhaseRef,
  action: PhaseAction,
) -> Result<Release, LdError> {
  client
    .change_phase(change("checkout", phase, action), NONE)
    .await
}

/// The PATCH that completes phase 0 of flag `checkout` (project `web`), as the request
/// alone: for tests of how one request is sent, retried and answered.
pub fn patch_checkout(client: &Client) -> ld_release_core::client::PreparedRequest {
  let patch = ld_release_core::patch::phase_patch(0, true);
  ld_release_core::client::PreparedRequest::release(
    client.config(),
    http::Method::PATCH,
    "web",
    "checkout",
    Some(&patch),
  )
  .unwrap()
}

/// `User-Agent` as every test client sends it.
pub fn user_agent() -> String {
  format!("ld-release/{} {AGENT_SUFFIX}", env!("CARGO_PKG_VERSION"))
}

/// What every request carries: the raw token once in `Authorization` (no scheme) and
/// nowhere else, `LD-API-Version: beta` once, JSON accepted, the user agent, and a
/// `Content-Type: application/json` exactly when it has a body.
pub fn assert_common_headers(request: &Request) {
  let at = request.line();
  assert_eq!(request.one("authorization"), TOKEN, "{at}");
  for (name, value) in &request.headers {
    assert!(
      !value.to_ascii_lowercase().contains("bearer"),
      "{at}: {name}: {value}"
    );
    if !name.eq_ignore_ascii_case("authorization") {
      assert!(!value.contains(TOKEN), "{at}: the token in {name}");
    }
  }
  assert!(!request.target.contains(TOKEN), "{at}");
  assert_eq!(request.one("ld-api-version"), "beta", "{at}");
  assert_eq!(request.one("accept"), "application/json", "{at}");
  assert_eq!(request.one("user-agent"), user_agent(), "{at}");
  if request.body.is_empty() {
    assert!(
      request.all("content-type").is_empty(),
      "{at}: no body, no type"
    );
  } else {
    assert_eq!(request.one("content-type"), "application/json", "{at}");
    assert_eq!(
      request.one("content-length"),
      request.body.len().to_string(),
      "{at}"
    );
  }
}

/// Every piece of the token long enough to be masked (8 characters), for checking that
/// no text shows any of them.
pub fn assert_no_token(text: &str) {
  let chars: Vec<char> = TOKEN.chars().collect();
  for piece in chars.windows(8) {
    let piece: String = piece.iter().collect();
    assert!(!text.contains(&piece), "{piece:?} shown in {text:?}");
  }
}

/// How long a test may run before it fails. The tests end in a second or two (those on
/// paused time may wait a virtual minute, the gate's longest hold); the bound turns a
/// client that retries or waits without end into a failure.
pub const TEST_BOUND: std::time::Duration = std::time::Duration::from_secs(90);

/// Runs a test's body, failing it when it is still running after `TEST_BOUND` (on
/// tokio's clock: virtual in tests that pause time).
pub async fn bounded<F: std::future::Future>(body: F) -> F::Output {
  tokio::time::timeout(TEST_BOUND, body)
    .await
    .expect("the test ended within its bound")
}
