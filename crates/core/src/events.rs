//! What a call's requests do, as they happen: each attempt, its answer, each retry and
//! each wait at the rate-limit gate, for tracing and progress displays.
//!
//! A call carries an [`Observer`] in its `RequestOptions`; without one nothing is built
//! and nothing is emitted. Events never hold the access token: URLs and header values
//! are masked against the client's token before they are emitted.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::Method;

pub use crate::limiter::Hold;

/// Receives the events of one call, on the runtime thread that sends its requests. It
/// must return quickly: the call waits for it.
pub type Sink = Arc<dyn Fn(Event) + Send + Sync>;

/// Called right after a request's `Request` event, before the request is sent: a
/// receiver that completes (or is dropped) once that event has been delivered, or `None`
/// when it already has been. The request waits for it, so that whoever watches sees the
/// request announced before it leaves.
pub type Delivered = Arc<dyn Fn() -> Option<tokio::sync::oneshot::Receiver<()>> + Send + Sync>;

/// The observer of one call: where its events go, and the name of the operation the
/// caller invoked (`completePhase`, `getRelease`, ...), which every event of the call
/// carries, whichever requests the operation makes.
#[derive(Clone)]
pub struct Observer {
  operation: &'static str,
  sink: Sink,
  delivered: Option<Delivered>,
}

impl Observer {
  pub fn new(operation: &'static str, sink: Sink) -> Self {
    Observer {
      operation,
      sink,
      delivered: None,
    }
  }

  /// This observer, whose requests wait for `delivered` before they are sent.
  pub fn with_delivered(self, delivered: Delivered) -> Self {
    Observer {
      delivered: Some(delivered),
      ..self
    }
  }

  pub fn operation(&self) -> &'static str {
    self.operation
  }
}

impl fmt::Debug for Observer {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.debug_struct("Observer")
      .field("operation", &self.operation)
      .finish_non_exhaustive()
  }
}

/// Two observers are equal when they are the same observer (clones of one another).
impl PartialEq for Observer {
  fn eq(&self, other: &Self) -> bool {
    self.operation == other.operation && Arc::ptr_eq(&self.sink, &other.sink)
  }
}

impl Eq for Observer {}

/// One thing a request did.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
  /// The operation the caller invoked, e.g. `completePhase`.
  pub operation: &'static str,
  /// The method as sent (`POST` for a `PATCH` sent with `X-HTTP-Method-Override`).
  pub method: Method,
  /// The full URL, the token masked should it appear in it.
  pub url: Arc<str>,
  /// The attempt (1-based) the event is about: for a wait, the attempt it holds back.
  pub attempt: u32,
  pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
  /// An attempt is about to be sent.
  Request,
  /// An attempt ended: with an answer (`status`), or without one (`failure`).
  Response {
    /// The answer's status; absent when no answer came.
    status: Option<u16>,
    /// Why the attempt gave no usable answer, if it did not.
    failure: Option<Failure>,
    /// From sending the request to the end of the answer's body (or the failure).
    duration: Duration,
    /// The answer's rate-limit headers.
    rate_limit: RateLimitHeaders,
    /// Whether the attempt will be retried (a `Retry` event follows at once).
    will_retry: bool,
  },
  /// The attempt will be retried after `wait_ms`.
  Retry {
    reason: RetryReason,
    /// The wait before the next attempt, jitter included.
    wait_ms: u64,
    /// Where the wait came from.
    source: WaitSource,
  },
  /// The client's rate-limit gate holds the attempt for `wait_ms` before it is sent.
  Wait { wait_ms: u64, reason: Hold },
}

impl EventKind {
  /// The kind's place among `Request`, `Response`, `Retry`, `Wait` (0 to 3).
  pub fn index(&self) -> usize {
    match self {
      EventKind::Request => 0,
      EventKind::Response { .. } => 1,
      EventKind::Retry { .. } => 2,
      EventKind::Wait { .. } => 3,
    }
  }
}

/// How an attempt ended without a usable answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
  /// No answer within the attempt's timeout.
  Timeout,
  /// No answer: the connection failed or was dropped.
  Network,
  /// A 2xx answer whose body is larger than the client reads.
  TooLarge,
}

impl Failure {
  pub fn as_str(self) -> &'static str {
    match self {
      Failure::Timeout => "timeout",
      Failure::Network => "network",
      Failure::TooLarge => "too-large",
    }
  }
}

/// Why an attempt is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryReason {
  /// The answer's status (429, 500, 502, 503, 504).
  Status(u16),
  Timeout,
  Network,
}

