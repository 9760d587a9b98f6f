//! Retries, waits and errors as the server sees them: which answers are retried and
//! after how long, what is never retried or followed, and the token never shown.
//!
//! Waits between retries run on tokio's paused clock where they can: a wait costs no
//! real time, and the time between two requests as the server saw them is exactly what
//! the client slept. The rate-limit gate keeps to the real clock (`std::time::Instant`),
//! so tests of waits it takes part in (every 429 that advises a wait, spent windows)
//! wait for real, briefly, and check only that at least the advised time passed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Method;
use ld_release_core::client::{Client, PreparedRequest};
use ld_release_core::config::{ClientOptions, RequestOptions};
use ld_release_core::error::{ErrorCode, LdError};
use ld_release_core::phases::{PhaseAction, PhaseRef};
use ld_release_core::release::Release;
use serde_json::json;

use crate::server::{Reply, Response, Server};
use crate::support::*;

/// The jitter added to a wait of `ms`: up to a quarter, at least 50 ms, at most 1 s.
fn spread(ms: u64) -> u64 {
  (ms / 4).clamp(50, 1000)
}

/// Epoch milliseconds `offset_ms` from now, as `X-Ratelimit-Reset` carries them.
fn epoch_ms_from_now(offset_ms: i64) -> u64 {
  let now = SystemTime::now()
    .duration_since(UNIX_EPOCH)
    .unwrap()
    .as_millis() as i64;
  (now + offset_ms) as u64
}

fn ok() -> Reply {
  Reply::Answer(Response::json(
    200,
    three_phases("standard", [true, false, false]),
  ))
}

async fn complete(client: &Client) -> Result<Release, LdError> {
  complete_with(client, NONE).await
}

/// Sends the PATCH that completes phase 0 of `checkout`, with per-call `options`.
async fn complete_with(client: &Client, options: RequestOptions) -> Result<Release, LdError> {
  client.send_release(patch_checkout(client), options).await
}

/// Milliseconds between each request and the next, as the server received them.
fn gaps(server: &Server) -> Vec<u64> {
  server
    .requests()
    .windows(2)
    .map(|w| (w[1].at - w[0].at).as_millis() as u64)
    .collect()
}

