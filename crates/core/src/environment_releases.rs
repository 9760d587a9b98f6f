//! Environment releases as a list and as a watch: every release of a flag in one
//! environment, newest first (`Pager::environment_releases`), and one release followed
//! until it ends (`Watch`).
//!
//! A watch reads the release (`GET …/releases/{releaseId}`) through the client's gate
//! and retries, and hands it on when something a person would care about changed
//! (`changed`): its status or reason, its current phase, a phase's status or step, a
//! metric's status. It times each read by the release itself (`next_poll`): just after
//! the current step should end, never later than a bound (30 s for guarded releases,
//! which a regression can stop at any time; 5 minutes for progressive ones), sooner
//! while the release is pending or waiting for a person. It ends after `completed` or
//! `reverted`.
//!
//! Those times are the server's, so the watch compares them with the server's clock as
//! it estimates it from the answers' `Date` headers (`ServerClock`), not with the
//! client's: a CI runner whose clock is off by minutes still reads each step just after
//! it ends. Without a `Date` header, it uses the client's clock. A clock that runs at
//! another rate than real time (a simulated server, such as `ld-release fake --speed`)
//! is learned from the readings too; a real server's never is (see `ServerClock`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::Value;

use crate::client::{Client, PreparedRequest};
use crate::config::{ClientConfig, RequestOptions};
use crate::environments::ReleaseTarget;
use crate::error::{LdError, Result};
use crate::release::{decode_error, Release};

/// Items asked for per page of environment releases: the most the endpoint gives.
pub const PAGE_SIZE: u32 = 100;

/// The kinds `listEnvironmentReleases` can keep.
pub const KINDS: [&str; 2] = ["progressive", "guarded"];

/// The longest wait between two reads of a guarded release, unless `intervalMs` says.
pub const GUARDED_INTERVAL_MS: u64 = 30_000;
/// The longest wait between two reads of a progressive release, unless `intervalMs` says.
pub const PROGRESSIVE_INTERVAL_MS: u64 = 300_000;
/// The wait while a release is `pending` or between phases (the next starts soon).
pub const PENDING_POLL_MS: u64 = 5_000;
/// The wait while a release is `waiting` for a person.
pub const WAITING_POLL_MS: u64 = 30_000;
/// How long after a step's scheduled end it is read.
pub const STEP_END_MARGIN_MS: u64 = 500;
/// The wait while a step is over time, for `OVERDUE_WINDOW_MS` after its end; then
/// `PENDING_POLL_MS`.
pub const OVERDUE_POLL_MS: u64 = 1_000;
pub const OVERDUE_WINDOW_MS: u64 = 10_000;
/// The bounds of `intervalMs`.
pub const MIN_INTERVAL_MS: u64 = 100;
pub const MAX_INTERVAL_MS: u64 = 3_600_000;

fn releases_path<'a>(
  project_key: &'a str,
  flag_key: &'a str,
  environment_key: &'a str,
) -> Vec<&'a str> {
  vec![
    "api",
    "v2",
    "projects",
    project_key,
    "flags",
    flag_key,
    "environments",
    environment_key,
    "releases",
  ]
}

/// Checks the arguments of a list of environment releases.
pub fn validate_list(
  project_key: &str,
  flag_key: &str,
  environment_key: &str,
  kind: Option<&str>,
) -> Result<()> {
  ReleaseTarget::new(project_key, flag_key, environment_key)?;
  match kind {
    // The value is not echoed: it could be anything, the token included.
    Some(kind) if !KINDS.contains(&kind) => {
      Err(LdError::invalid("kind must be 'progressive' or 'guarded'"))
    }
    _ => Ok(()),
  }
}

impl PreparedRequest {
  /// `GET /api/v2/projects/{projectKey}/flags/{flagKey}/environments/{environmentKey}/releases`
  /// with `filter=kind equals <kind>` (as the reference writes it), `limit=100` and
  /// `offset`.
  pub fn environment_releases_page(
    config: &ClientConfig,
    project_key: &str,
    flag_key: &str,
    environment_key: &str,
    kind: Option<&str>,
    offset: u64,
  ) -> Result<Self> {
    validate_list(project_key, flag_key, environment_key, kind)?;
    let request = PreparedRequest {
      method: Method::GET,
      url: config.url_for(&releases_path(project_key, flag_key, environment_key)),
      body: None,
    };
    let filter = kind.map(|kind| format!("kind equals {kind}"));
    Ok(crate::pipelines::with_page(
      request,
      filter.as_deref(),
      PAGE_SIZE,
      offset,
    ))
  }
}

/// What a watch reads of a release: what a person would care about, and the schedule
/// of the current step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchView {
  pub status: String,
  pub status_reason: Option<String>,
  pub current_phase_index: Option<u64>,
  /// `kind` is `guarded`, or the release has metrics.
  pub guarded: bool,
  pub phases: Vec<PhaseWatch>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseWatch {
  pub status: Option<String>,
  pub current_step_index: Option<u64>,
  /// Metric key → status (`ok`, `regressed`, `regression_dismissed`).
  pub metric_statuses: BTreeMap<String, Option<String>>,
  /// Each step's `startedAt` and `durationMillis`, in Unix milliseconds.
  pub steps: Vec<(Option<u64>, Option<u64>)>,
}

/// A time or duration in milliseconds: a number, or a numeric string.
fn millis(value: Option<&Value>) -> Option<u64> {
  match value? {
    Value::Number(n) => n
      .as_u64()
      .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
    Value::String(s) => s.trim().parse().ok(),
    _ => None,
  }
}