impl RetryReason {
  pub fn as_str(self) -> &'static str {
    match self {
      RetryReason::Status(_) => "status",
      RetryReason::Timeout => "timeout",
      RetryReason::Network => "network",
    }
  }
}

/// Where the wait before a retry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitSource {
  /// The answer's `Retry-After` header.
  RetryAfter,
  /// The answer's `X-Ratelimit-Reset` header.
  RateLimitReset,
  /// The client's exponential backoff.
  Backoff,
}

impl WaitSource {
  pub fn as_str(self) -> &'static str {
    match self {
      WaitSource::RetryAfter => "Retry-After",
      WaitSource::RateLimitReset => "X-Ratelimit-Reset",
      WaitSource::Backoff => "backoff",
    }
  }
}

/// The longest `Retry-After` value an event quotes.
const MAX_QUOTED: usize = 64;

/// The rate-limit headers of an answer. Numbers are given when the header is one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
  /// `X-Ratelimit-Route-Remaining`
  pub route_remaining: Option<u64>,
  /// `X-Ratelimit-Global-Remaining`
  pub global_remaining: Option<u64>,
  /// `X-Ratelimit-Reset`: epoch milliseconds
  pub reset: Option<u64>,
  /// `Retry-After`, as sent (seconds or an HTTP date), at most 64 characters, the token
  /// masked.
  pub retry_after: Option<String>,
}

impl RateLimitHeaders {
  /// Reads them from `headers`; `mask` masks the token in quoted text.
  pub fn from_headers(headers: &HeaderMap, mask: impl Fn(&str) -> String) -> Self {
    let text = |name: &str| {
      headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
    };
    let number = |name: &str| text(name).and_then(|v| v.parse::<u64>().ok());
    RateLimitHeaders {
      route_remaining: number("x-ratelimit-route-remaining"),
      global_remaining: number("x-ratelimit-global-remaining"),
      reset: number("x-ratelimit-reset"),
      retry_after: text("retry-after")
        .map(|v| mask(&v.chars().take(MAX_QUOTED).collect::<String>())),
    }
  }
}

/// The events of one request of a call: its method and URL worked out once.
pub(crate) struct Emitter<'a> {
  observer: &'a Observer,
  method: Method,
  url: Arc<str>,
}

impl<'a> Emitter<'a> {
  pub(crate) fn new(observer: &'a Observer, method: Method, url: String) -> Self {
    Emitter {
      observer,
      method,
      url: url.into(),
    }
  }

  /// Waits until the events emitted so far have been delivered, when the observer says
  /// they may not have been (see [`Delivered`]).
  pub(crate) async fn delivered(&self) {
    let pending = self
      .observer
      .delivered
      .as_ref()
      .and_then(|delivered| delivered());
    if let Some(pending) = pending {
      // Dropped (the environment going away) counts as delivered: the request goes on.
      let _ = pending.await;
    }
  }

