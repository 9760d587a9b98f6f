//! HTTP: one connection pool per client, the exact headers, retries and limits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Once};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, Url};

use crate::config::{ClientConfig, ClientOptions, RequestOptions};
use crate::error::{ErrorCode, LdError, Result};
use crate::events::{Emitter, EventKind, Failure, RateLimitHeaders, RetryReason, WaitSource};
use crate::limiter::{Limiter, Observation, Permit};
use crate::patch::PatchOperation;
use crate::release::{PipelineKind, Release};

/// The largest response body read; anything larger fails with `ERR_LD_RESPONSE_TOO_LARGE`.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// How much of an error body is kept for the message.
const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;
/// The longest single wait between attempts; a server asking for more fails the call.
pub const MAX_WAIT_MS: u64 = 60_000;
/// The longest a request waits at the rate-limit gate: a whole minute's window (as
/// recorded for the token's limit) and the gate's margin after its reset. A longer hold
/// fails the call at once, unsent, with `retryAfterMs`.
const GATE_LIMIT: Duration = Duration::from_millis(MAX_WAIT_MS + crate::limiter::RESET_MARGIN_MS);
/// First backoff step when the server gives no hint; doubles per retry.
const BACKOFF_BASE_MS: u64 = 250;
const BACKOFF_CAP_MS: u64 = 10_000;
pub const API_VERSION_HEADER: &str = "LD-API-Version";
pub const METHOD_OVERRIDE_HEADER: &str = "X-HTTP-Method-Override";

/// A request ready to send: validated, with its URL and body built.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedRequest {
  pub method: Method,
  pub url: Url,
  pub body: Option<Vec<u8>>,
}

impl PreparedRequest {
  /// A request to `/api/v2/flags/{projectKey}/{flagKey}/release`.
  pub fn release(
    config: &ClientConfig,
    method: Method,
    project_key: &str,
    flag_key: &str,
    patch: Option<&[PatchOperation]>,
  ) -> Result<Self> {
    crate::config::validate_key("projectKey", project_key)?;
    crate::config::validate_key("flagKey", flag_key)?;
    let body = patch
      .map(serde_json::to_vec)
      .transpose()
      .map_err(|e| LdError::invalid(format!("patch could not be encoded: {e}")))?;
    Ok(PreparedRequest {
      method,
      url: config.release_url(project_key, flag_key),
      body,
    })
  }

  /// `PUT /api/v2/projects/{projectKey}/flags/{flagKey}/release`: starts a release.
  /// `input` is sent as it is (`{ releasePipelineKey, releaseVariationId? }`); its
  /// `releasePipelineKey` must be a non-empty string.
  pub fn create_release(
    config: &ClientConfig,
    project_key: &str,
    flag_key: &str,
    input: &serde_json::Value,
  ) -> Result<Self> {
    crate::config::validate_key("projectKey", project_key)?;
    crate::config::validate_key("flagKey", flag_key)?;
    let pipeline = input
      .get("releasePipelineKey")
      .and_then(serde_json::Value::as_str)
      .unwrap_or_default();
    crate::config::validate_key("releasePipelineKey", pipeline)?;
    Ok(PreparedRequest {
      method: Method::PUT,
      url: config.url_for(&[
        "api",
        "v2",
        "projects",
        project_key,
        "flags",
        flag_key,
        "release",
      ]),
      body: Some(encode(input)?),
    })
  }

  /// `PUT /api/v2/projects/{projectKey}/flags/{flagKey}/release/phases/{phaseId}`, with
  /// `input` (`{ status?, audiences? }`) sent as it is.
  pub fn update_phase_status(
    config: &ClientConfig,
    project_key: &str,
    flag_key: &str,
    phase_id: &str,
    input: &serde_json::Value,
  ) -> Result<Self> {
    crate::config::validate_key("projectKey", project_key)?;
    crate::config::validate_key("flagKey", flag_key)?;
    crate::config::validate_key("phaseId", phase_id)?;
    let segments = [
      "api",
      "v2",
      "projects",
      project_key,
      "flags",
      flag_key,
      "release",
      "phases",
      phase_id,
    ];
    Ok(PreparedRequest {
      method: Method::PUT,
      url: config.url_for(&segments),
      body: Some(encode(input)?),
    })
  }

  /// `GET /api/v2/projects/{projectKey}/release-pipelines/{pipelineKey}`.
  pub fn release_pipeline(
    config: &ClientConfig,
    project_key: &str,
    pipeline_key: &str,
  ) -> Result<Self> {
    crate::config::validate_key("projectKey", project_key)?;
    crate::config::validate_key("releasePipelineKey", pipeline_key)?;
    Ok(PreparedRequest {
      method: Method::GET,
      url: config.url_for(&[
        "api",
        "v2",
        "projects",
        project_key,
        "release-pipelines",
        pipeline_key,
      ]),
      body: None,
    })
  }

  /// `PATCH /api/v2/flags/web/checkout/release`: how errors name the request.
  fn describe(&self) -> String {
    format!("{} {}", self.method, self.url.path())
  }
}

fn encode(value: &impl serde::Serialize) -> Result<Vec<u8>> {
  serde_json::to_vec(value)
    .map_err(|e| LdError::invalid(format!("the request body could not be encoded: {e}")))
}

/// What would be sent, with the token masked: for dry runs and logs.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestPreview {
  pub method: String,
  pub url: String,
  pub headers: Vec<(String, String)>,
  pub body: Option<String>,
}

/// A client: one connection pool, one rate-limit gate and one configuration.
#[derive(Debug, Clone)]
pub struct Client {
  http: reqwest::Client,
  config: ClientConfig,
  limiter: Arc<Limiter>,
  kinds: Arc<Mutex<Kinds>>,
  /// Where requests go, for errors: `host:port`, and the proxy when one is used
  /// (`app.launchdarkly.com:443 through the proxy http://proxy.corp:3128`).
  destination: Arc<str>,
}

/// How many pipelines, and flags' pipelines, a client remembers before it starts over.
const MAX_REMEMBERED: usize = 10_000;

/// What a client has learnt of release pipelines: each pipeline's kind, and the
/// pipeline of each flag's release it has read.
#[derive(Debug, Default)]
struct Kinds {
  /// (projectKey, pipelineKey) -> kind
  pipelines: HashMap<(String, String), PipelineKind>,
  /// (projectKey, flagKey) -> pipelineKey
  flags: HashMap<(String, String), String>,
  /// Reads of a pipeline under way, shared by the calls that wait for them: when the
  /// read ended, and its result.
  reading: HashMap<(String, String), Arc<KindRead>>,
}

type KindRead = tokio::sync::Mutex<Option<(Instant, Result<PipelineKind>)>>;

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
  mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// About how much native memory one client holds (its connection pool, connector, gate
/// and settings, without open connections): what is reported to V8 for each
/// `ReleaseClient`, so that garbage collection runs before clients pile up (about 5 KB
/// measured on Linux x64 with the TLS settings shared; rounded up).
pub const CLIENT_NATIVE_BYTES: i64 = 8 * 1024;