impl WatchView {
  /// Reads a release answer. Only `status` is required (`ERR_LD_DECODE` without it); a
  /// field of another type than the reference's is read as absent. Read through
  /// `serde_json::Value`, which the crate already uses, rather than a typed model: the
  /// addon stays smaller.
  pub fn from_release(release: &Release) -> Result<WatchView> {
    let value: Value = serde_json::from_str(release.json()).unwrap_or(Value::Null);
    let Some(status) = value.get("status").and_then(Value::as_str) else {
      return Err(decode_error(
        200,
        "its answer has no usable status (a string), which this call needs",
        release.json(),
      ));
    };
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_string);
    let index = |v: &Value, key: &str| v.get(key).and_then(Value::as_u64);
    let list = |v: &Value, key: &str| -> Vec<Value> {
      v.get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
    };
    Ok(WatchView {
      status: status.to_string(),
      status_reason: text(&value, "statusReason"),
      current_phase_index: index(&value, "currentPhaseIndex"),
      guarded: text(&value, "kind").as_deref() == Some("guarded")
        || !list(&value, "metrics").is_empty(),
      phases: list(&value, "phases")
        .iter()
        .map(|phase| PhaseWatch {
          status: text(phase, "status"),
          current_step_index: index(phase, "currentStepIndex"),
          metric_statuses: phase
            .get("metricStatuses")
            .and_then(Value::as_object)
            .map(|statuses| {
              statuses
                .iter()
                .map(|(key, status)| (key.clone(), status.as_str().map(str::to_string)))
                .collect()
            })
            .unwrap_or_default(),
          steps: list(phase, "steps")
            .iter()
            .map(|step| {
              (
                millis(step.get("startedAt")),
                millis(step.get("durationMillis")),
              )
            })
            .collect(),
        })
        .collect(),
    })
  }

  /// `completed` or `reverted`: the release will not change again.
  pub fn is_terminal(&self) -> bool {
    matches!(self.status.as_str(), "completed" | "reverted")
  }

  /// When the current step should end (Unix ms): its `startedAt + durationMillis`.
  pub fn step_end(&self) -> Option<u64> {
    let phase = self
      .phases
      .get(usize::try_from(self.current_phase_index?).ok()?)?;
    let step = phase
      .steps
      .get(usize::try_from(phase.current_step_index?).ok()?)?;
    Some(step.0?.saturating_add(step.1?))
  }
}

/// Whether `next` differs from `previous` in anything a person would care about: the
/// status or its reason, the current phase, the number of phases, a phase's status or
/// current step, a metric's status. A step's times alone are no change.
pub fn changed(previous: &WatchView, next: &WatchView) -> bool {
  previous.status != next.status
    || previous.status_reason != next.status_reason
    || previous.current_phase_index != next.current_phase_index
    || previous.phases.len() != next.phases.len()
    || previous.phases.iter().zip(&next.phases).any(|(a, b)| {
      a.status != b.status
        || a.current_step_index != b.current_step_index
        || a.metric_statuses != b.metric_statuses
    })
}

/// How long to wait before reading `view` again, at `now_ms` (Unix ms); `None` once it
/// has ended. `interval_ms` bounds every wait (default: `GUARDED_INTERVAL_MS` for a
/// guarded release, `PROGRESSIVE_INTERVAL_MS` otherwise):
/// - `pending`, or in progress with no current step (between phases): `PENDING_POLL_MS`;
/// - `waiting` (for a person): `WAITING_POLL_MS`;
/// - a step that is running: until `STEP_END_MARGIN_MS` after its scheduled end;
/// - a step over its time: `OVERDUE_POLL_MS`, after `OVERDUE_WINDOW_MS` `PENDING_POLL_MS`.
///
/// Never less than `MIN_INTERVAL_MS`.
pub fn next_poll(view: &WatchView, now_ms: u64, interval_ms: Option<u64>) -> Option<Duration> {
  if view.is_terminal() {
    return None;
  }
  let bound = interval_ms.unwrap_or(if view.guarded {
    GUARDED_INTERVAL_MS
  } else {
    PROGRESSIVE_INTERVAL_MS
  });
  let wait = match (view.status.as_str(), view.step_end()) {
    ("pending", _) => PENDING_POLL_MS,
    ("waiting", _) => WAITING_POLL_MS,
    (_, None) => PENDING_POLL_MS,
    (_, Some(end)) => {
      let due = end.saturating_add(STEP_END_MARGIN_MS);
      if due > now_ms {
        due - now_ms
      } else if now_ms - end < OVERDUE_WINDOW_MS {
        OVERDUE_POLL_MS
      } else {
        PENDING_POLL_MS
      }
    }
  };
  Some(Duration::from_millis(wait.min(bound).max(MIN_INTERVAL_MS)))
}

/// The resolution of an HTTP date: a `Date` header says the second, not the millisecond.
pub const DATE_RESOLUTION_MS: u64 = 1_000;
/// What a reading of the server's clock may be off by on top of the round trip: the
/// client's clock read around the request.
pub const CLOCK_SLACK_MS: u64 = 250;
/// The longest wait after the first reading of a server's clock, until a second one
/// says at what rate it runs.
pub const CALIBRATION_MS: u64 = 1_000;

/// The shortest wait between two reads on the client's clock, whatever the server's
/// clock's rate (`MIN_INTERVAL_MS` holds on the server's).
pub const MIN_LOCAL_WAIT_MS: u64 = 20;

/// One reading of the server's clock: the client's time (Unix ms) when the request was
/// sent and when its answer came, and the time the answer's `Date` said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
  pub sent: u64,
  pub received: u64,
  pub server: u64,
}