/// Every request of `server` is the first one again: same method, target, headers, body.
fn assert_same_request_each_time(server: &Server) {
  let requests = server.requests();
  for request in &requests {
    assert_common_headers(request);
    assert_eq!(request.method, requests[0].method);
    assert_eq!(request.target, requests[0].target);
    assert_eq!(request.body, requests[0].body);
    let mut a = request.headers.clone();
    let mut b = requests[0].headers.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b);
  }
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_after_a_doubling_backoff() {
  bounded(async {
    let server = Server::script(vec![
      Reply::Answer(Response::new(500)),
      Reply::Answer(Response::new(502).body("<html><h1>Bad Gateway</h1></html>")),
      Reply::Answer(Response::new(503)),
      Reply::Answer(Response::new(504)),
      ok(),
    ])
    .await;
    let client = client_for(&ClientOptions {
      max_retries: Some(4),
      ..options(&server)
    });
    complete(&client).await.unwrap();
    assert_eq!(server.requests().len(), 5);
    assert_same_request_each_time(&server);
    let gaps = gaps(&server);
    for (gap, backoff) in gaps.iter().zip([250, 500, 1000, 2000]) {
      assert!(
        *gap >= backoff && *gap <= backoff + spread(backoff) + 20,
        "waited {gaps:?}, backoff {backoff}"
      );
    }
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_max_retries_and_say_how_many_were_sent() {
  bounded(async {
    let server = Server::always(Response::json(503, json!({"message": "maintenance"}))).await;
    let client = client_for(&ClientOptions {
      max_retries: Some(2),
      ..options(&server)
    });
    let error = complete(&client).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::Server);
    assert_eq!(error.status, Some(503));
    assert_eq!(error.attempts, 3);
    assert_eq!(
      error.message,
      "LaunchDarkly answered 503 Service Unavailable to PATCH /api/v2/flags/web/checkout/release: maintenance [3 attempts]"
    );
    assert_eq!(server.requests().len(), 3);
    // A per-call limit overrides the client's.
    let once = complete_with(
      &client,
      RequestOptions {
        max_retries: Some(0),
        ..NONE
      },
    )
    .await
    .unwrap_err();
    assert_eq!(once.attempts, 1);
    assert!(once.message.ends_with("[1 attempt]"), "{}", once.message);
    assert_eq!(server.requests().len(), 4);
  })
  .await;
}

#[tokio::test]
async fn client_errors_are_not_retried() {
  bounded(async {
    let cases = [
      (400, ErrorCode::BadRequest),
      (401, ErrorCode::Unauthorized),
      (403, ErrorCode::Forbidden),
      (404, ErrorCode::NotFound),
      (405, ErrorCode::Http),
      (409, ErrorCode::Conflict),
      (422, ErrorCode::BadRequest),
    ];
    for (status, code) in cases {
      let server = Server::always(Response::json(
        status,
        json!({"code": "some_code", "message": "some message"}),
      ))
      .await;
      let client = client(&server);
      let request =
        PreparedRequest::release(client.config(), Method::GET, "web", "checkout", None).unwrap();
      let error = client.send_release(request, NONE).await.unwrap_err();
      assert_eq!(error.code, code, "{status}");
      assert_eq!(error.status, Some(status));
      assert_eq!(error.attempts, 1, "{status}");
      assert_eq!(error.api_code.as_deref(), Some("some_code"));
      assert_eq!(error.api_message.as_deref(), Some("some message"));
      assert!(
        error
          .message
          .starts_with(&format!("LaunchDarkly answered {status} ")),
        "{}",
        error.message
      );
      assert!(
        error.message.ends_with(
          "to GET /api/v2/flags/web/checkout/release: some_code: some message [1 attempt]"
        ),
        "{}",
        error.message
      );
      assert_eq!(server.requests().len(), 1, "{status} was retried");
    }
  })
  .await;
}

#[tokio::test]
async fn a_403_without_a_message_points_at_the_beta_header() {
  bounded(async {
    let server = Server::always(Response::new(403).body("Forbidden")).await;
    let client = client(&server);
    let error = complete(&client).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::Forbidden);
    assert!(
      error.message.contains("LD-API-Version: beta header"),
      "{}",
      error.message
    );
    // A body that is not JSON is quoted, tags dropped and the rest as it was.
    let server = Server::always(Response::new(502).body("<p>load > capacity</p>")).await;
    let error = complete(&client_no_retry(&server)).await.unwrap_err();
    assert!(
      error.message.ends_with(": load > capacity [1 attempt]"),
      "{}",
      error.message
    );
    let server = Server::always(Response::json(403, json!({"message": "no access"}))).await;
    let error = complete(&client_no_retry(&server)).await.unwrap_err();
    assert!(
      !error.message.contains("LD-API-Version"),
      "{}",
      error.message
    );
  })
  .await;
}

#[tokio::test]
async fn retry_after_in_seconds_is_waited_for() {
  bounded(async {
    let server = Server::script(vec![
      Reply::Answer(Response::new(429).header("Retry-After", "1")),
      ok(),
    ])
    .await;
    let client = client(&server);
    complete(&client).await.unwrap();
    assert_same_request_each_time(&server);
    let gaps = gaps(&server);
    assert!(gaps[0] >= 1000, "waited {gaps:?}");
  })
  .await;
}

#[tokio::test]
async fn x_ratelimit_reset_is_epoch_milliseconds_and_wins_over_retry_after() {
  bounded(async {
    // Retry-After alone would fail the call at once (over a minute); the reset, read as
    // epoch milliseconds, is 1.5 s away.
    let server = Server::start({
      let mut first = true;
      move |_| {
        if std::mem::take(&mut first) {
          Response::new(429)
            .header("X-Ratelimit-Reset", epoch_ms_from_now(1500))
            .header("Retry-After", "3600")
            .into()
        } else {
          ok()
        }
      }
    })
    .await;
    let client = client(&server);
    complete(&client).await.unwrap();
    assert_eq!(server.requests().len(), 2);
    let gaps = gaps(&server);
    // Measured from the first request's arrival, a little before the reset was computed.
    assert!(gaps[0] >= 1450, "waited {gaps:?}");
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn no_wait_advised_is_a_prompt_retry() {
  bounded(async {
    // The default wait would be a second at least; no advice at all is tested below. A
    // reset in the past is not "no wait" (see a_429_whose_reset_is_past_waits_the_floor).
    let advice = [
      ("Retry-After", "0".to_string()),
      ("Retry-After", httpdate_from_now(-5)),
    ];
    for (name, value) in advice {
      let server = Server::script(vec![
        Reply::Answer(Response::new(429).header(name, &value)),
        ok(),
      ])
      .await;
      complete(&client(&server)).await.unwrap();
      let gaps = gaps(&server);
      assert!(gaps[0] <= 50 + 20, "{name}: {value} waited {gaps:?}");
    }
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_429_without_advice_waits_a_second_then_two_with_jitter() {
  bounded(async {
    let server = Server::script(vec![
      Reply::Answer(Response::new(429)),
      Reply::Answer(Response::json(
        429,
        json!({"code":"rate_limited","message":"You've exceeded the API rate limit. Try again later."}),
      )),
      ok(),
    ])
    .await;
    complete(&client(&server)).await.unwrap();
    let gaps = gaps(&server);
    for (gap, wait) in gaps.iter().zip([1000, 2000]) {
      assert!(
        *gap >= wait && *gap <= wait + spread(wait) + 20,
        "waited {gaps:?}, default {wait}"
      );
    }
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_429_whose_reset_is_past_waits_the_floor() {
  bounded(async {
    for past in [-5000, -1, 0] {
      let server = Server::script(vec![
        Reply::Answer(
          Response::new(429)
            .header("X-Ratelimit-Route-Remaining", "0")
            .header("X-Ratelimit-Reset", epoch_ms_from_now(past)),
        ),
        ok(),
      ])
      .await;
      complete(&client(&server)).await.unwrap();
      let gaps = gaps(&server);
      assert!(
        gaps[0] >= 1000 && gaps[0] <= 1000 + spread(1000) + 20,
        "{past}: waited {gaps:?}"
      );
    }
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_429_waits_the_later_of_the_resets_that_apply() {
  bounded(async {
    // Both the route and the token are spent: the token's reset, 4 s away, is the later.
    let both = Server::script(vec![
      Reply::Answer(
        Response::new(429)
          .header("X-Ratelimit-Route-Remaining", "0")
          .header("X-Ratelimit-Reset", epoch_ms_from_now(1000))
          .header("X-Ratelimit-Auth-Token-Remaining", "0")
          .header("X-Ratelimit-Auth-Token-Reset", epoch_ms_from_now(4000)),
      ),
      ok(),
    ])
    .await;
    complete(&client(&both)).await.unwrap();
    let gap = gaps(&both)[0];
    assert!(gap >= 3900 && gap <= 4000 + spread(4000) + 100, "{gap}");
    // The token still has budget: its later reset did not cause the 429, the route's did.
    let route = Server::script(vec![
      Reply::Answer(
        Response::new(429)
          .header("X-Ratelimit-Route-Remaining", "0")
          .header("X-Ratelimit-Reset", epoch_ms_from_now(1000))
          .header("X-Ratelimit-Auth-Token-Remaining", "30")
          .header("X-Ratelimit-Auth-Token-Reset", epoch_ms_from_now(50_000)),
      ),
      ok(),
    ])
    .await;
    complete(&client(&route)).await.unwrap();
    let gap = gaps(&route)[0];
    assert!(gap >= 900 && gap <= 1000 + spread(1000) + 100, "{gap}");
    // Only the token's family, as the v25 reference documents it for some calls.
    let token = Server::script(vec![
      Reply::Answer(
        Response::new(429)
          .header("X-Ratelimit-Auth-Token-Limit", "60")
          .header("X-Ratelimit-Auth-Token-Remaining", "0")
          .header("X-Ratelimit-Auth-Token-Reset", epoch_ms_from_now(2500)),
      ),
      ok(),
    ])
    .await;
    complete(&client(&token)).await.unwrap();
    let gap = gaps(&token)[0];
    assert!(gap >= 2400 && gap <= 2500 + spread(2500) + 100, "{gap}");
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_spent_token_budget_holds_every_route_until_its_own_reset() {
  bounded(async {
    let server = Server::start({
      let mut first = true;
      move |_| {
        let response = Response::json(200, three_phases("standard", [true, false, false]));
        if std::mem::take(&mut first) {
          // The route has budget and resets in 1 s; the token is spent for 5 s.
          response
            .header("X-Ratelimit-Route-Remaining", "10")
            .header("X-Ratelimit-Reset", epoch_ms_from_now(1000))
            .header("X-Ratelimit-Auth-Token-Remaining", "0")
            .header("X-Ratelimit-Auth-Token-Reset", epoch_ms_from_now(5000))
            .into()
        } else {
          response.into()
        }
      }
    })
    .await;
    let client = client(&server);
    complete(&client).await.unwrap();
    // Another route (a read): held by the token's budget, not sent before its reset.
    let read =
      PreparedRequest::release(client.config(), http::Method::GET, "web", "checkout", None)
        .unwrap();
    client.send_release(read, NONE).await.unwrap();
    let gap = gaps(&server)[0];
    assert!((4900..=5200).contains(&gap), "{gap}");
  })
  .await;
}

/// An HTTP date `offset_s` seconds from now (`Retry-After` may be one).
fn httpdate_from_now(offset_s: i64) -> String {
  let at = UNIX_EPOCH + Duration::from_millis(epoch_ms_from_now(offset_s * 1000));
  httpdate::fmt_http_date(at)
}

#[tokio::test]
async fn a_wait_over_a_minute_fails_the_call_at_once() {
  bounded(async {
    let server = Server::always(Response::new(429).header("Retry-After", "120")).await;
    let client = client(&server);
    let error = complete(&client).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::RateLimited);
    assert_eq!(error.retry_after_ms, Some(120_000));
    assert_eq!(error.attempts, 1);
    assert!(
      error
        .message
        .ends_with("(the server asked to wait longer than 60 s) [1 attempt]"),
      "{}",
      error.message
    );
    // The gate holds the client's next call (for the longest wait a call accepts): given
    // a moment, it sends nothing.
    let next = tokio::time::timeout(Duration::from_millis(200), complete(&client)).await;
    assert!(next.is_err(), "{next:?}");
    assert_eq!(server.requests().len(), 1);
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_window_of_a_whole_minute_is_waited_out() {
  bounded(async {
    // The token's limit, recorded with 60 s windows: the next call waits the minute (and
    // the gate's margin) rather than being refused as too long.
    let server = Server::start({
      let mut first = true;
      move |_| {
        let response = Response::json(200, three_phases("standard", [true, false, false]));
        if std::mem::take(&mut first) {
          response
            .header("X-Ratelimit-Auth-Token-Remaining", "0")
            .header("X-Ratelimit-Auth-Token-Reset", epoch_ms_from_now(60_000))
            .into()
        } else {
          response.into()
        }
      }
    })
    .await;
    let client = client(&server);
    complete(&client).await.unwrap();
    complete(&client).await.unwrap();
    let gap = gaps(&server)[0];
    assert!((59_900..=60_200).contains(&gap), "{gap}");
  })
  .await;
}

#[tokio::test]
async fn a_window_spent_for_longer_than_a_minute_refuses_calls_unsent() {
  bounded(async {
    let server = Server::start({
      let mut first = true;
      move |_| {
        let response = Response::json(200, three_phases("standard", [true, false, false]));
        if std::mem::take(&mut first) {
          response
            .header("X-Ratelimit-Route-Remaining", "0")
            .header("X-Ratelimit-Reset", epoch_ms_from_now(600_000))
            .into()
        } else {
          response.into()
        }
      }
    })
    .await;
    let client = client(&server);
    complete(&client).await.unwrap();
    let error = complete(&client).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::RateLimited);
    assert_eq!(error.attempts, 0);
    assert!(
      error.message.starts_with(
        "PATCH /api/v2/flags/web/checkout/release was not sent: LaunchDarkly's rate limit holds this client's requests for 60"
      ) && error.message.ends_with(" s, longer than the 60 s a call waits"),
      "{}",
      error.message
    );
    let wait = error.retry_after_ms.unwrap();
    assert!(wait > 590_000 && wait <= 600_100, "{wait}");
    assert_eq!(server.requests().len(), 1);
  })
  .await;
}

#[tokio::test]
async fn a_429_reports_the_advised_wait_or_the_backoff() {
  bounded(async {
    let server = Server::always(Response::new(429).header("Retry-After", "7")).await;
    let error = complete(&client_no_retry(&server)).await.unwrap_err();
    assert_eq!(error.retry_after_ms, Some(7000));
    // Exactly the longest wait a call accepts: reported, and not refused as too long.
    let server = Server::always(Response::new(429).header("Retry-After", "60")).await;
    let error = complete(&client_no_retry(&server)).await.unwrap_err();
    assert_eq!(error.retry_after_ms, Some(60_000));
    assert!(
      error
        .message
        .ends_with("Too Many Requests to PATCH /api/v2/flags/web/checkout/release [1 attempt]"),
      "{}",
      error.message
    );
    // No advice, or advice that is no wait at all: the default backoff.
    for advice in [None, Some("-1.5"), Some("inf"), Some("soon")] {
      let mut answer = Response::new(429);
      if let Some(advice) = advice {
        answer = answer.header("Retry-After", advice);
      }
      let server = Server::always(answer).await;
      let error = complete(&client_no_retry(&server)).await.unwrap_err();
      assert_eq!(error.code, ErrorCode::RateLimited);
      assert_eq!(error.retry_after_ms, Some(1000), "{advice:?}");
      assert_eq!(server.requests().len(), 1);
    }
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_server_error_follows_a_short_advised_wait_and_ignores_a_long_one() {
  bounded(async {
    let server = Server::script(vec![
      Reply::Answer(Response::new(503).header("Retry-After", "3")),
      Reply::Answer(Response::new(503).header("Retry-After", "600")),
      ok(),
    ])
    .await;
    complete(&client(&server)).await.unwrap();
    let gaps = gaps(&server);
    assert!(
      gaps[0] >= 3000 && gaps[0] <= 3000 + spread(3000) + 20,
      "{gaps:?}"
    );
    // Over the limit: the default backoff of the second retry instead.
    assert!(
      gaps[1] >= 500 && gaps[1] <= 500 + spread(500) + 20,
      "{gaps:?}"
    );
  })
  .await;
}

#[tokio::test]
async fn a_spent_window_holds_the_next_call_until_it_resets() {
  bounded(async {
    let server = Server::start({
      let mut first = true;
      move |_| {
        let response = Response::json(200, three_phases("standard", [true, false, false]));
        if std::mem::take(&mut first) {
          response
            .header("X-Ratelimit-Route-Remaining", "0")
            .header("X-Ratelimit-Global-Remaining", "40")
            .header("X-Ratelimit-Reset", epoch_ms_from_now(1000))
            .into()
        } else {
          response.into()
        }
      }
    })
    .await;
    let client = client(&server);
    complete(&client).await.unwrap();
    complete(&client).await.unwrap();
    let gaps = gaps(&server);
    assert!(gaps[0] >= 950, "{gaps:?}");
  })
  .await;
}

#[tokio::test]
async fn a_429_holds_every_call_of_the_client() {
  bounded(async {
    let server = Server::script(vec![
      Reply::Answer(Response::new(429).header("Retry-After", "1")),
      ok(),
    ])
    .await;
    let client = client(&server);
    // The first call gives up at once; the 429 it saw still holds the client's next call.
    let error = complete_with(
      &client,
      RequestOptions {
        max_retries: Some(0),
        ..NONE
      },
    )
    .await
    .unwrap_err();
    assert_eq!(error.code, ErrorCode::RateLimited);
    complete(&client).await.unwrap();
    let gaps = gaps(&server);
    assert!(gaps[0] >= 1000, "a call was sent {gaps:?} ms after the 429");
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn a_dropped_connection_is_retried() {
  bounded(async {
    let server = Server::script(vec![Reply::Drop, ok()]).await;
    complete(&client(&server)).await.unwrap();
    assert_eq!(server.requests().len(), 2);
    assert_same_request_each_time(&server);
    let server = Server::always(Reply::Drop).await;
    let error = complete(&client_no_retry(&server)).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::Network);
    assert_eq!(error.attempts, 1);
    let port = server.url().rsplit(':').next().unwrap().to_string();
    // What failed, where, and hyper's own words for it.
    assert!(
      error.message.starts_with(&format!(
        "PATCH /api/v2/flags/web/checkout/release to 127.0.0.1:{port} failed: "
      )) && error
        .message
        .contains("connection closed before message completed"),
      "{}",
      error.message
    );
  })
  .await;
}

#[tokio::test]
async fn a_refused_connection_says_where_and_why_without_wrappers() {
  bounded(async {
    // Nothing listens on a port once its listener is closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
      .unwrap()
      .local_addr()
      .unwrap()
      .port();
    let url = format!("http://127.0.0.1:{port}");
    let client = client_for(&ClientOptions {
      api_key: Some(ld_release_core::config::Secret::new(TOKEN)),
      base_url: Some(url.clone()),
      max_retries: Some(0),
      ..Default::default()
    });
    let error = complete(&client).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::Network);
    let host = url.trim_start_matches("http://");
    let prefix = format!("PATCH /api/v2/flags/web/checkout/release: connecting to {host} failed: ");
    let cause = error
      .message
      .strip_prefix(&prefix)
      .unwrap_or_else(|| panic!("{}", error.message));
    // Only the operating system's words: not the layers that wrap them.
    assert!(
      cause.contains("(os error ") && cause.ends_with(" [1 attempt]"),
      "{cause}"
    );
    for wrapper in ["client error", "tcp connect error", "error sending request"] {
      assert!(!cause.contains(wrapper), "{cause}");
    }
  })
  .await;
}

#[tokio::test(start_paused = true)]
async fn an_attempt_that_hangs_times_out_and_is_retried() {
  bounded(async {
    let server = Server::always(Reply::Hang).await;
    let client = client_for(&ClientOptions {
      timeout_ms: Some(1000),
      max_retries: Some(1),
      ..options(&server)
    });
    let error = complete(&client).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::Timeout);
    assert_eq!(error.attempts, 2);
    assert!(
      error.message.contains("timed out after 1000 ms"),
      "{}",
      error.message
    );
    let gaps = gaps(&server);
    assert_eq!(gaps.len(), 1);
    assert!(
      gaps[0] >= 1000 + 250 && gaps[0] <= 1000 + 250 + spread(250) + 20,
      "{gaps:?}"
    );
    // A per-call timeout overrides the client's.
    let server = Server::always(Reply::Hang).await;
    let client = client_no_retry(&server);
    let start = tokio::time::Instant::now();
    let error = complete_with(
      &client,
      RequestOptions {
        timeout_ms: Some(300),
        ..NONE
      },
    )
    .await
    .unwrap_err();
    assert_eq!(error.code, ErrorCode::Timeout);
    let elapsed = start.elapsed();
    assert!(
      elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(400),
      "{elapsed:?}"
    );
  })
  .await;
}

#[tokio::test]
async fn redirects_are_never_followed() {
  bounded(async {
    let elsewhere = Server::always(Response::json(200, three_phases("standard", [false; 3]))).await;
    for status in [301, 302, 303, 307, 308] {
      let server = Server::always(Response::new(status).header(
        "Location",
        format!(
          "{}/api/v2/flags/web/checkout/release?token={TOKEN}",
          elsewhere.url()
        ),
      ))
      .await;
      let error = complete(&client(&server)).await.unwrap_err();
      assert_eq!(error.code, ErrorCode::Http, "{status}");
      assert_eq!(error.status, Some(status));
      assert_eq!(error.attempts, 1);
      assert!(
        error.message.contains(&format!(
          "(redirect to {}; redirects are not followed",
          elsewhere.url()
        )),
        "{}",
        error.message
      );
      assert!(
        error
          .message
          .contains("the change may or may not have been applied"),
        "{}",
        error.message
      );
      assert_no_token(&error.message);
      assert_eq!(server.requests().len(), 1);
    }
    assert!(elsewhere.requests().is_empty(), "{:?}", elsewhere.lines());
  })
  .await;
}

#[tokio::test]
async fn the_token_is_masked_in_every_error() {
  bounded(async {
    let encoded: String = TOKEN.bytes().map(|b| format!("%{b:02X}")).collect();
    let answers = [
      Response::json(
        400,
        json!({"code": TOKEN, "message": format!("bad token {TOKEN} ({encoded})")}),
      ),
      Response::new(502).body(format!("<html><p>Authorization: {TOKEN}</p></html>")),
      Response::new(404).body(format!("no flag for {}", &TOKEN[4..24])),
    ];
    for answer in answers {
      let status = answer.status;
      let server = Server::always(answer).await;
      let error = complete(&client_no_retry(&server)).await.unwrap_err();
      assert_eq!(error.status, Some(status));
      let shown = format!(
        "{} {} {:?} {:?} {:?} {error:?}",
        error, error.message, error.api_code, error.api_message, error.body_excerpt
      );
      assert_no_token(&shown);
      assert!(shown.contains("****"), "{shown}");
    }
    // An answer the client cannot use, echoing the token, is masked too.
    let server = Server::always(Response::new(200).body(format!("<html>{TOKEN}</html>"))).await;
    let error = complete(&client(&server)).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::Decode);
    assert_no_token(&format!("{error:?}"));
  })
  .await;
}

#[tokio::test]
async fn an_accepted_write_with_an_unusable_answer_is_not_retried() {
  bounded(async {
    let answers = [
      ("<html>OK</html>", "its body is not valid JSON ("),
      ("\"text\"", "its body is not a JSON object"),
    ];
    for (body, why) in answers {
      let server = Server::always(Response::new(200).body(body)).await;
      let error = complete(&client(&server)).await.unwrap_err();
      assert_eq!(error.code, ErrorCode::Decode);
      assert_eq!(error.status, Some(200));
      assert_eq!(error.attempts, 1);
      assert!(
        error.message.starts_with(&format!(
          "The server accepted the request (HTTP 200) but {why}"
        )),
        "{}",
        error.message
      );
      assert_eq!(error.body_excerpt.as_deref(), Some(body));
      assert_eq!(server.requests().len(), 1);
    }
  })
  .await;
}

#[tokio::test]
async fn an_unusable_release_after_a_retry_says_how_many_requests_it_took() {
  bounded(async {
    let server = Server::script(vec![
      Reply::Answer(Response::new(503).header("Retry-After", "0")),
      Reply::Answer(Response::json(200, json!({"name": "R"}))),
    ])
    .await;
    let client = client(&server);
    let error = change_checkout(&client, PhaseRef::Name("QA".into()), PhaseAction::Complete)
      .await
      .unwrap_err();
    assert_eq!(error.code, ErrorCode::Decode);
    assert!(error.message.contains("usable phases"), "{}", error.message);
    assert_eq!(error.attempts, 2);
    assert_eq!(server.requests().len(), 2);
  })
  .await;
}

#[tokio::test]
async fn an_answer_over_the_size_limit_is_not_read() {
  bounded(async {
    let server =
      Server::always(Response::json(200, "{}").header("Content-Length", 16 * 1024 * 1024 + 1))
        .await;
    let error = complete(&client(&server)).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::ResponseTooLarge);
    assert_eq!(error.status, Some(200));
    assert_eq!(error.attempts, 1);
    assert_eq!(server.requests().len(), 1);
  })
  .await;
}