/// How long an idle connection is kept for the next request before it is closed: long
/// enough for calls in a loop or a bulk run to reuse it, short enough that clients made
/// and dropped in numbers (one per call) do not hold sockets until garbage collection.
pub const IDLE_KEEP_ALIVE: Duration = Duration::from_secs(4);

fn install_crypto_provider() {
  static ONCE: Once = Once::new();
  ONCE.call_once(|| {
    // Another library in the process may have installed one already; either is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
  });
}

impl Client {
  /// A client for `config`. The TLS settings (the system's roots and those of
  /// `NODE_EXTRA_CA_CERTS`) are shared by every client of the process; proxies come
  /// from the environment as it is now. Redirects are never followed (see `http_error`).
  pub fn new(config: ClientConfig) -> Result<Self> {
    install_crypto_provider();
    let build_failed = |e: &dyn std::fmt::Display| {
      LdError::new(
        ErrorCode::Network,
        format!("could not build HTTP client: {e}"),
      )
    };
    let tls = crate::tls::client_config(std::env::var(crate::tls::EXTRA_CA_ENV).ok().as_deref())
      .map_err(|e| build_failed(&e))?;
    let http = reqwest::Client::builder()
      .tls_backend_preconfigured(tls)
      .redirect(reqwest::redirect::Policy::none())
      .user_agent(config.user_agent.clone())
      .connect_timeout(config.timeout.min(Duration::from_secs(10)))
      .pool_idle_timeout(IDLE_KEEP_ALIVE)
      .tcp_nodelay(true)
      .build()
      .map_err(|e| build_failed(&e))?;
    Ok(Client {
      http,
      destination: destination(&config.base_url).into(),
      config,
      limiter: Arc::new(Limiter::new()),
      kinds: Arc::default(),
    })
  }

  /// A client for `options`, with the environment filling in what they leave out.
  pub fn from_options(options: &ClientOptions) -> Result<Self> {
    Client::new(ClientConfig::resolve(options, |name| {
      std::env::var(name).ok()
    })?)
  }

  /// The shared client for `options` and the environment: one per distinct
  /// configuration (token, base URL, user agent, ...), so module-level calls reuse
  /// connection pools and one rate-limit gate.
  pub fn shared(options: &ClientOptions) -> Result<Arc<Self>> {
    const MAX_SHARED_CLIENTS: usize = 32;
    static CLIENTS: LazyLock<Mutex<HashMap<ClientConfig, Arc<Client>>>> =
      LazyLock::new(|| Mutex::new(HashMap::new()));
    let config = ClientConfig::resolve(options, |name| std::env::var(name).ok())?;
    let mut clients = CLIENTS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(client) = clients.get(&config) {
      return Ok(client.clone());
    }
    if clients.len() >= MAX_SHARED_CLIENTS {
      clients.clear();
    }
    let client = Arc::new(Client::new(config.clone())?);
    clients.insert(config, client.clone());
    Ok(client)
  }

  pub fn config(&self) -> &ClientConfig {
    &self.config
  }

  /// The method sent for `request`, and the method it stands for when overridden.
  fn wire_method(&self, request: &PreparedRequest) -> (Method, Option<&'static str>) {
    if self.config.method_override && request.method == Method::PATCH {
      (Method::POST, Some("PATCH"))
    } else {
      (request.method.clone(), None)
    }
  }