/// The server's clock as a watch estimates it from the answers' `Date` headers.
///
/// The server's clock is taken to run at real time (rate 1), which every real server's
/// does: its offset from the client's is the largest `server - received` of the
/// readings (a `Date` is truncated to the second and stamped before the answer comes,
/// so each reading is a lower bound, and reads are never early because of it; at a
/// learned rate, the same along the line of that rate). Only
/// when the readings rule rate 1 out is the rate learned: when the server's clock moved
/// further since the first reading than the client's did from that request's sending
/// to this answer, plus `DATE_RESOLUTION_MS` and `CLOCK_SLACK_MS`. No real server's
/// does; a simulated clock, sped up, does. The rate is then the slope from the first
/// reading. A reading that disagrees with the estimate (a clock set back or forward, or
/// a change of rate) starts the learning again from the reading before it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServerClock {
  /// The reading the rate is measured from.
  anchor: Option<Reading>,
  /// The reading the estimate is made from: the one with the largest offset at the
  /// current rate, since the rate was last measured again.
  base: Option<Reading>,
  /// The latest reading.
  latest: Option<Reading>,
  /// Server ms per local ms, when the readings ruled rate 1 out.
  rate: Option<f64>,
}

impl ServerClock {
  /// Server ms per local ms: 1 unless the readings ruled it out.
  pub fn rate(&self) -> f64 {
    self.rate.unwrap_or(1.0)
  }

  /// Whether the readings say at what rate the server's clock runs: at least two, at
  /// least `CALIBRATION_MS` apart; or none at all (then the client's clock is used).
  pub fn is_calibrated(&self) -> bool {
    match (self.anchor, self.latest) {
      (Some(anchor), Some(latest)) => latest.received >= anchor.received + CALIBRATION_MS,
      _ => self.anchor.is_none(),
    }
  }

  /// The server's time at client time `local`, as estimated; `local` without readings.
  pub fn now(&self, local: u64) -> u64 {
    match self.base {
      Some(base) if local >= base.received => {
        let ahead = ((local - base.received) as f64 * self.rate()) as u64;
        base.server.saturating_add(ahead)
      }
      Some(base) => base.server.saturating_sub(base.received - local),
      None => local,
    }
  }

  /// Takes in a reading.
  pub fn observe(&mut self, reading: Reading) {
    let (Some(anchor), Some(latest)) = (self.anchor, self.latest) else {
      *self = ServerClock {
        anchor: Some(reading),
        base: Some(reading),
        latest: Some(reading),
        rate: None,
      };
      return;
    };
    // How far the reading may be from the estimate: the resolution and the round trip.
    let trip = reading.received.saturating_sub(reading.sent) + DATE_RESOLUTION_MS + CLOCK_SLACK_MS;
    let tolerance = trip as f64 * self.rate();
    let off = (reading.server as f64 - self.now(reading.received) as f64).abs();
    let anchor = if reading.received < latest.received || off > tolerance {
      // The clock was set, or its rate changed: measured again from the reading before,
      // when there is time between the two; else (the client's clock set back, or two
      // readings at one moment) from this reading alone.
      self.base = None;
      if latest.received < reading.received {
        latest
      } else {
        reading
      }
    } else {
      anchor
    };
    self.anchor = Some(anchor);
    self.latest = Some(reading);
    let server_span = reading.server.saturating_sub(anchor.server);
    let local_bound =
      reading.received.saturating_sub(anchor.sent) + DATE_RESOLUTION_MS + CLOCK_SLACK_MS;
    self.rate = (server_span > local_bound).then(|| {
      let local_span = reading.received.saturating_sub(anchor.received).max(1);
      server_span as f64 / local_span as f64
    });
    // The base: of it and this reading, the one that puts the server's clock furthest
    // ahead at this rate (each reading is a lower bound of it).
    let rate = self.rate();
    let offset = |r: Reading| r.server as f64 - r.received as f64 * rate;
    if self.base.is_none_or(|base| offset(reading) >= offset(base)) {
      self.base = Some(reading);
    }
  }

  /// The client's wait for a wait of `server_wait` on the server's clock: the same at
  /// rate 1; on a clock that runs faster, divided by the rate's upper bound (the
  /// resolution over the readings' span), so that reads err early rather than late.
  pub fn local_wait(&self, server_wait: Duration) -> Duration {
    match (self.rate, self.anchor, self.latest) {
      (Some(rate), Some(anchor), Some(latest)) => {
        let span = latest.received.saturating_sub(anchor.received).max(1) as f64;
        let upper = rate + DATE_RESOLUTION_MS as f64 / span;
        Duration::from_secs_f64(server_wait.as_secs_f64() / upper)
      }
      _ => server_wait,
    }
  }
}

/// The time a watch compares a release's times with, in Unix milliseconds.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// The system clock, in Unix milliseconds.
pub fn system_clock() -> u64 {
  SystemTime::now()
    .duration_since(UNIX_EPOCH)
    .map_or(0, |d| d.as_millis() as u64)
}

/// One environment release followed until it ends: each `Client::watch_next` waits as
/// `next_poll` says (not before the first read), reads the release until something
/// changed (`changed`), and hands it on; after a terminal status, it is done.
#[derive(Clone)]
pub struct Watch {
  target: ReleaseTarget,
  request: PreparedRequest,
  interval_ms: Option<u64>,
  last: Option<WatchView>,
  done: bool,
  clock: Clock,
  server: ServerClock,
}

impl std::fmt::Debug for Watch {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("Watch")
      .field("request", &self.request)
      .field("interval_ms", &self.interval_ms)
      .field("last", &self.last)
      .field("done", &self.done)
      .field("server", &self.server)
      .finish_non_exhaustive()
  }
}