  pub(crate) fn emit(&self, attempt: u32, kind: EventKind) {
    (self.observer.sink)(Event {
      operation: self.observer.operation,
      method: self.method.clone(),
      url: self.url.clone(),
      attempt,
      kind,
    });
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::client::{Client, PreparedRequest};
  use crate::config::{ClientConfig, ClientOptions, RequestOptions, Secret};
  use crate::phases::{PhaseAction, PhaseChange, PhaseRef};
  use std::io::{Read, Write};
  use std::net::TcpListener;
  use std::sync::Mutex;
  use std::time::{Instant, SystemTime, UNIX_EPOCH};

  const TOKEN: &str = "api-0123456789abcdef";

  /// What the test server does with one connection.
  enum Reply {
    /// Answer with this status, these headers and this body, then close.
    Answer(u16, Vec<(&'static str, String)>, &'static str),
    /// Read the request, answer nothing, and close when the client goes away.
    Silence,
  }

  fn answer(status: u16, headers: &[(&'static str, String)], body: &'static str) -> Reply {
    Reply::Answer(status, headers.to_vec(), body)
  }

  fn epoch_ms() -> u64 {
    SystemTime::now()
      .duration_since(UNIX_EPOCH)
      .unwrap()
      .as_millis() as u64
  }

  /// A server on 127.0.0.1 that takes one connection per reply, in order, and stops after
  /// the last one, or after 10 seconds whatever happens. Returns its URL and the
  /// requests it read (`METHOD /path`).
  fn serve(replies: Vec<Reply>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
      let deadline = Instant::now() + Duration::from_secs(10);
      for reply in replies {
        let mut stream = loop {
          match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(_) if Instant::now() < deadline => {
              std::thread::sleep(Duration::from_millis(2));
            }
            Err(_) => return,
          }
        };
        stream.set_nonblocking(false).unwrap();
        stream
          .set_read_timeout(Some(Duration::from_secs(5)))
          .unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
          match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&buf[..n]),
          }
        }
        let head = String::from_utf8_lossy(&request).to_string();
        let line = head.lines().next().unwrap_or_default();
        let target: Vec<&str> = line.split(' ').take(2).collect();
        log.lock().unwrap().push(target.join(" "));
        // The body (if any) is read, so closing does not reset the connection early.
        let length = head
          .lines()
          .find_map(|l| {
            l.to_ascii_lowercase()
              .strip_prefix("content-length:")
              .map(|v| v.trim().parse::<usize>().unwrap_or(0))
          })
          .unwrap_or(0);
        let have = request.len() - head.find("\r\n\r\n").map_or(request.len(), |i| i + 4);
        let mut rest = length.saturating_sub(have);
        while rest > 0 {
          match stream.read(&mut buf[..rest.min(4096)]) {
            Ok(0) | Err(_) => break,
            Ok(n) => rest -= n,
          }
        }
        match reply {
          Reply::Answer(status, headers, body) => {
            let mut text = format!(
              "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n",
              body.len()
            );
            for (name, value) in headers {
              text.push_str(&format!("{name}: {value}\r\n"));
            }
            text.push_str("\r\n");
            text.push_str(body);
            let _ = stream.write_all(text.as_bytes());
          }
          Reply::Silence => {
            let _ = stream.read(&mut buf);
          }
        }
      }
    });
    (url, seen)
  }

  fn client(url: &str) -> Client {
    let options = ClientOptions {
      api_key: Some(Secret::new(TOKEN)),
      base_url: Some(url.to_string()),
      ..Default::default()
    };
    Client::new(ClientConfig::resolve(&options, |_| None).unwrap()).unwrap()
  }

  /// Options whose observer records every event.
  fn watched(operation: &'static str) -> (RequestOptions, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let log = events.clone();
    let sink: Sink = Arc::new(move |event| log.lock().unwrap().push(event));
    let options = RequestOptions {
      observer: Some(Observer::new(operation, sink)),
      ..Default::default()
    };
    (options, events)
  }

  const RELEASE: &str = r#"{"name":"r","phases":[{"_id":"p0","_name":"QA","complete":false}]}"#;

  fn get(client: &Client, flag: &str) -> PreparedRequest {
    PreparedRequest::release(client.config(), Method::GET, "web", flag, None).unwrap()
  }

  fn kinds(events: &[Event]) -> Vec<(u32, usize)> {
    events.iter().map(|e| (e.attempt, e.kind.index())).collect()
  }

  #[test]
  fn an_observer_is_its_operation_and_its_sink() {
    let sink: Sink = Arc::new(|_| {});
    let observer = Observer::new("completePhase", sink.clone());
    assert_eq!(observer.operation(), "completePhase");
    assert_eq!(
      format!("{observer:?}"),
      r#"Observer { operation: "completePhase", .. }"#
    );
    assert_eq!(observer, observer.clone());
    // Equal only as clones of one another: the same sink under another name, or the
    // same name with another sink, is another observer.
    assert_ne!(observer, Observer::new("getRelease", sink));
    assert_ne!(observer, Observer::new("completePhase", Arc::new(|_| {})));
  }

  /// The words events use for reasons and sources: the names `ld-release:*` messages
  /// carry, which subscribers match on.
  #[test]
  fn reasons_and_sources_have_their_documented_words() {
    let failures = [Failure::Timeout, Failure::Network, Failure::TooLarge];
    assert_eq!(
      failures.map(Failure::as_str),
      ["timeout", "network", "too-large"]
    );
    let reasons = [
      RetryReason::Status(503),
      RetryReason::Timeout,
      RetryReason::Network,
    ];
    assert_eq!(
      reasons.map(RetryReason::as_str),
      ["status", "timeout", "network"]
    );
    let sources = [
      WaitSource::RetryAfter,
      WaitSource::RateLimitReset,
      WaitSource::Backoff,
    ];
    assert_eq!(
      sources.map(WaitSource::as_str),
      ["Retry-After", "X-Ratelimit-Reset", "backoff"]
    );
    assert_eq!(
      [Hold::Paused, Hold::Budget].map(Hold::as_str),
      ["paused", "budget"]
    );
  }

  #[tokio::test]
  async fn a_429_then_a_200() {
    let reset = epoch_ms() + 30_000;
    let (url, _) = serve(vec![
      answer(
        429,
        &[
          ("retry-after", "0".into()),
          ("x-ratelimit-route-remaining", "0".into()),
          ("x-ratelimit-global-remaining", "7".into()),
        ],
        r#"{"code":"rate_limited"}"#,
      ),
      answer(
        200,
        &[
          ("x-ratelimit-route-remaining", "4".into()),
          ("x-ratelimit-reset", reset.to_string()),
        ],
        RELEASE,
      ),
    ]);
    let client = client(&url);
    let (options, events) = watched("getRelease");
    client
      .send_release(get(&client, "f"), options)
      .await
      .unwrap();
    let events = events.lock().unwrap().clone();
    assert_eq!(kinds(&events), [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1)]);
    for event in &events {
      assert_eq!(event.operation, "getRelease");
      assert_eq!(event.method, Method::GET);
      assert_eq!(&*event.url, format!("{url}/api/v2/flags/web/f/release"));
    }
    let EventKind::Response {
      status,
      failure,
      rate_limit,
      will_retry,
      ..
    } = &events[1].kind
    else {
      panic!("{events:?}")
    };
    assert_eq!((*status, *failure, *will_retry), (Some(429), None, true));
    assert_eq!(
      rate_limit,
      &RateLimitHeaders {
        route_remaining: Some(0),
        global_remaining: Some(7),
        reset: None,
        retry_after: Some("0".into()),
      }
    );
    let EventKind::Retry {
      reason,
      wait_ms,
      source,
    } = events[2].kind
    else {
      panic!("{events:?}")
    };
    assert_eq!(reason, RetryReason::Status(429));
    assert_eq!(source, WaitSource::RetryAfter);
    assert!(wait_ms <= 50, "Retry-After: 0 plus jitter, got {wait_ms}");
    let EventKind::Response {
      status,
      will_retry,
      rate_limit,
      duration,
      ..
    } = &events[4].kind
    else {
      panic!("{events:?}")
    };
    assert_eq!((*status, *will_retry), (Some(200), false));
    assert_eq!(rate_limit.route_remaining, Some(4));
    assert_eq!(rate_limit.reset, Some(reset));
    assert!(*duration < Duration::from_secs(10));
  }

  #[tokio::test]
  async fn retries_say_where_their_wait_came_from() {
    let reset = epoch_ms() + 150;
    let (url, _) = serve(vec![
      answer(503, &[("x-ratelimit-reset", reset.to_string())], "{}"),
      answer(500, &[], "{}"),
      answer(200, &[], RELEASE),
    ]);
    let client = client(&url);
    let (options, events) = watched("getRelease");
    client
      .send_release(get(&client, "f"), options)
      .await
      .unwrap();
    let retries: Vec<(RetryReason, WaitSource, u64)> = events
      .lock()
      .unwrap()
      .iter()
      .filter_map(|e| match e.kind {
        EventKind::Retry {
          reason,
          source,
          wait_ms,
        } => Some((reason, source, wait_ms)),
        _ => None,
      })
      .collect();
    assert_eq!(retries.len(), 2, "{retries:?}");
    assert_eq!(
      (retries[0].0, retries[0].1),
      (RetryReason::Status(503), WaitSource::RateLimitReset)
    );
    assert!(retries[0].2 <= 150 + 50, "{retries:?}");
    // The second retry is the backoff of retry 2 (500 ms) with its jitter.
    assert_eq!(
      (retries[1].0, retries[1].1),
      (RetryReason::Status(500), WaitSource::Backoff)
    );
    assert!((500..=625).contains(&retries[1].2), "{retries:?}");
  }

  #[tokio::test]
  async fn a_timeout_and_a_refused_connection() {
    let (url, _) = serve(vec![Reply::Silence]);
    let client = client(&url);
    let (mut options, events) = watched("getRelease");
    options.timeout_ms = Some(100);
    options.max_retries = Some(0);
    let error = client
      .send_release(get(&client, "f"), options)
      .await
      .unwrap_err();
    assert_eq!(error.code, crate::error::ErrorCode::Timeout);
    let events = events.lock().unwrap().clone();
    assert_eq!(kinds(&events), [(1, 0), (1, 1)], "no retry is left");
    let EventKind::Response {
      status,
      failure,
      duration,
      will_retry,
      ..
    } = &events[1].kind
    else {
      panic!("{events:?}")
    };
    assert_eq!(
      (*status, *failure, *will_retry),
      (None, Some(Failure::Timeout), false)
    );
    assert!(*duration >= Duration::from_millis(100), "{duration:?}");

    // Nothing listens on this port once the listener is dropped.
    let port = TcpListener::bind("127.0.0.1:0")
      .unwrap()
      .local_addr()
      .unwrap()
      .port();
    let client = self::client(&format!("http://127.0.0.1:{port}"));
    let (mut options, events) = watched("deleteRelease");
    options.max_retries = Some(1);
    let request =
      PreparedRequest::release(client.config(), Method::DELETE, "web", "f", None).unwrap();
    assert!(client.send_no_content(request, options).await.is_err());
    let events = events.lock().unwrap().clone();
    assert_eq!(kinds(&events), [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1)]);
    assert!(events.iter().all(|e| e.method == Method::DELETE));
    assert!(matches!(
      events[2].kind,
      EventKind::Retry {
        reason: RetryReason::Network,
        source: WaitSource::Backoff,
        ..
      }
    ));
    assert!(matches!(
      events[4].kind,
      EventKind::Response {
        failure: Some(Failure::Network),
        will_retry: false,
        ..
      }
    ));
  }

  #[tokio::test]
  async fn the_gate_reports_its_waits() {
    // A second ahead, so that a slow machine still sees the window open when it reads it.
    let reset = epoch_ms() + 1000;
    let (url, seen) = serve(vec![
      answer(
        200,
        &[
          ("x-ratelimit-route-remaining", "0".into()),
          ("x-ratelimit-reset", reset.to_string()),
        ],
        RELEASE,
      ),
      answer(200, &[], RELEASE),
    ]);
    let client = client(&url);
    let (options, events) = watched("getRelease");
    client
      .send_release(get(&client, "a"), options.clone())
      .await
      .unwrap();
    let started = Instant::now();
    client
      .send_release(get(&client, "b"), options)
      .await
      .unwrap();
    let elapsed = started.elapsed();
    let events = events.lock().unwrap().clone();
    assert_eq!(kinds(&events), [(1, 0), (1, 1), (1, 3), (1, 0), (1, 1)]);
    let EventKind::Wait { wait_ms, reason } = events[2].kind else {
      panic!("{events:?}")
    };
    assert_eq!(reason, Hold::Budget);
    assert!((1..=1100).contains(&wait_ms), "{wait_ms}");
    assert!(
      elapsed >= Duration::from_millis(wait_ms),
      "held as long as it said"
    );
    assert!(events[2].url.ends_with("/flags/web/b/release"));
    assert_eq!(seen.lock().unwrap().len(), 2);
  }

  #[tokio::test]
  async fn every_request_of_an_operation_carries_its_name() {
    let (url, seen) = serve(vec![answer(200, &[], RELEASE), answer(200, &[], RELEASE)]);
    let client = client(&url);
    let (options, events) = watched("completePhase");
    let change = PhaseChange {
      project_key: "web".into(),
      flag_key: "f".into(),
      phase: PhaseRef::Name("QA".into()),
      action: PhaseAction::Complete,
    };
    client.change_phase(change, options).await.unwrap();
    assert_eq!(
      *seen.lock().unwrap(),
      [
        "GET /api/v2/flags/web/f/release",
        "PATCH /api/v2/flags/web/f/release"
      ]
    );
    let events = events.lock().unwrap().clone();
    let requests: Vec<(&str, Method)> = events
      .iter()
      .filter(|e| e.kind == EventKind::Request)
      .map(|e| (e.operation, e.method.clone()))
      .collect();
    assert_eq!(
      requests,
      [
        ("completePhase", Method::GET),
        ("completePhase", Method::PATCH)
      ]
    );
  }

  #[tokio::test]
  async fn the_token_never_appears() {
    let (url, _) = serve(vec![
      answer(
        429,
        &[("retry-after", format!("0, {TOKEN}, {}", &TOKEN[2..12]))],
        "{}",
      ),
      answer(200, &[], RELEASE),
    ]);
    let client = client(&url);
    let (options, events) = watched("getRelease");
    client
      .send_release(get(&client, TOKEN), options)
      .await
      .unwrap();
    let text = format!("{:?}", events.lock().unwrap());
    assert!(text.contains("****cdef"), "{text}");
    for piece in TOKEN.as_bytes().windows(8) {
      let piece = std::str::from_utf8(piece).unwrap();
      assert!(!text.contains(piece), "{piece} in {text}");
    }
  }
}