  /// The headers of a request; the token is marked sensitive.
  fn headers(&self, with_body: bool) -> Result<HeaderMap> {
    let key = self.config.require_api_key()?;
    let mut headers = HeaderMap::with_capacity(4);
    let mut auth = HeaderValue::from_str(key.expose()).map_err(|_| {
      LdError::invalid("apiKey holds characters that cannot be sent in an HTTP header")
    })?;
    auth.set_sensitive(true);
    headers.insert(AUTHORIZATION, auth);
    headers.insert(API_VERSION_HEADER, HeaderValue::from_static("beta"));
    headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
    if with_body {
      headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    Ok(headers)
  }

  /// What `send` would put on the wire, with the token masked. Needs no token.
  pub fn preview(&self, request: &PreparedRequest) -> RequestPreview {
    let token = self
      .config
      .api_key
      .as_ref()
      .map_or_else(|| "(not set)".to_string(), |k| k.masked());
    let mut headers = vec![
      ("Authorization".to_string(), token),
      (API_VERSION_HEADER.to_string(), "beta".to_string()),
      ("Accept".to_string(), "application/json".to_string()),
      ("User-Agent".to_string(), self.config.user_agent.clone()),
    ];
    if request.body.is_some() {
      headers.push(("Content-Type".to_string(), "application/json".to_string()));
    }
    let (method, overridden) = self.wire_method(request);
    if let Some(original) = overridden {
      headers.push((METHOD_OVERRIDE_HEADER.to_string(), original.to_string()));
    }
    RequestPreview {
      method: method.to_string(),
      url: request.url.to_string(),
      headers,
      body: request
        .body
        .as_ref()
        .map(|b| String::from_utf8_lossy(b).into_owned()),
    }
  }

  /// Sends the request, retrying as documented, and checks that the answer is a JSON
  /// object (see `release`). Dropping the future cancels the call at once, closing the
  /// connection it was using.
  pub async fn send_release(
    &self,
    request: PreparedRequest,
    options: RequestOptions,
  ) -> Result<Release> {
    let success = self.send(&request, options).await?;
    Release::from_body(success.body, success.status)
      .map(|release| {
        release
          .with_attempts(success.attempts)
          .with_server_date(success.server_date_ms)
      })
      .map_err(|e| {
        self.mask_error(LdError {
          attempts: success.attempts,
          ..e
        })
      })
  }

  /// Sends the request, retrying as documented, and returns a 2xx answer's body and
  /// status as they came.
  pub async fn send_raw(
    &self,
    request: &PreparedRequest,
    options: RequestOptions,
  ) -> Result<(Vec<u8>, u16)> {
    self
      .send(request, options)
      .await
      .map(|success| (success.body, success.status))
  }

  /// The kind of release pipeline `pipeline_key` is, read from
  /// `GET /api/v2/projects/{projectKey}/release-pipelines/{key}` (`_isLegacy`) and
  /// remembered per client once known. Calls that ask at the same time share one read.
  /// A read the server refuses (403, 404), or an answer without `_isLegacy`, gives
  /// `Unknown`, which is not remembered: a later call reads the pipeline again. Any other
  /// failure fails the call.
  pub async fn pipeline_kind(
    &self,
    project_key: &str,
    pipeline_key: &str,
    options: RequestOptions,
  ) -> Result<PipelineKind> {
    let cache_key = (project_key.to_string(), pipeline_key.to_string());
    if let Some(kind) = self.remembered_kind(project_key, pipeline_key) {
      return Ok(kind);
    }
    let asked = Instant::now();
    let slot = lock(&self.kinds)
      .reading
      .entry(cache_key.clone())
      .or_default()
      .clone();
    let mut read = slot.lock().await;
    // A read that ended while this call waited for it is this call's answer too.
    if let Some((at, result)) = read.as_ref() {
      if *at >= asked {
        return result.clone();
      }
    }
    if let Some(kind) = self.remembered_kind(project_key, pipeline_key) {
      return Ok(kind);
    }
    let request = PreparedRequest::release_pipeline(&self.config, project_key, pipeline_key)?;
    let result = match self.send(&request, options).await {
      Ok(success) => Ok(PipelineKind::from_pipeline_body(&success.body)),
      Err(e) if matches!(e.code, ErrorCode::Forbidden | ErrorCode::NotFound) => {
        Ok(PipelineKind::Unknown)
      }
      Err(e) => Err(e),
    };
    if let Ok(kind) = result {
      self.remember_kind(project_key, pipeline_key, kind);
    }
    *read = Some((Instant::now(), result.clone()));
    let mut kinds = lock(&self.kinds);
    if kinds
      .reading
      .get(&cache_key)
      .is_some_and(|current| Arc::ptr_eq(current, &slot))
    {
      kinds.reading.remove(&cache_key);
    }
    result
  }

  /// Notes the kind of a pipeline, unless one is already known. `Unknown` is not noted.
  pub fn remember_kind(&self, project_key: &str, pipeline_key: &str, kind: PipelineKind) {
    if kind == PipelineKind::Unknown {
      return;
    }
    let key = (project_key.to_string(), pipeline_key.to_string());
    let mut kinds = lock(&self.kinds);
    if kinds.pipelines.contains_key(&key) {
      return;
    }
    if kinds.pipelines.len() >= MAX_REMEMBERED {
      kinds.pipelines.clear();
    }
    kinds.pipelines.insert(key, kind);
  }

  /// The pipeline a flag's release was last seen in, if this client has seen it.
  pub fn remembered_pipeline(&self, project_key: &str, flag_key: &str) -> Option<String> {
    let key = (project_key.to_string(), flag_key.to_string());
    lock(&self.kinds).flags.get(&key).cloned()
  }

  /// The kind of a pipeline this client has already read, without sending anything.
  pub fn remembered_kind(&self, project_key: &str, pipeline_key: &str) -> Option<PipelineKind> {
    let key = (project_key.to_string(), pipeline_key.to_string());
    lock(&self.kinds).pipelines.get(&key).copied()
  }

  /// Notes (or, with `None`, forgets) the pipeline of a flag's release.
  pub fn remember_pipeline(&self, project_key: &str, flag_key: &str, pipeline: Option<&str>) {
    let key = (project_key.to_string(), flag_key.to_string());
    let mut kinds = lock(&self.kinds);
    match pipeline {
      Some(pipeline) => {
        if kinds.flags.len() >= MAX_REMEMBERED {
          kinds.flags.clear();
        }
        kinds.flags.insert(key, pipeline.to_string());
      }
      None => {
        kinds.flags.remove(&key);
      }
    }
  }

  /// `error` with the token masked in every text it carries. Every error a request
  /// ends with passes here (see `send`).
  pub(crate) fn mask_error(&self, error: LdError) -> LdError {
    match &self.config.api_key {
      Some(key) => crate::redact::mask_error(key.expose(), error),
      None => error,
    }
  }

  /// Sends a request whose answer has no body to read (`204 No Content`).
  pub async fn send_no_content(
    &self,
    request: PreparedRequest,
    options: RequestOptions,
  ) -> Result<()> {
    self.send(&request, options).await.map(|_| ())
  }

  /// Sends `request` with retries. Every error it ends with has the token masked.
  async fn send(&self, request: &PreparedRequest, options: RequestOptions) -> Result<Success> {
    self
      .send_with_retries(request, options, None)
      .await
      .map_err(|e| self.mask_error(e))
  }

  /// Sends a request that must not be applied twice (a start): it is sent again only
  /// when it certainly did not reach the server (no connection could be made, or a
  /// 429). Returns a 2xx answer's body, status and attempts; or the error, and whether
  /// the request may have reached the server (a timeout, a dropped connection, a 5xx).
  pub async fn send_once(
    &self,
    request: &PreparedRequest,
    options: RequestOptions,
  ) -> std::result::Result<(Vec<u8>, u16, u32), (LdError, bool)> {
    let reached = AtomicBool::new(false);
    match self
      .send_with_retries(request, options, Some(&reached))
      .await
    {
      Ok(success) => Ok((success.body, success.status, success.attempts)),
      Err(e) => Err((self.mask_error(e), reached.load(Ordering::Relaxed))),
    }
  }

  /// `once`: the request is not idempotent (see `send_once`); set when the attempt the
  /// call ends with may have reached the server.
  async fn send_with_retries(
    &self,
    request: &PreparedRequest,
    options: RequestOptions,
    once: Option<&AtomicBool>,
  ) -> Result<Success> {
    let headers = self.headers(request.body.is_some())?;
    let timeout = options
      .timeout_ms
      .map_or(self.config.timeout, Duration::from_millis);
    let max_retries = options.max_retries.unwrap_or(self.config.max_retries);
    let events = options.observer.as_ref().map(|observer| {
      let url = self.mask_text(request.url.as_str());
      Emitter::new(observer, self.wire_method(request).0, url)
    });
    let emit = |attempt: u32, kind: EventKind| {
      if let Some(events) = &events {
        events.emit(attempt, kind);
      }
    };
    let route = crate::limiter::route_of(request.method.as_str(), request.url.path());
    let mut attempts: u32 = 0;
    loop {
      // The gate's wait counts toward no timeout and no attempt, and follows the rule of
      // 429 waits: longer than MAX_WAIT_MS fails at once.
      let gate = self
        .limiter
        .acquire_on(&route, GATE_LIMIT, |wait, reason| {
          let wait_ms = duration_ms(wait);
          emit(attempts + 1, EventKind::Wait { wait_ms, reason });
        })
        .await;
      let permit = match gate {
        Ok(permit) => permit,
        Err(wait) => {
          let wait_ms = duration_ms(wait);
          let error = LdError {
            retry_after_ms: Some(wait_ms),
            ..LdError::new(
              ErrorCode::RateLimited,
              format!(
                "{} was not sent: LaunchDarkly's rate limit holds this client's requests for {} s, longer than the {} s a call waits",
                request.describe(),
                wait_ms.div_ceil(1000),
                MAX_WAIT_MS / 1000
              ),
            )
          };
          return Err(finish(error, attempts, ""));
        }
      };
      attempts += 1;
      emit(attempts, EventKind::Request);
      if let Some(events) = &events {
        // Announced before it leaves: whoever watches sees the request first.
        events.delivered().await;
      }
      let started = Instant::now();
      let outcome = match tokio::time::timeout(timeout, self.attempt(request, &headers)).await {
        Ok(outcome) => outcome,
        Err(_) => Err(AttemptError::Timeout),
      };
      let duration = started.elapsed();
      let may_have_reached = match &outcome {
        Ok(answer) => {
          crate::deprecation::observe(&request.method, request.url.path(), &answer.headers, |t| {
            self.mask_text(t)
          });
          answer.status >= 500
        }
        Err(AttemptError::Network { connect, .. }) => !connect,
        Err(AttemptError::Timeout) => true,
        // A 2xx: applied, though its answer cannot be read.
        Err(AttemptError::TooLarge(_)) => true,
      };
      if let Some(once) = once {
        once.store(may_have_reached, Ordering::Relaxed);
      }
      // What the Response event says of the attempt, read before the outcome is used up.
      let seen = events.as_ref().map(|_| match &outcome {
        Ok(answer) => (
          Some(answer.status),
          None,
          RateLimitHeaders::from_headers(&answer.headers, |text| self.mask_text(text)),
        ),
        Err(AttemptError::TooLarge(status)) => {
          (Some(*status), Some(Failure::TooLarge), Default::default())
        }
        Err(AttemptError::Timeout) => (None, Some(Failure::Timeout), Default::default()),
        Err(AttemptError::Network { .. }) => (None, Some(Failure::Network), Default::default()),
      });
      let next = self.judge(request, outcome, permit, attempts, timeout);
      let retry = match &next {
        Next::Retry {
          wait: Some((wait, source)),
          reason,
          ..
        } if attempts <= max_retries && !(once.is_some() && may_have_reached) => {
          Some((*wait, *source, *reason))
        }
        _ => None,
      };
      if let Some((status, failure, rate_limit)) = seen {
        emit(
          attempts,
          EventKind::Response {
            status,
            failure,
            duration,
            rate_limit,
            will_retry: retry.is_some(),
          },
        );
      }
      match (next, retry) {
        (Next::Return(result), _) => return result,
        (Next::Retry { .. }, Some((wait, source, reason))) => {
          let wait_ms = with_jitter(wait);
          emit(
            attempts,
            EventKind::Retry {
              reason,
              wait_ms,
              source,
            },
          );
          tokio::time::sleep(Duration::from_millis(wait_ms)).await;
        }
        (Next::Retry { mut error, .. }, None) => {
          error.attempts = attempts;
          return Err(finish(error, attempts, ""));
        }
      }
    }
  }

  /// What an attempt's outcome means for the call: its result, or an error that may be
  /// retried after a wait (`None`: it may not). Reports the answer to the gate.
  fn judge(
    &self,
    request: &PreparedRequest,
    outcome: std::result::Result<Answer, AttemptError>,
    permit: Permit<'_>,
    attempts: u32,
    timeout: Duration,
  ) -> Next {
    match outcome {
      Ok(answer) if (200..300).contains(&answer.status) => {
        permit.observe(Observation::from_headers(&answer.headers, now_ms()));
        Next::Return(Ok(Success {
          status: answer.status,
          server_date_ms: server_date_ms(&answer.headers),
          body: answer.body,
          attempts,
        }))
      }
      Ok(answer) => {
        let error = http_error(request, &answer);
        let retryable = is_retryable_status(answer.status);
        let reason = RetryReason::Status(answer.status);
        let now = now_ms();
        let advised = advised_wait(&answer.headers, now);
        let backoff = (backoff_ms(attempts), WaitSource::Backoff);
        let mut seen = Observation::from_headers(&answer.headers, now);
        // After a 429: the advised wait, floored when its reset is past, else a default
        // longer than a 5xx's backoff (both get jitter when the retry waits).
        let advised = if answer.status == 429 {
          advised.map(floor_past_reset)
        } else {
          advised
        };
        let backoff = if answer.status == 429 {
          (rate_limited_backoff_ms(attempts), WaitSource::Backoff)
        } else {
          backoff
        };
        if answer.status == 429 {
          let pause = advised.unwrap_or(backoff).0.min(MAX_WAIT_MS);
          seen.pause = Some(Duration::from_millis(pause));
        }
        permit.observe(seen);
        if answer.status == 429 {
          let error = LdError {
            retry_after_ms: Some(advised.unwrap_or(backoff).0),
            ..error
          };
          if advised.is_some_and(|(ms, _)| ms > MAX_WAIT_MS) {
            return Next::Return(Err(finish(
              error,
              attempts,
              "the server asked to wait longer than 60 s",
            )));
          }
          Next::Retry {
            error,
            wait: retryable.then(|| advised.unwrap_or(backoff)),
            reason,
          }
        } else {
          let wait = advised
            .filter(|(ms, _)| *ms <= MAX_WAIT_MS)
            .unwrap_or(backoff);
          Next::Retry {
            error,
            wait: retryable.then_some(wait),
            reason,
          }
        }
      }
      Err(AttemptError::TooLarge(status)) => Next::Return(Err(finish(
        LdError {
          status: Some(status),
          ..LdError::new(
            ErrorCode::ResponseTooLarge,
            format!(
              "The response to {} is larger than {} MiB; it was not read",
              request.describe(),
              MAX_BODY_BYTES / (1024 * 1024)
            ),
          )
        },
        attempts,
        "",
      ))),
      Err(AttemptError::Timeout) => Next::Retry {
        error: LdError::new(
          ErrorCode::Timeout,
          format!(
            "{} to {} timed out after {} ms",
            request.describe(),
            self.destination,
            timeout.as_millis()
          ),
        ),
        wait: Some((backoff_ms(attempts), WaitSource::Backoff)),
        reason: RetryReason::Timeout,
      },
      Err(AttemptError::Network { connect, why }) => {
        let message = if connect {
          format!(
            "{}: connecting to {} failed: {why}",
            request.describe(),
            self.destination
          )
        } else {
          format!(
            "{} to {} failed: {why}",
            request.describe(),
            self.destination
          )
        };
        Next::Retry {
          error: LdError::new(ErrorCode::Network, message),
          wait: Some((backoff_ms(attempts), WaitSource::Backoff)),
          reason: RetryReason::Network,
        }
      }
    }
  }

  /// `text` with this client's token masked in it (see `redact::mask_in`).
  fn mask_text(&self, text: &str) -> String {
    match &self.config.api_key {
      Some(key) => key.mask_in(text),
      None => text.to_string(),
    }
  }

  async fn attempt(
    &self,
    request: &PreparedRequest,
    headers: &HeaderMap,
  ) -> std::result::Result<Answer, AttemptError> {
    let (method, overridden) = self.wire_method(request);
    let mut builder = self
      .http
      .request(method, request.url.clone())
      .headers(headers.clone());
    if let Some(original) = overridden {
      builder = builder.header(METHOD_OVERRIDE_HEADER, original);
    }
    if let Some(body) = &request.body {
      builder = builder.body(body.clone());
    }
    if request.method != Method::GET {
      // From here, a write may reach the server: a run stopped now does not know its
      // outcome.
      crate::bulk::note_write();
    }
    let mut response = builder.send().await.map_err(AttemptError::network)?;
    let status = response.status().as_u16();
    let success = (200..300).contains(&status);
    let limit = if success {
      MAX_BODY_BYTES
    } else {
      MAX_ERROR_BODY_BYTES
    };
    if success && response.content_length().is_some_and(|n| n > limit as u64) {
      return Err(AttemptError::TooLarge(status));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(AttemptError::network)? {
      if body.len() + chunk.len() > limit {
        if success {
          return Err(AttemptError::TooLarge(status));
        }
        body.extend_from_slice(&chunk[..limit - body.len()]);
        break;
      }
      body.extend_from_slice(&chunk);
    }
    Ok(Answer {
      status,
      headers: response.headers().clone(),
      body,
    })
  }
}

/// What a call does after an attempt.
enum Next {
  /// It ends with this.
  Return(Result<Success>),
  /// It fails with `error`, unless retried after `wait` (when there is one) while
  /// retries are left.
  Retry {
    error: LdError,
    wait: Option<(u64, WaitSource)>,
    reason: RetryReason,
  },
}

fn duration_ms(duration: Duration) -> u64 {
  duration.as_millis().min(u128::from(u64::MAX)) as u64
}

/// A 2xx answer and how many requests it took.
struct Success {
  status: u16,
  body: Vec<u8>,
  attempts: u32,
  /// Its `Date` header, in Unix ms.
  server_date_ms: Option<u64>,
}

/// The time an answer's `Date` header says (an HTTP date, to the second), in Unix ms;
/// `None` without one, or when it is not an HTTP date.
pub fn server_date_ms(headers: &HeaderMap) -> Option<u64> {
  let text = headers.get(reqwest::header::DATE)?.to_str().ok()?;
  let date = httpdate::parse_http_date(text.trim()).ok()?;
  Some(date.duration_since(UNIX_EPOCH).ok()?.as_millis() as u64)
}

struct Answer {
  status: u16,
  headers: HeaderMap,
  body: Vec<u8>,
}

enum AttemptError {
  Timeout,
  /// A 2xx answer (its status) whose body is over the limit.
  TooLarge(u16),
  /// No answer: `connect` when no connection could be made (refused, DNS, TLS, proxy).
  Network {
    connect: bool,
    why: String,
  },
}

impl AttemptError {
  fn network(error: reqwest::Error) -> Self {
    AttemptError::Network {
      connect: error.is_connect(),
      why: describe_transport_error(&error),
    }
  }
}

/// `host:port` of `url`, and the proxy that requests to it go through when the
/// environment names one, without any credentials: how errors say where they went.
fn destination(url: &Url) -> String {
  let host_port = |host: &str, port: Option<u16>| match port {
    Some(port) => format!("{host}:{port}"),
    None => host.to_string(),
  };
  let target = host_port(url.host_str().unwrap_or(""), url.port_or_known_default());
  let proxy = url.as_str().parse::<http::Uri>().ok().and_then(|uri| {
    let intercept = hyper_util::client::proxy::matcher::Matcher::from_system().intercept(&uri)?;
    let proxy = intercept.uri();
    let scheme = proxy.scheme_str().unwrap_or("http");
    let default_port = if scheme == "https" { 443 } else { 80 };
    Some(format!(
      "{scheme}://{}",
      host_port(
        proxy.host()?,
        Some(proxy.port_u16().unwrap_or(default_port))
      )
    ))
  });
  match proxy {
    Some(proxy) => format!("{target} through the proxy {proxy}"),
    None => target,
  }
}

fn finish(mut error: LdError, attempts: u32, why: &str) -> LdError {
  error.attempts = attempts;
  let plural = if attempts == 1 { "" } else { "s" };
  if !why.is_empty() {
    error.message = format!("{} ({why})", error.message);
  }
  if attempts > 0 {
    error.message = format!("{} [{attempts} attempt{plural}]", error.message);
  }
  error
}

/// The chain of causes of a transport error, without the URL (errors name the host and
/// port themselves) and without the wrappers that only say which layer failed.
fn describe_transport_error(error: &reqwest::Error) -> String {
  const WRAPPERS: [&str; 3] = [
    "client error (Connect)",
    "tcp connect error",
    "error sending request",
  ];
  let mut parts = Vec::new();
  let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
  while let Some(cause) = source {
    let text = cause.to_string();
    if !parts.contains(&text) && !WRAPPERS.iter().any(|w| text.starts_with(w)) {
      parts.push(text);
    }
    source = cause.source();
  }
  if parts.is_empty() {
    let kind = if error.is_connect() {
      "connection failed"
    } else if error.is_body() || error.is_decode() {
      "the response body could not be read"
    } else {
      "request failed"
    };
    return kind.to_string();
  }
  parts.join(": ")
}

fn is_retryable_status(status: u16) -> bool {
  matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// The `LdError` for a non-2xx answer, with what the body says.
///
/// A 3xx answer is an error too (`ERR_LD_HTTP`): redirects are never followed, so a
/// write is never turned into a read of the redirect's target, and no request leaves for
/// a host the caller did not name. The message names where the redirect pointed (its
/// origin only, without credentials) instead of quoting the body.
fn http_error(request: &PreparedRequest, answer: &Answer) -> LdError {
  let code = ErrorCode::for_status(answer.status);
  let (api_code, api_message) = api_error_fields(&answer.body);
  let reason = reqwest::StatusCode::from_u16(answer.status)
    .ok()
    .and_then(|s| s.canonical_reason())
    .unwrap_or("");
  let redirect = (300..400).contains(&answer.status);
  let detail = match (&api_code, &api_message) {
    (Some(c), Some(m)) => format!("{c}: {m}"),
    (None, Some(m)) => m.clone(),
    (Some(c), None) => c.clone(),
    (None, None) if redirect => String::new(),
    (None, None) => body_excerpt(&answer.body),
  };
  let mut message = format!(
    "LaunchDarkly answered {} {reason} to {}",
    answer.status,
    request.describe()
  );
  if !detail.is_empty() {
    message.push_str(": ");
    message.push_str(&detail);
  }
  if code == ErrorCode::Forbidden && api_message.is_none() {
    message.push_str(" (the release endpoints need the LD-API-Version: beta header and a token with access to the project)");
  }
  let beta_refusal = matches!(answer.status, 400 | 403 | 404)
    && api_message.as_deref().is_some_and(says_beta_header_missing);
  if beta_refusal {
    return LdError {
      status: Some(answer.status),
      api_code,
      api_message,
      ..LdError::new(
        ErrorCode::BetaHeaderMissing,
        format!(
          "{message} (LaunchDarkly did not receive the {API_VERSION_HEADER}: beta header, which this client sends on every request: a proxy or gateway between here and LaunchDarkly most likely strips it; let it pass that header)"
        ),
      )
    };
  }
  if redirect {
    let write = request.method != Method::GET;
    message.push_str(&format!(
      " ({}; redirects are not followed: LaunchDarkly's API does not redirect, so check baseUrl and any proxy in between{})",
      redirect_target(&request.url, &answer.headers),
      if write {
        "; the change may or may not have been applied"
      } else {
        ""
      }
    ));
  }
  LdError {
    status: Some(answer.status),
    failed_health_checks: (answer.status == 400)
      .then(|| crate::environments::failed_health_checks(&answer.body))
      .flatten(),
    api_code,
    api_message,
    ..LdError::new(code, message)
  }
}

/// Whether an error message is LaunchDarkly's refusal of a request without the beta
/// header: "This API is in beta. To use it, your request must include the header
/// `LD-API-Version: beta`."
fn says_beta_header_missing(message: &str) -> bool {
  let message = message.to_ascii_lowercase();
  message.contains("ld-api-version") || message.contains("api is in beta")
}

/// Where a redirect points, as `redirect to https://host:port`: the origin only, so no
/// credentials, path or query of the `Location` are quoted.
fn redirect_target(base: &Url, headers: &HeaderMap) -> String {
  let Some(location) = headers.get(reqwest::header::LOCATION) else {
    return "a redirect without a Location".to_string();
  };
  let target = location
    .to_str()
    .ok()
    .and_then(|l| base.join(l.trim()).ok())
    .filter(|url| url.has_host());
  match target {
    Some(url) => {
      let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
      let host = url.host_str().unwrap_or_default();
      format!("redirect to {}://{host}{port}", url.scheme())
    }
    None => "a redirect to an unreadable Location".to_string(),
  }
}

fn api_error_fields(body: &[u8]) -> (Option<String>, Option<String>) {
  let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(body) else {
    return (None, None);
  };
  let field = |name: &str| {
    map
      .get(name)
      .and_then(|v| v.as_str())
      .map(|s| s.chars().take(500).collect::<String>())
  };
  (field("code"), field("message"))
}

/// A short, single-line excerpt of a body: HTML tags dropped, white space folded.
pub fn body_excerpt(body: &[u8]) -> String {
  let text = String::from_utf8_lossy(body);
  let mut out = String::new();
  let mut in_tag = false;
  let mut last_space = true;
  for c in text.chars() {
    match c {
      '<' => in_tag = true,
      '>' if in_tag => {
        in_tag = false;
        if !last_space {
          out.push(' ');
          last_space = true;
        }
      }
      _ if in_tag => {}
      c if c.is_whitespace() || c.is_control() => {
        if !last_space {
          out.push(' ');
          last_space = true;
        }
      }
      c => {
        out.push(c);
        last_space = false;
      }
    }
    if out.chars().count() >= 200 {
      out.push('…');
      break;
    }
  }
  out.trim().to_string()
}

fn now_ms() -> u64 {
  SystemTime::now()
    .duration_since(UNIX_EPOCH)
    .map_or(0, |d| d.as_millis() as u64)
}

/// How long the server asked to wait: the later of the rate-limit resets that apply
/// (`X-Ratelimit-Reset`, and `X-Ratelimit-Auth-Token-Reset` for the token's own limit;
/// epoch milliseconds, ignored when not a number or more than an hour ahead; a family
/// whose remaining count is above 0 did not cause the wait), then `Retry-After`
/// (seconds, or an HTTP date). A reset already past gives 0 here; see `floor_past_reset`.
pub fn advised_wait_ms(headers: &HeaderMap, now_ms: u64) -> Option<u64> {
  advised_wait(headers, now_ms).map(|(wait, _)| wait)
}

/// `advised_wait_ms`, and which header said so.
fn advised_wait(headers: &HeaderMap, now_ms: u64) -> Option<(u64, WaitSource)> {
  let text = |name: &str| {
    headers
      .get(name)
      .and_then(|v| v.to_str().ok())
      .map(str::trim)
  };
  let spent = |remaining: &[&str]| {
    let counts: Vec<u64> = remaining
      .iter()
      .filter_map(|name| text(name).and_then(|v| v.parse::<u64>().ok()))
      .collect();
    counts.is_empty() || counts.contains(&0)
  };
  let resets = [
    (
      "x-ratelimit-reset",
      spent(&[
        "x-ratelimit-route-remaining",
        "x-ratelimit-global-remaining",
      ]),
    ),
    (
      "x-ratelimit-auth-token-reset",
      spent(&["x-ratelimit-auth-token-remaining"]),
    ),
  ];
  let known: Vec<(u64, bool)> = resets
    .iter()
    .filter_map(|(name, applies)| {
      text(name)
        .and_then(|v| crate::limiter::reset_in_ms(v, now_ms))
        .map(|wait| (wait, *applies))
    })
    .collect();
  // The later of the resets that apply; if none says it applies, the later of all.
  let applying = known
    .iter()
    .filter(|(_, applies)| *applies)
    .map(|(w, _)| *w)
    .max();
  if let Some(wait) = applying.or_else(|| known.iter().map(|(w, _)| *w).max()) {
    return Some((wait, WaitSource::RateLimitReset));
  }
  let retry_after = text(RETRY_AFTER.as_str())?;
  let wait = if let Ok(seconds) = retry_after.parse::<u64>() {
    seconds.saturating_mul(1000)
  } else if let Some(seconds) = retry_after
    .parse::<f64>()
    .ok()
    .filter(|s| s.is_finite() && *s >= 0.0)
  {
    (seconds * 1000.0) as u64
  } else {
    let date = httpdate::parse_http_date(retry_after).ok()?;
    let at = date.duration_since(UNIX_EPOCH).ok()?.as_millis() as u64;
    at.saturating_sub(now_ms)
  };
  Some((wait, WaitSource::RetryAfter))
}

/// The wait after a 429 whose rate-limit reset is already past (the clocks disagree, or
/// the window turned as it answered): a reset says nothing about how long to wait then,
/// and waiting nothing would send the retry straight into the same limit.
pub const PAST_RESET_FLOOR_MS: u64 = 1_000;

/// `advised` with `PAST_RESET_FLOOR_MS` under a rate-limit reset already past. A
/// `Retry-After: 0` is the server's own word and is kept.
fn floor_past_reset(advised: (u64, WaitSource)) -> (u64, WaitSource) {
  match advised {
    (0, WaitSource::RateLimitReset) => (PAST_RESET_FLOOR_MS, WaitSource::RateLimitReset),
    other => other,
  }
}

/// The first wait after a 429 that names none; doubles per retry, up to the backoff cap.
/// LaunchDarkly's windows last seconds, so a 429 is waited out longer than a 5xx.
const RATE_LIMITED_BASE_MS: u64 = 1_000;

/// The wait before retry number `attempt` (1-based) after a 429 that names no wait,
/// before jitter.
pub fn rate_limited_backoff_ms(attempt: u32) -> u64 {
  let exp = attempt.saturating_sub(1).min(16);
  (RATE_LIMITED_BASE_MS << exp).min(BACKOFF_CAP_MS)
}

/// Exponential backoff before retry number `attempt` (1-based), before jitter.
pub fn backoff_ms(attempt: u32) -> u64 {
  let exp = attempt.saturating_sub(1).min(16);
  (BACKOFF_BASE_MS << exp).min(BACKOFF_CAP_MS)
}

/// Adds up to a quarter (at least 50 ms, at most 1 s) of random delay: never less than asked.
pub fn with_jitter(wait_ms: u64) -> u64 {
  let spread = (wait_ms / 4).clamp(50, 1000);
  wait_ms + rand::random_range(0..=spread)
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::config::ClientOptions;

  fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
      map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    map
  }

  #[test]
  fn ratelimit_reset_is_epoch_millis() {
    let now = 1_700_000_000_000;
    let h = headers(&[("x-ratelimit-reset", "1700000001500"), ("retry-after", "9")]);
    assert_eq!(advised_wait_ms(&h, now), Some(1500));
    let past = headers(&[("x-ratelimit-reset", "1699999999000")]);
    assert_eq!(advised_wait_ms(&past, now), Some(0));
    // A nonsense reset (forever, or hours ahead) is ignored for Retry-After or nothing.
    let forever = headers(&[
      ("x-ratelimit-reset", "18446744073709551615"),
      ("retry-after", "9"),
    ]);
    assert_eq!(advised_wait_ms(&forever, now), Some(9000));
    let hours = headers(&[("x-ratelimit-reset", "1700007200000")]);
    assert_eq!(advised_wait_ms(&hours, now), None);
  }

  #[test]
  fn the_later_reset_that_applies_is_waited() {
    let now = 1_700_000_000_000;
    let both = headers(&[
      ("x-ratelimit-route-remaining", "0"),
      ("x-ratelimit-reset", "1700000001000"),
      ("x-ratelimit-auth-token-remaining", "0"),
      ("x-ratelimit-auth-token-reset", "1700000004000"),
    ]);
    assert_eq!(advised_wait_ms(&both, now), Some(4000));
    // A family with budget left did not cause the wait.
    let route = headers(&[
      ("x-ratelimit-route-remaining", "0"),
      ("x-ratelimit-reset", "1700000001000"),
      ("x-ratelimit-auth-token-remaining", "3"),
      ("x-ratelimit-auth-token-reset", "1700000009000"),
    ]);
    assert_eq!(advised_wait_ms(&route, now), Some(1000));
    let token = headers(&[
      ("x-ratelimit-global-remaining", "5"),
      ("x-ratelimit-reset", "1700000001000"),
      ("x-ratelimit-auth-token-remaining", "0"),
      ("x-ratelimit-auth-token-reset", "1700000002500"),
    ]);
    assert_eq!(advised_wait_ms(&token, now), Some(2500));
    // Without remaining counts, every reset applies; when none says it does, the later.
    let bare = headers(&[
      ("x-ratelimit-reset", "1700000001000"),
      ("x-ratelimit-auth-token-reset", "1700000003000"),
    ]);
    assert_eq!(advised_wait_ms(&bare, now), Some(3000));
    let neither = headers(&[
      ("x-ratelimit-route-remaining", "2"),
      ("x-ratelimit-reset", "1700000001000"),
      ("x-ratelimit-auth-token-remaining", "4"),
      ("x-ratelimit-auth-token-reset", "1700000002000"),
    ]);
    assert_eq!(advised_wait_ms(&neither, now), Some(2000));
    // A reset wins over Retry-After; a past one is floored only after a 429.
    let past = headers(&[("x-ratelimit-reset", "1699999999000"), ("retry-after", "9")]);
    assert_eq!(
      advised_wait(&past, now),
      Some((0, WaitSource::RateLimitReset))
    );
    assert_eq!(
      floor_past_reset((0, WaitSource::RateLimitReset)),
      (PAST_RESET_FLOOR_MS, WaitSource::RateLimitReset)
    );
    assert_eq!(
      floor_past_reset((0, WaitSource::RetryAfter)),
      (0, WaitSource::RetryAfter)
    );
    assert_eq!(
      floor_past_reset((5, WaitSource::RateLimitReset)),
      (5, WaitSource::RateLimitReset)
    );
  }

  #[test]
  fn a_429_without_advice_waits_a_second_doubling() {
    assert_eq!(rate_limited_backoff_ms(1), 1000);
    assert_eq!(rate_limited_backoff_ms(2), 2000);
    assert_eq!(rate_limited_backoff_ms(4), 8000);
    assert_eq!(rate_limited_backoff_ms(5), BACKOFF_CAP_MS);
    assert_eq!(rate_limited_backoff_ms(u32::MAX), BACKOFF_CAP_MS);
  }

  #[test]
  fn a_refusal_for_the_missing_beta_header_is_told_apart() {
    let request = PreparedRequest {
      method: Method::GET,
      url: Url::parse("https://x.example/api/v2/flags/p/f/release").unwrap(),
      body: None,
    };
    let answer = |status: u16, message: &str| Answer {
      status,
      headers: HeaderMap::new(),
      body: serde_json::json!({"code": "forbidden", "message": message})
        .to_string()
        .into_bytes(),
    };
    let beta = "This API is in beta. To use it, your request must include the header `LD-API-Version: beta`.";
    for status in [400, 403, 404] {
      let e = http_error(&request, &answer(status, beta));
      assert_eq!(e.code, ErrorCode::BetaHeaderMissing, "{status}");
      assert_eq!(e.status, Some(status));
      assert_eq!(e.api_message.as_deref(), Some(beta));
      assert_eq!(e.api_code.as_deref(), Some("forbidden"), "{status}");
      assert!(
        e.message
          .contains("did not receive the LD-API-Version: beta header")
          && e.message.contains("a proxy or gateway"),
        "{}",
        e.message
      );
    }
    let e = http_error(&request, &answer(403, "Access denied"));
    assert_eq!(e.code, ErrorCode::Forbidden);
    let e = http_error(&request, &answer(500, beta));
    assert_eq!(e.code, ErrorCode::Server, "only refusals are told apart");
    let e = http_error(&request, &answer(403, "Missing ld-api-version"));
    assert_eq!(e.code, ErrorCode::BetaHeaderMissing);
    let e = http_error(&request, &answer(404, "This API is in beta."));
    assert_eq!(
      e.code,
      ErrorCode::BetaHeaderMissing,
      "either wording is enough"
    );
  }

  #[test]
  fn retry_after_seconds_or_http_date() {
    let now = 1_700_000_000_000;
    assert_eq!(
      advised_wait_ms(&headers(&[("retry-after", "2")]), now),
      Some(2000)
    );
    assert_eq!(
      advised_wait_ms(&headers(&[("retry-after", "0.5")]), now),
      Some(500)
    );
    let at = UNIX_EPOCH + Duration::from_millis(now + 3000);
    let date = httpdate::fmt_http_date(at);
    assert_eq!(
      advised_wait_ms(&headers(&[("retry-after", &date)]), now),
      Some(3000)
    );
    assert_eq!(
      advised_wait_ms(&headers(&[("retry-after", "soon")]), now),
      None
    );
    assert_eq!(advised_wait_ms(&HeaderMap::new(), now), None);
  }

  #[test]
  fn backoff_doubles_and_caps() {
    assert_eq!(backoff_ms(1), 250);
    assert_eq!(backoff_ms(2), 500);
    assert_eq!(backoff_ms(3), 1000);
    assert_eq!(backoff_ms(10), BACKOFF_CAP_MS);
    assert_eq!(backoff_ms(u32::MAX), BACKOFF_CAP_MS);
  }

  #[test]
  fn jitter_never_shortens_and_stays_bounded() {
    for wait in [0, 100, 1000, 60_000] {
      for _ in 0..200 {
        let j = with_jitter(wait);
        assert!(
          j >= wait && j <= wait + (wait / 4).clamp(50, 1000),
          "{wait} -> {j}"
        );
      }
    }
    let spread: std::collections::HashSet<u64> = (0..50).map(|_| with_jitter(1000)).collect();
    assert!(spread.len() > 1, "jitter must vary");
  }

  #[test]
  fn excerpts_strip_html() {
    let html = b"<html><head><title>502 Bad Gateway</title></head>\n<body><h1>Bad   Gateway</h1></body></html>";
    assert_eq!(body_excerpt(html), "502 Bad Gateway Bad Gateway");
    assert_eq!(body_excerpt(b""), "");
    let long = "x".repeat(1000);
    assert!(body_excerpt(long.as_bytes()).chars().count() <= 201);
  }

  #[test]
  fn errors_read_launchdarkly_bodies() {
    let request = PreparedRequest {
      method: Method::PATCH,
      url: Url::parse("https://x.example/api/v2/flags/p/f/release").unwrap(),
      body: None,
    };
    let answer = Answer {
      status: 404,
      headers: HeaderMap::new(),
      body: br#"{"code":"not_found","message":"Unknown flag"}"#.to_vec(),
    };
    let e = http_error(&request, &answer);
    assert_eq!(e.code, ErrorCode::NotFound);
    assert_eq!(e.api_code.as_deref(), Some("not_found"));
    assert_eq!(e.api_message.as_deref(), Some("Unknown flag"));
    assert_eq!(
      e.message,
      "LaunchDarkly answered 404 Not Found to PATCH /api/v2/flags/p/f/release: not_found: Unknown flag"
    );
  }

  #[test]
  fn redirects_name_only_where_they_point() {
    let base = Url::parse("https://app.launchdarkly.com/api/v2/flags/p/f/release").unwrap();
    let target = |location: &str| redirect_target(&base, &headers(&[("location", location)]));
    assert_eq!(
      target("http://user:pw@evil.example:8080/x?token=1"),
      "redirect to http://evil.example:8080"
    );
    assert_eq!(
      target("/elsewhere"),
      "redirect to https://app.launchdarkly.com"
    );
    assert_eq!(target("//[::1]:9/a"), "redirect to https://[::1]:9");
    assert_eq!(
      target("custom://host.example/a"),
      "redirect to custom://host.example"
    );
    assert_eq!(
      target("data:text/plain,hi"),
      "a redirect to an unreadable Location"
    );
    assert_eq!(
      redirect_target(&base, &HeaderMap::new()),
      "a redirect without a Location"
    );
    let request = PreparedRequest {
      method: Method::PATCH,
      url: base.clone(),
      body: None,
    };
    let answer = Answer {
      status: 303,
      headers: headers(&[("location", "https://u:p@other.example/")]),
      body: b"See https://u:p@other.example/".to_vec(),
    };
    let e = http_error(&request, &answer);
    assert_eq!(e.code, ErrorCode::Http);
    assert_eq!(
      e.message,
      "LaunchDarkly answered 303 See Other to PATCH /api/v2/flags/p/f/release (redirect to https://other.example; redirects are not followed: LaunchDarkly's API does not redirect, so check baseUrl and any proxy in between; the change may or may not have been applied)"
    );
  }

  /// A resolved configuration with `token` and nothing from the environment.
  fn config_with_token(token: &str) -> ClientConfig {
    let options = ClientOptions {
      api_key: Some(crate::config::Secret::new(token)),
      ..Default::default()
    };
    ClientConfig::resolve(&options, |_| None).unwrap()
  }

  #[test]
  fn echoed_tokens_are_masked() {
    let config = config_with_token("api-1234567890abcdef");
    let client = Client::new(config).unwrap();
    let masked = |text: &str| client.mask_error(LdError::invalid(text)).message;
    assert_eq!(masked("x api-1234567890abcdef y"), "x ****cdef y");
    assert_eq!(masked("nothing here"), "nothing here");
    // Every text of an error a server's answer made: the excerpt of an HTML body, and
    // the fields of a JSON one, decoded.
    let request = PreparedRequest {
      method: Method::GET,
      url: Url::parse("https://x.example/api/v2/flags/p/f/release").unwrap(),
      body: None,
    };
    let html = Answer {
      status: 502,
      headers: HeaderMap::new(),
      body: b"<p>Authorization: api-1234567890abcdef</p>".to_vec(),
    };
    let e = client.mask_error(http_error(&request, &html));
    assert!(
      e.message.ends_with(": Authorization: ****cdef"),
      "{}",
      e.message
    );
    let json = Answer {
      status: 400,
      headers: HeaderMap::new(),
      body: br#"{"code":"api-1234567890","message":"token api%2D1234567890abcdef"}"#.to_vec(),
    };
    let e = client.mask_error(http_error(&request, &json));
    assert_eq!(e.api_code.as_deref(), Some("****"));
    assert_eq!(e.api_message.as_deref(), Some("token ****cdef"));
    assert!(!e.message.contains("1234567890"), "{}", e.message);
  }

  #[test]
  fn preview_masks_the_token() {
    let config = config_with_token("api-1234567890abcdef");
    let client = Client::new(config.clone()).unwrap();
    let patch = crate::patch::phase_patch(2, true);
    let request =
      PreparedRequest::release(&config, Method::PATCH, "web", "new/checkout", Some(&patch))
        .unwrap();
    let preview = client.preview(&request);
    assert_eq!(preview.method, "PATCH");
    assert_eq!(
      preview.url,
      "https://app.launchdarkly.com/api/v2/flags/web/new%2Fcheckout/release"
    );
    assert!(preview
      .headers
      .contains(&("Authorization".into(), "****cdef".into())));
    assert!(preview
      .headers
      .contains(&("LD-API-Version".into(), "beta".into())));
    assert_eq!(
      preview.body.as_deref(),
      Some(r#"[{"op":"replace","path":"/phases/2/complete","value":true}]"#)
    );
    assert!(!format!("{preview:?}{client:?}").contains("1234567890"));
  }

  #[test]
  fn method_override_turns_patch_into_post() {
    let options = ClientOptions {
      method_override: Some(true),
      ..Default::default()
    };
    let config = ClientConfig::resolve(&options, |_| None).unwrap();
    let client = Client::new(config.clone()).unwrap();
    let patch = crate::patch::phase_patch(0, true);
    let request = PreparedRequest::release(&config, Method::PATCH, "p", "f", Some(&patch)).unwrap();
    let preview = client.preview(&request);
    assert_eq!(preview.method, "POST");
    assert!(preview
      .headers
      .contains(&("X-HTTP-Method-Override".into(), "PATCH".into())));
    let get = PreparedRequest::release(&config, Method::GET, "p", "f", None).unwrap();
    assert_eq!(client.preview(&get).method, "GET");
  }

  #[test]
  fn other_operations_use_their_documented_paths() {
    let config = ClientConfig::resolve(&ClientOptions::default(), |_| None).unwrap();
    let input = serde_json::json!({ "releasePipelineKey": "standard" });
    let create = PreparedRequest::create_release(&config, "web", "a/b", &input).unwrap();
    assert_eq!(create.method, Method::PUT);
    assert_eq!(
      create.url.path(),
      "/api/v2/projects/web/flags/a%2Fb/release"
    );
    assert_eq!(
      create.body.as_deref(),
      Some(&br#"{"releasePipelineKey":"standard"}"#[..])
    );
    let status = serde_json::json!({ "status": "active" });
    let update =
      PreparedRequest::update_phase_status(&config, "web", "f", "ph 1", &status).unwrap();
    assert_eq!(
      update.url.path(),
      "/api/v2/projects/web/flags/f/release/phases/ph%201"
    );
    assert_eq!(update.body.as_deref(), Some(&br#"{"status":"active"}"#[..]));
    let empty = serde_json::json!({ "releasePipelineKey": "" });
    let err = PreparedRequest::create_release(&config, "web", "f", &empty).unwrap_err();
    assert!(
      err.message.starts_with("releasePipelineKey"),
      "{}",
      err.message
    );
  }
}