impl Watch {
  /// A watch of release `release_id`; `interval_ms` (from `MIN_INTERVAL_MS` to
  /// `MAX_INTERVAL_MS`) bounds the wait between reads.
  pub fn new(
    config: &ClientConfig,
    (project_key, flag_key, environment_key): (&str, &str, &str),
    release_id: &str,
    interval_ms: Option<u64>,
  ) -> Result<Self> {
    if let Some(ms) = interval_ms {
      if !(MIN_INTERVAL_MS..=MAX_INTERVAL_MS).contains(&ms) {
        return Err(LdError::invalid(format!(
          "intervalMs must be an integer from {MIN_INTERVAL_MS} to {MAX_INTERVAL_MS}, got {ms}"
        )));
      }
    }
    let target = ReleaseTarget::new(project_key, flag_key, environment_key)?;
    let request = PreparedRequest::environment_release(config, &target, release_id, false)?;
    Ok(Watch {
      target,
      request,
      interval_ms,
      last: None,
      done: false,
      clock: Arc::new(system_clock),
      server: ServerClock::default(),
    })
  }

  /// The same watch, reading the time from `clock`.
  pub fn with_clock(mut self, clock: Clock) -> Self {
    self.clock = clock;
    self
  }

  /// The read each poll sends.
  pub fn request(&self) -> &PreparedRequest {
    &self.request
  }

  pub fn is_done(&self) -> bool {
    self.done
  }

  /// The server's clock as the watch has estimated it so far.
  pub fn server_clock(&self) -> &ServerClock {
    &self.server
  }

  /// How long to wait before the next read, on the client's clock (`None`: the watch
  /// has ended, or has not read yet): `next_poll` on the server's estimated clock, at
  /// most `CALIBRATION_MS` until the server's clock is calibrated, never less than
  /// `MIN_INTERVAL_MS` on the server's clock nor `MIN_LOCAL_WAIT_MS` on the client's.
  pub fn next_wait(&self) -> Option<Duration> {
    let last = self.last.as_ref()?;
    let local = (self.clock)();
    let wait = next_poll(last, self.server.now(local), self.interval_ms)?;
    let wait = self.server.local_wait(wait);
    let wait = if self.server.is_calibrated() {
      wait
    } else {
      wait.min(Duration::from_millis(CALIBRATION_MS))
    };
    let floor = self
      .server
      .local_wait(Duration::from_millis(MIN_INTERVAL_MS))
      .max(Duration::from_millis(MIN_LOCAL_WAIT_MS));
    Some(wait.max(floor))
  }

  /// Ends the watch: nothing more is read.
  pub fn finish(&mut self) {
    self.done = true;
  }
}

impl Client {
  /// The next state of `watch` worth telling (the current one, the first time), or
  /// `None` once it has ended. Waits between reads as `next_poll` says; dropping the
  /// future cancels the wait or the read at once. A failed read fails the watch.
  pub async fn watch_next(
    &self,
    watch: &mut Watch,
    options: RequestOptions,
  ) -> Result<Option<Release>> {
    loop {
      if watch.done {
        return Ok(None);
      }
      if watch.last.is_some() {
        match watch.next_wait() {
          Some(wait) => tokio::time::sleep(wait).await,
          None => {
            watch.done = true;
            return Ok(None);
          }
        }
      }
      let sent = (watch.clock)();
      let answer = self
        .send_environment_release(&watch.target, watch.request.clone(), options.clone())
        .await;
      let release = answer.inspect_err(|_| watch.done = true)?;
      if let Some(server) = release.server_date_ms() {
        watch.server.observe(Reading {
          sent,
          received: (watch.clock)(),
          server,
        });
      }
      let view = WatchView::from_release(&release).inspect_err(|_| watch.done = true)?;
      let news = watch.last.as_ref().is_none_or(|last| changed(last, &view));
      watch.done = view.is_terminal();
      watch.last = Some(view);
      if news {
        return Ok(Some(release));
      }
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::config::ClientOptions;
  use crate::error::ErrorCode;
  use serde_json::json;

  fn config() -> ClientConfig {
    ClientConfig::resolve(&ClientOptions::default(), |_| None).unwrap()
  }

  fn view(body: Value) -> WatchView {
    let release = Release::from_body(body.to_string().into_bytes(), 200).unwrap();
    WatchView::from_release(&release).unwrap()
  }

  /// A release in phase `phase`, step `step` (started at `started`, 60 s long).
  fn running(kind: &str, phase: u64, step: u64, started: u64) -> Value {
    let steps = |n: u64| {
      (0..3)
        .map(|i| {
          if i <= n {
            json!({"stepIndex": i, "allocation": 1000, "durationMillis": 60_000, "startedAt": started})
          } else {
            json!({"stepIndex": i, "allocation": 1000, "durationMillis": 60_000})
          }
        })
        .collect::<Vec<_>>()
    };
    json!({
      "id": "r1", "status": "in_progress", "kind": kind, "metrics": [],
      "currentPhaseIndex": phase,
      "phases": [
        {"id": "p0", "status": "in_progress", "steps": steps(step), "currentStepIndex": step, "metricStatuses": {}},
        {"id": "p1", "status": "pending", "steps": steps(0), "metricStatuses": {}},
      ],
    })
  }

  #[test]
  fn lists_are_asked_for_as_the_reference_writes_them() {
    let request = PreparedRequest::environment_releases_page(
      &config(),
      "web",
      "new checkout",
      "prod",
      Some("guarded"),
      100,
    )
    .unwrap();
    assert_eq!(
      request.url.path(),
      "/api/v2/projects/web/flags/new%20checkout/environments/prod/releases"
    );
    assert_eq!(
      request.url.query(),
      Some("filter=kind%20equals%20guarded&limit=100&offset=100")
    );
    let all =
      PreparedRequest::environment_releases_page(&config(), "web", "f", "prod", None, 0).unwrap();
    assert_eq!(all.url.query(), Some("limit=100&offset=0"));
    for (project, flag, env, kind, named) in [
      ("", "f", "e", None, "projectKey"),
      ("p", "", "e", None, "flagKey"),
      ("p", "f", "..", None, "environmentKey"),
      ("p", "f", "e", Some("canary"), "kind"),
    ] {
      let error = validate_list(project, flag, env, kind).unwrap_err();
      assert_eq!(error.code, ErrorCode::InvalidArgument);
      assert!(error.message.starts_with(named), "{}", error.message);
    }
    let watch = Watch::new(&config(), ("web", "f", "prod"), "r/1", None).unwrap();
    assert_eq!(
      watch.request().url.as_str(),
      "https://app.launchdarkly.com/api/v2/projects/web/flags/f/environments/prod/releases/r%2F1"
    );
    assert_eq!(watch.request().method, Method::GET);
    assert!(Watch::new(&config(), ("web", "f", "prod"), "", None).is_err());
    assert!(Watch::new(&config(), ("web", "", "prod"), "r", None).is_err());
  }

  #[test]
  fn a_view_reads_what_a_person_cares_about() {
    let v = view(running("guarded", 0, 1, 1_000));
    assert_eq!(v.status, "in_progress");
    assert!(v.guarded);
    assert_eq!(v.current_phase_index, Some(0));
    assert_eq!(v.phases[0].current_step_index, Some(1));
    assert_eq!(v.step_end(), Some(61_000));
    assert!(!v.is_terminal());
    // Guarded by its metrics, whatever its kind says; times as numeric strings.
    let v = view(json!({
      "status": "completed", "metrics": [{"metricKey": "m", "autoRollback": true}],
      "currentPhaseIndex": null,
      "phases": [{"status": "completed", "currentStepIndex": 0,
        "steps": [{"startedAt": "5", "durationMillis": 10.0}]}],
    }));
    assert!(v.guarded && v.is_terminal());
    assert_eq!(v.phases[0].steps, [(Some(5), Some(10))]);
    let v = view(json!({"status": "in_progress", "phases": [{"steps": [
      {"startedAt": 0.0, "durationMillis": -1.0},
      {"startedAt": true, "durationMillis": " 7 "},
    ]}]}));
    assert_eq!(v.phases[0].steps, [(Some(0), None), (None, Some(7))]);
    assert_eq!(v.step_end(), None, "no current phase");
    assert!(view(json!({"status": "reverted"})).is_terminal());
    assert!(!view(json!({"status": "waiting", "kind": "progressive", "metrics": []})).guarded);
    // The current step of a phase beyond the list, or a step not started: no end.
    let mut v = view(running("progressive", 0, 0, 1_000));
    v.current_phase_index = Some(5);
    assert_eq!(v.step_end(), None);
    let v = view(json!({"status": "in_progress", "currentPhaseIndex": 0,
      "phases": [{"currentStepIndex": 0, "steps": [{"durationMillis": 5}]}]}));
    assert_eq!(v.step_end(), None);
    let release = Release::from_body(br#"{"status": 3}"#.to_vec(), 200).unwrap();
    let error = WatchView::from_release(&release).unwrap_err();
    assert_eq!(error.code, ErrorCode::Decode);
    assert!(error.message.contains("status"), "{}", error.message);
  }

  #[test]
  fn changes_are_what_a_person_would_see() {
    let base = view(running("guarded", 0, 0, 1_000));
    assert!(!changed(&base, &base.clone()));
    let mut times = base.clone();
    times.phases[0].steps[0].0 = Some(2_000);
    assert!(!changed(&base, &times), "a time alone is no change");
    let edits: [fn(&mut WatchView); 8] = [
      |v| v.status = "waiting".into(),
      |v| v.status_reason = Some("waiting_regression_detected".into()),
      |v| v.current_phase_index = None,
      |v| {
        v.phases.pop();
      },
      |v| v.phases[1].status = Some("reverted".into()),
      |v| v.phases[0].current_step_index = Some(1),
      |v| {
        v.phases[1]
          .metric_statuses
          .insert("latency".into(), Some("regressed".into()));
      },
      |v| v.guarded = false,
    ];
    for (i, edit) in edits.iter().enumerate() {
      let mut next = base.clone();
      edit(&mut next);
      // The kind of a release is no news (it never changes); everything else is.
      assert_eq!(changed(&base, &next), i != 7, "edit {i}");
    }
    let mut first = base.clone();
    first.phases[0]
      .metric_statuses
      .insert("latency".into(), Some("ok".into()));
    let mut second = first.clone();
    second.phases[0]
      .metric_statuses
      .insert("latency".into(), Some("regressed".into()));
    assert!(changed(&first, &second));
  }

  #[test]
  fn polls_follow_the_step_schedule_within_the_bound() {
    let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
    // A step from 1,000 to 61,000: read just after its end, bounded by the interval.
    let progressive = view(running("progressive", 0, 0, 1_000));
    assert_eq!(ms(next_poll(&progressive, 31_000, None)), Some(30_500));
    assert_eq!(
      ms(next_poll(&progressive, 31_000, Some(10_000))),
      Some(10_000)
    );
    let guarded = view(running("guarded", 0, 0, 1_000));
    assert_eq!(
      ms(next_poll(&guarded, 1_000, None)),
      Some(GUARDED_INTERVAL_MS)
    );
    assert_eq!(ms(next_poll(&guarded, 50_000, None)), Some(11_500));
    // A long step of a progressive release: the default bound is 5 minutes.
    let mut long = progressive.clone();
    long.phases[0].steps[0].1 = Some(3_600_000);
    assert_eq!(
      ms(next_poll(&long, 1_000, None)),
      Some(PROGRESSIVE_INTERVAL_MS)
    );
    // Over time: soon, then less often.
    assert_eq!(
      ms(next_poll(&progressive, 61_000, None)),
      Some(STEP_END_MARGIN_MS)
    );
    assert_eq!(
      ms(next_poll(&progressive, 61_500, None)),
      Some(OVERDUE_POLL_MS)
    );
    assert_eq!(
      ms(next_poll(&progressive, 70_999, None)),
      Some(OVERDUE_POLL_MS)
    );
    assert_eq!(
      ms(next_poll(&progressive, 71_000, None)),
      Some(PENDING_POLL_MS)
    );
    assert_eq!(
      ms(next_poll(&progressive, 71_000, Some(2_000))),
      Some(2_000)
    );
    // Just before the margin ends: never less than the floor.
    assert_eq!(
      ms(next_poll(&progressive, 61_499, None)),
      Some(MIN_INTERVAL_MS)
    );
    // Pending, waiting, between phases.
    let mut pending = progressive.clone();
    pending.status = "pending".into();
    assert_eq!(ms(next_poll(&pending, 0, None)), Some(PENDING_POLL_MS));
    assert_eq!(ms(next_poll(&pending, 0, Some(1_000))), Some(1_000));
    let mut waiting = progressive.clone();
    waiting.status = "waiting".into();
    assert_eq!(ms(next_poll(&waiting, 0, None)), Some(WAITING_POLL_MS));
    assert_eq!(ms(next_poll(&waiting, 0, Some(3_000))), Some(3_000));
    let mut between = progressive.clone();
    between.current_phase_index = None;
    assert_eq!(ms(next_poll(&between, 0, None)), Some(PENDING_POLL_MS));
    // Ended: no more reads.
    let mut done = guarded.clone();
    done.status = "completed".into();
    assert_eq!(next_poll(&done, 0, None), None);
    done.status = "reverted".into();
    assert_eq!(next_poll(&done, 0, None), None);
  }

  #[test]
  fn a_watch_checks_its_interval() {
    let keys = ("web", "f", "prod");
    for ms in [MIN_INTERVAL_MS, MAX_INTERVAL_MS] {
      assert!(Watch::new(&config(), keys, "r", Some(ms)).is_ok());
    }
    for ms in [MIN_INTERVAL_MS - 1, MAX_INTERVAL_MS + 1] {
      let error = Watch::new(&config(), keys, "r", Some(ms)).unwrap_err();
      assert!(error.message.starts_with("intervalMs"), "{}", error.message);
    }
    let watch = Watch::new(&config(), keys, "r", None).unwrap();
    assert!(!watch.is_done());
    assert!(format!("{watch:?}").contains("releases/r"));
    let mut watch = watch;
    watch.finish();
    assert!(watch.is_done());
    assert!(system_clock() > 1_700_000_000_000);
  }

  const HOUR: u64 = 3_600_000;
  const T: u64 = 1_765_000_000_000;

  fn reading(sent: u64, received: u64, server: u64) -> Reading {
    Reading {
      sent,
      received,
      server,
    }
  }

  #[test]
  fn without_readings_the_clients_clock_is_used() {
    let clock = ServerClock::default();
    assert_eq!(clock.now(T), T);
    assert_eq!(clock.rate(), 1.0);
    assert!(clock.is_calibrated());
    assert_eq!(
      clock.local_wait(Duration::from_millis(7_000)),
      Duration::from_millis(7_000)
    );
  }

  #[test]
  fn a_skewed_server_is_followed_at_real_rate() {
    for skew in [HOUR as i64, -(HOUR as i64), 1_400, -900] {
      let server = |local: u64| (local as i64 + skew) as u64 / 1000 * 1000;
      let mut clock = ServerClock::default();
      clock.observe(reading(T, T + 40, server(T + 20)));
      assert!(!clock.is_calibrated(), "one reading");
      // A lower bound: at most a second (the Date's resolution) and the trip behind.
      let now = clock.now(T + 1_040);
      let truth = (T as i64 + 1_040 + skew) as u64;
      assert!(
        now <= truth && truth - now < 1_100,
        "{skew}: {now} vs {truth}"
      );
      clock.observe(reading(T + 2_500, T + 2_530, server(T + 2_515)));
      assert!(clock.is_calibrated());
      assert_eq!(clock.rate(), 1.0, "{skew}");
      assert_eq!(
        clock.local_wait(Duration::from_secs(900)),
        Duration::from_secs(900)
      );
      // Readings narrow the offset: the largest lower bound is kept.
      for k in 1..=20 {
        let at = T + 2_530 + k * 30_037;
        clock.observe(reading(at - 10, at, server(at - 5)));
      }
      let at = T + 700_000;
      let truth = (at as i64 + skew) as u64;
      let now = clock.now(at);
      assert!(now <= truth && truth - now < 250, "{skew}: {}", truth - now);
      assert_eq!(clock.rate(), 1.0);
    }
  }

  #[test]
  fn a_clock_is_calibrated_by_two_readings_a_second_apart() {
    let mut clock = ServerClock::default();
    clock.observe(reading(T, T + 10, T + HOUR));
    clock.observe(reading(T + 990, T + 1_009, T + HOUR + 1_000));
    assert!(!clock.is_calibrated());
    clock.observe(reading(T + 1_000, T + 1_010, T + HOUR + 1_000));
    assert!(clock.is_calibrated());
    // The second reading puts the server furthest ahead: 1 ms more than the others.
    assert_eq!(clock.now(T + 1_010), T + HOUR + 1_001);
    assert_eq!(
      clock.now(T + 1_000),
      T + HOUR + 991,
      "before the base reading"
    );
  }

  #[test]
  fn readings_within_the_resolution_and_slack_keep_the_estimate() {
    let mut clock = ServerClock::default();
    clock.observe(reading(T, T, T + HOUR));
    // A second a reading truncated late, off by 1 s: the same clock, the first
    // reading's offset kept (it is the larger lower bound).
    clock.observe(reading(T + 5_000, T + 5_000, T + HOUR + 4_000));
    assert_eq!(clock.now(T + 6_000), T + HOUR + 6_000);
    // 1.1 s further than this machine's clock in 3 s: within the resolution and slack,
    // no faster clock.
    let mut clock = ServerClock::default();
    clock.observe(reading(T, T, T));
    clock.observe(reading(T + 3_000, T + 3_000, T + 4_100));
    assert_eq!(clock.rate(), 1.0);
  }

  #[test]
  fn a_slow_answer_is_no_faster_clock() {
    let mut clock = ServerClock::default();
    // The first answer took 3 s: its Date was stamped early in that trip.
    clock.observe(reading(T, T + 3_000, T + 100));
    clock.observe(reading(T + 5_000, T + 5_010, T + 5_000));
    assert_eq!(clock.rate(), 1.0);
    assert_eq!(clock.now(T + 6_010), T + 6_000);
  }

  #[test]
  fn a_sped_up_clock_is_learned_and_waits_err_early() {
    let speed = 20.0;
    let server = |local: u64| T + ((local - T) as f64 * speed) as u64 / 1000 * 1000;
    let mut clock = ServerClock::default();
    clock.observe(reading(T, T + 5, server(T + 2)));
    clock.observe(reading(T + 2_000, T + 2_005, server(T + 2_002)));
    let rate = clock.rate();
    assert!((19.0..=21.0).contains(&rate), "{rate}");
    // A wait of 10 minutes on the server's clock: about 30 s here, never more.
    let wait = clock.local_wait(Duration::from_secs(600)).as_millis() as u64;
    assert!((28_000..=30_000).contains(&wait), "{wait}");
    let at = T + 32_005;
    clock.observe(reading(at - 5, at, server(at - 2)));
    let rate = clock.rate();
    assert!((19.9..=20.1).contains(&rate), "{rate}");
    let now = clock.now(at + 1_000);
    let truth = T + 33_005 * 20;
    assert!(now.abs_diff(truth) < 1_500, "{now} vs {truth}");
    let wait = clock.local_wait(Duration::from_secs(600)).as_millis() as u64;
    assert!((29_000..=30_000).contains(&wait), "{wait}");
    // More readings, truncated at other points of their second: the estimate keeps the
    // one furthest ahead along the rate, and comes within a few hundred ms.
    for k in 1..=12u64 {
      let at = T + 32_005 + k * 1_537;
      clock.observe(reading(at - 5, at, server(at - 2)));
    }
    let at = T + 52_000;
    let truth = T + (52_000 - 3) * 20;
    let now = clock.now(at);
    assert!(
      now <= truth + 200 && now.abs_diff(truth) < 400,
      "{now} vs {truth}"
    );
  }

  #[test]
  fn at_a_learned_rate_the_tolerance_grows_with_it() {
    // Ten times real rate, read exactly: the tolerance of a reading is its trip, the
    // Date's resolution and the slack, times the rate (here 12,500 server ms).
    let mut clock = ServerClock::default();
    clock.observe(reading(T, T, T));
    clock.observe(reading(T + 2_000, T + 2_000, T + 20_000));
    clock.observe(reading(T + 4_000, T + 4_000, T + 40_000));
    assert!((clock.rate() - 10.0).abs() < 0.01, "{}", clock.rate());
    // 5 s of server time behind the estimate: within that tolerance, so the rate is
    // measured on from the first reading (55,000 over 6,000 ms), not started again
    // from the reading before (15,000 over 2,000 ms).
    clock.observe(reading(T + 6_000, T + 6_000, T + 55_000));
    let rate = clock.rate();
    assert!((9.1..=9.2).contains(&rate), "{rate}");
  }

  #[test]
  fn the_clocks_edges_are_kept_as_they_are_drawn() {
    // A reading received at the very moment of the one before is no clock set back: a
    // learned rate stays.
    let mut clock = ServerClock::default();
    clock.observe(reading(T, T, T));
    clock.observe(reading(T + 2_000, T + 2_000, T + 20_000));
    clock.observe(reading(T + 2_000, T + 2_000, T + 20_000));
    assert!((clock.rate() - 10.0).abs() < 0.01, "{}", clock.rate());
    // A reading received before the one before (the client's clock set back) starts
    // again from it alone, however well it fits: one reading is not calibrated.
    let mut clock = ServerClock::default();
    clock.observe(reading(T, T, T));
    clock.observe(reading(T + 3_000, T + 3_000, T + 3_000));
    assert!(clock.is_calibrated());
    clock.observe(reading(T + 2_000, T + 2_000, T + 2_000));
    assert!(!clock.is_calibrated());
    // Exactly at the tolerance (no trip: the resolution and the slack) is within it.
    // The estimate then keeps the reading furthest ahead, not the late one.
    let mut clock = ServerClock::default();
    clock.observe(reading(T, T, T));
    clock.observe(reading(T + 2_000, T + 2_000, T + 2_000));
    clock.observe(reading(T + 4_000, T + 4_000, T + 4_000 - 1_250));
    assert_eq!(clock.now(T + 5_000), T + 5_000);
    // A server ahead by exactly the local bound (the span, the resolution and the
    // slack) is not yet faster than real time.
    let mut clock = ServerClock::default();
    clock.observe(reading(T, T, T));
    clock.observe(reading(T + 2_000, T + 2_000, T + 3_250));
    assert_eq!(clock.rate(), 1.0);
  }

  #[test]
  fn a_reading_with_no_time_since_the_one_before_learns_no_rate() {
    // The client's clock set back while the server's moved on: no time between the
    // two readings to measure a rate over.
    let mut clock = ServerClock::default();
    clock.observe(reading(T, T, T));
    clock.observe(reading(T + 3_000, T + 3_000, T + 3_000));
    clock.observe(reading(T + 1_000, T + 1_000, T + 5_000));
    assert_eq!(clock.rate(), 1.0);
    assert_eq!(clock.now(T + 2_000), T + 6_000);
    // Two readings at one moment, the second an hour on (the server's clock set).
    let mut clock = ServerClock::default();
    clock.observe(reading(T, T, T));
    clock.observe(reading(T + 3_000, T + 3_000, T + 3_000));
    clock.observe(reading(T + 3_000, T + 3_000, T + HOUR));
    assert_eq!(clock.rate(), 1.0);
    assert_eq!(clock.now(T + 4_000), T + HOUR + 1_000);
  }

  #[test]
  fn a_clock_set_or_slowed_is_learned_again() {
    let mut clock = ServerClock::default();
    clock.observe(reading(T, T, T));
    clock.observe(reading(T + 3_000, T + 3_000, T + 3_000));
    // Set an hour forward, then running at real rate again.
    clock.observe(reading(T + 4_000, T + 4_000, T + HOUR + 4_000));
    clock.observe(reading(T + 9_000, T + 9_000, T + HOUR + 9_000));
    assert_eq!(clock.rate(), 1.0);
    assert_eq!(clock.now(T + 10_000), T + HOUR + 10_000);
    // Set back two hours.
    clock.observe(reading(T + 12_000, T + 12_000, T - HOUR + 12_000));
    clock.observe(reading(T + 15_000, T + 15_000, T - HOUR + 15_000));
    assert_eq!(clock.rate(), 1.0);
    assert_eq!(clock.now(T + 16_000), T - HOUR + 16_000);
    // Sped up 10 times, then back to real rate.
    let mut at = T + 20_000;
    let mut server = T - HOUR + 20_000;
    clock.observe(reading(at, at, server));
    for _ in 0..3 {
      at += 2_000;
      server += 20_000;
      clock.observe(reading(at, at, server));
    }
    assert!((clock.rate() - 10.0).abs() < 0.01, "{}", clock.rate());
    assert_eq!(clock.now(at + 100), server + 1_000);
    for _ in 0..2 {
      at += 5_000;
      server += 5_000;
      clock.observe(reading(at, at, server));
    }
    assert_eq!(clock.rate(), 1.0);
    assert_eq!(clock.now(at + 100), server + 100);
    // The client's clock set back: that reading starts again.
    clock.observe(reading(at - 60_000, at - 60_000, server + 1_000));
    assert_eq!(clock.now(at - 59_000), server + 2_000);
    assert_eq!(clock.now(at - 61_000), server);
  }

  #[test]
  fn a_watch_waits_on_the_servers_clock() {
    let local = Arc::new(std::sync::atomic::AtomicU64::new(T));
    let now = local.clone();
    let mut watch = Watch::new(&config(), ("web", "f", "prod"), "r", None)
      .unwrap()
      .with_clock(Arc::new(move || {
        now.load(std::sync::atomic::Ordering::SeqCst)
      }));
    assert_eq!(watch.next_wait(), None, "before the first read");
    // The server is an hour ahead: its step ends 60 s from now, on its clock.
    watch.last = Some(view(running("progressive", 0, 0, T + HOUR)));
    watch.server.observe(reading(T, T, T + HOUR));
    assert_eq!(
      watch.next_wait(),
      Some(Duration::from_millis(CALIBRATION_MS))
    );
    local.store(T + 2_000, std::sync::atomic::Ordering::SeqCst);
    watch
      .server
      .observe(reading(T + 2_000, T + 2_000, T + HOUR + 2_000));
    assert_eq!(watch.next_wait(), Some(Duration::from_millis(58_500)));
    // Past the step's end: the floor.
    local.store(T + 60_499, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
      watch.next_wait(),
      Some(Duration::from_millis(MIN_INTERVAL_MS))
    );
    watch.last = Some(view(json!({"status": "completed"})));
    assert_eq!(watch.next_wait(), None);
    assert_eq!(watch.server_clock().rate(), 1.0);
  }

  #[test]
  fn a_watch_on_a_sped_up_clock_waits_less_but_never_under_its_floors() {
    let local = Arc::new(std::sync::atomic::AtomicU64::new(T));
    let now = local.clone();
    let mut watch = Watch::new(&config(), ("web", "f", "prod"), "r", None)
      .unwrap()
      .with_clock(Arc::new(move || {
        now.load(std::sync::atomic::Ordering::SeqCst)
      }));
    watch.last = Some(view(running("progressive", 0, 0, T)));
    watch.server.observe(reading(T, T, T));
    // Ten times real time, learned over 10 s: the step's end (60.5 s on the server's
    // clock, 10.5 s left) is 10.5 s / 10.1 away here.
    watch
      .server
      .observe(reading(T + 5_000, T + 5_000, T + 50_000));
    local.store(T + 5_000, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
      watch.next_wait(),
      Some(Duration::from_secs_f64(10.5 / 10.2))
    );
    // Just past the end: a second on the server's clock.
    local.store(T + 6_050, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(watch.next_wait(), Some(Duration::from_secs_f64(1.0 / 10.2)));
    // 50 ms before it: MIN_INTERVAL_MS on the server's clock is under the client's floor.
    local.store(T + 6_045, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
      watch.next_wait(),
      Some(Duration::from_millis(MIN_LOCAL_WAIT_MS))
    );
    // A hundred times real time, learned again from the reading before: the step is
    // long over, and the 5 s between reads on the server's clock are 5 s / 101 here.
    watch
      .server
      .observe(reading(T + 6_000, T + 6_000, T + 150_000));
    assert_eq!(watch.server_clock().rate(), 100.0);
    assert_eq!(
      watch.next_wait(),
      Some(Duration::from_secs_f64(5.0 / 101.0))
    );
  }
}
