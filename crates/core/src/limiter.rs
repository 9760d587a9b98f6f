//! One gate per client for LaunchDarkly's rate limits.
//!
//! Every request of a client passes through its `Limiter` before it is sent. The gate
//! learns three families of budget, each with its own windows: the route's
//! (`X-Ratelimit-Route-Remaining`, per route: `route_of`), the account's
//! (`X-Ratelimit-Global-Remaining`), both renewed at `X-Ratelimit-Reset`, and the access
//! token's (`X-Ratelimit-Auth-Token-Remaining`, renewed at its own
//! `X-Ratelimit-Auth-Token-Reset`). When a budget a request needs is spent, the request
//! waits for the latest of the resets concerned instead of being sent to collect 429s.
//! A 429 pauses every request of the client. Without headers the gate stays open and
//! callers fall back to their own backoff.
//!
//! The gate never holds a request without bound: a reset that is not a number or more
//! than [`MAX_RESET_AHEAD_MS`] ahead is ignored, and a request the gate would hold longer
//! than its caller's limit is refused at once (see [`Limiter::acquire`]).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use reqwest::header::HeaderMap;

/// Answers of an older window that arrive late are recognised with this tolerance.
const SAME_WINDOW: Duration = Duration::from_millis(50);
/// Waits for a reset end a little after it, so the server has surely moved on.
pub const RESET_MARGIN_MS: u64 = 15;
/// A reset further ahead than this (one hour) is nonsense for LaunchDarkly's windows,
/// which last seconds: it is ignored.
pub const MAX_RESET_AHEAD_MS: u64 = 3_600_000;

/// How long until the reset `value` (`X-Ratelimit-Reset`, epoch milliseconds) when
/// `now_ms` is the wall clock: `None` when it is not a number or more than an hour ahead,
/// 0 when it is past.
pub fn reset_in_ms(value: &str, now_ms: u64) -> Option<u64> {
  let at = value.trim().parse::<u64>().ok()?;
  let wait = at.saturating_sub(now_ms);
  (wait <= MAX_RESET_AHEAD_MS).then_some(wait)
}

/// What the gate says to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
  Go,
  WaitUntil(Instant, Hold),
}

/// Why the gate holds a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
  /// A 429 paused every request of the client, for as long as the server asked.
  Paused,
  /// The window's budget (`X-Ratelimit-*-Remaining`) is spent until its reset
  /// (`X-Ratelimit-Reset`).
  Budget,
}

impl Hold {
  pub fn as_str(self) -> &'static str {
    match self {
      Hold::Paused => "paused",
      Hold::Budget => "budget",
    }
  }
}

/// The rate-limit facts of one answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observation {
  /// The smaller of the route and global remaining counts, when either was sent: the
  /// budget of the request's route.
  pub remaining: Option<u64>,
  /// Time until the window resets, from `X-Ratelimit-Reset`.
  pub reset_in: Option<Duration>,
  /// On a 429: how long every request should hold off.
  pub pause: Option<Duration>,
  /// `X-Ratelimit-Global-Remaining`: the budget every route of the account shares.
  pub global_remaining: Option<u64>,
  /// `X-Ratelimit-Auth-Token-Remaining`: the budget of the access token.
  pub token_remaining: Option<u64>,
  /// Time until the token's window resets, from `X-Ratelimit-Auth-Token-Reset`.
  pub token_reset_in: Option<Duration>,
}

impl Observation {
  /// Reads the headers of an answer (`now_ms` is the wall clock in epoch milliseconds).
  pub fn from_headers(headers: &HeaderMap, now_ms: u64) -> Self {
    let number = |name: &str| {
      headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let reset = |name: &str| {
      headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| reset_in_ms(v, now_ms))
        .map(Duration::from_millis)
    };
    let global = number("x-ratelimit-global-remaining");
    let remaining = match (number("x-ratelimit-route-remaining"), global) {
      (Some(a), Some(b)) => Some(a.min(b)),
      (a, b) => a.or(b),
    };
    Observation {
      remaining,
      reset_in: reset("x-ratelimit-reset"),
      pause: None,
      global_remaining: global,
      token_remaining: number("x-ratelimit-auth-token-remaining"),
      token_reset_in: reset("x-ratelimit-auth-token-reset"),
    }
  }
}

/// The budget of one rate-limit window: a route's, the account's (global) or the token's.
#[derive(Debug, Default)]
struct Window {
  /// Requests the current window still allows, less those sent since the server said so.
  remaining: Option<u64>,
  /// When the current window ends.
  reset_at: Option<Instant>,
  /// Answers seen in the current window (to estimate the window's budget).
  seen_in_window: u64,
  /// The largest budget a window has shown: what a fresh window is assumed to allow.
  window_budget: Option<u64>,
  /// The longest time-to-reset seen: how long a fresh window is assumed to last.
  window_len: Option<Duration>,
}

impl Window {
  /// Starts a fresh window when the current one is over.
  fn refresh(&mut self, now: Instant) {
    if let Some(reset) = self.reset_at.filter(|reset| now >= *reset) {
      // A fresh window: assume it is like the last one until an answer says otherwise.
      self.seen_in_window = 0;
      self.remaining = self.window_budget;
      self.reset_at = self.window_len.map(|len| {
        let periods = ((now - reset).as_millis() / len.as_millis().max(1)) as u32 + 1;
        reset + len * periods
      });
    }
  }

  /// When the window's spent budget is renewed, if it is spent.
  fn held_until(&self) -> Option<Instant> {
    match (self.remaining, self.reset_at) {
      (Some(0), Some(reset)) => Some(reset),
      _ => None,
    }
  }

  /// Counts one request let through.
  fn take(&mut self) {
    if let Some(n) = self.remaining {
      self.remaining = Some(n.saturating_sub(1));
    }
  }

  fn observe(
    &mut self,
    now: Instant,
    remaining: Option<u64>,
    reset_in: Option<Duration>,
    in_flight: u64,
  ) {
    let Some(reset_in) = reset_in else {
      return;
    };
    let reset = now + reset_in + Duration::from_millis(RESET_MARGIN_MS);
    let new_window = match self.reset_at {
      Some(current) if reset + SAME_WINDOW < current => return, // a late answer of an older window
      Some(current) => reset > current + SAME_WINDOW,
      None => true,
    };
    if new_window {
      self.seen_in_window = 0;
      self.window_len = Some(self.window_len.map_or(reset_in, |len| len.max(reset_in)));
    }
    self.reset_at = Some(reset);
    self.seen_in_window += 1;
    if let Some(remaining) = remaining {
      // The server may not have counted the requests still in flight: assume it has not.
      self.remaining = Some(remaining.saturating_sub(in_flight));
      let budget = remaining + self.seen_in_window;
      self.window_budget = Some(self.window_budget.map_or(budget, |b| b.max(budget)));
    }
  }
}

/// How many routes a gate keeps windows for before it starts over.
const MAX_ROUTES: usize = 256;

#[derive(Debug, Default)]
struct State {
  /// The windows of the routes requests went to (`Limiter::route_of`); requests without a
  /// route share the window of `""`.
  routes: std::collections::HashMap<String, Window>,
  /// The account's window, shared by every route (`X-Ratelimit-Global-Remaining`).
  global: Window,
  /// The access token's window (`X-Ratelimit-Auth-Token-*`), with its own reset.
  token: Window,
  /// No request starts before this (after a 429).
  paused_until: Option<Instant>,
  /// Requests let through whose answer has not been observed yet.
  in_flight: u64,
}

impl State {
  fn decide(&mut self, now: Instant, route: &str) -> Decision {
    if let Some(until) = self.paused_until {
      if until > now {
        return Decision::WaitUntil(until, Hold::Paused);
      }
      self.paused_until = None;
    }
    if !self.routes.contains_key(route) && self.routes.len() >= MAX_ROUTES {
      self.routes.clear();
    }
    let State {
      routes,
      global,
      token,
      in_flight,
      ..
    } = self;
    let mut windows = [routes.entry(route.to_string()).or_default(), global, token];
    let mut held: Option<Instant> = None;
    for window in windows.iter_mut() {
      window.refresh(now);
      held = held.max(window.held_until());
    }
    if let Some(until) = held {
      // The later of the resets of the windows that are spent.
      return Decision::WaitUntil(until, Hold::Budget);
    }
    for window in windows.iter_mut() {
      window.take();
    }
    *in_flight += 1;
    Decision::Go
  }

  fn observe(&mut self, now: Instant, route: &str, seen: Observation) {
    if let Some(pause) = seen.pause {
      let until = now + pause;
      self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
      let window = &mut self.global;
      window.remaining = Some(0);
      window.reset_at = Some(window.reset_at.map_or(until, |r| r.max(until)));
      return;
    }
    let in_flight = self.in_flight;
    if !self.routes.contains_key(route) && self.routes.len() >= MAX_ROUTES {
      self.routes.clear();
    }
    let window = self.routes.entry(route.to_string()).or_default();
    window.observe(now, seen.remaining, seen.reset_in, in_flight);
    self
      .global
      .observe(now, seen.global_remaining, seen.reset_in, in_flight);
    self
      .token
      .observe(now, seen.token_remaining, seen.token_reset_in, in_flight);
  }
}

/// The gate. Cheap to share: one per client.
#[derive(Debug, Default)]
pub struct Limiter {
  state: Mutex<State>,
}

impl Limiter {
  pub fn new() -> Self {
    Limiter::default()
  }

  fn lock(&self) -> std::sync::MutexGuard<'_, State> {
    self
      .state
      .lock()
      .unwrap_or_else(|poisoned| poisoned.into_inner())
  }

  /// What a request should do now.
  pub fn decide(&self, now: Instant) -> Decision {
    self.decide_on(now, "")
  }

  /// What a request to `route` (see `route_of`) should do now.
  pub fn decide_on(&self, now: Instant, route: &str) -> Decision {
    self.lock().decide(now, route)
  }

  /// Learns from the end of a request let through by `decide`: call it once per such
  /// request, with `Observation::default()` when there was no answer.
  pub fn observe(&self, now: Instant, seen: Observation) {
    self.observe_on(now, "", seen)
  }

  /// `observe` for a request to `route`, let through by `decide_on`.
  pub fn observe_on(&self, now: Instant, route: &str, seen: Observation) {
    let mut state = self.lock();
    state.in_flight = state.in_flight.saturating_sub(1);
    state.observe(now, route, seen);
  }

  /// Waits until the gate lets one request through, for at most `max_wait` in all.
  /// When the gate would hold the request past that, it returns at once with how long it
  /// would have had to wait. Cancelled by dropping the future. The permit reports the
  /// answer; dropped unreported (the request was cancelled), it only frees its place.
  pub async fn acquire(&self, max_wait: Duration) -> Result<Permit<'_>, Duration> {
    self.acquire_with(max_wait, |_, _| {}).await
  }

  /// `acquire`, calling `on_wait` with how long and why before each time the gate holds
  /// the request.
  pub async fn acquire_with(
    &self,
    max_wait: Duration,
    on_wait: impl FnMut(Duration, Hold),
  ) -> Result<Permit<'_>, Duration> {
    self.acquire_on("", max_wait, on_wait).await
  }

  /// `acquire_with` for a request to `route` (see `route_of`): it passes when its route's
  /// window, the account's and the token's all have budget, and otherwise waits for the
  /// latest of the resets of those that are spent.
  pub async fn acquire_on(
    &self,
    route: &str,
    max_wait: Duration,
    mut on_wait: impl FnMut(Duration, Hold),
  ) -> Result<Permit<'_>, Duration> {
    let start = Instant::now();
    let deadline = start + max_wait;
    loop {
      let now = Instant::now();
      match self.decide_on(now, route) {
        Decision::Go => {
          return Ok(Permit {
            limiter: Some(self),
            route: route.to_string(),
          })
        }
        Decision::WaitUntil(at, _) if at > deadline => return Err(at - now),
        Decision::WaitUntil(at, hold) => {
          let jitter = Duration::from_millis(rand::random_range(0..=RESET_MARGIN_MS));
          let until = at + jitter;
          on_wait(until.saturating_duration_since(now), hold);
          tokio::time::sleep_until(until).await;
        }
      }
    }
  }
}

/// One request let through the gate.
#[derive(Debug)]
pub struct Permit<'a> {
  limiter: Option<&'a Limiter>,
  route: String,
}

impl Permit<'_> {
  /// Reports how the request ended.
  pub fn observe(mut self, seen: Observation) {
    if let Some(limiter) = self.limiter.take() {
      limiter.observe_on(Instant::now(), &self.route, seen);
    }
  }
}

impl Drop for Permit<'_> {
  fn drop(&mut self) {
    if let Some(limiter) = self.limiter.take() {
      limiter.observe_on(Instant::now(), &self.route, Observation::default());
    }
  }
}

/// The route a request goes to, as LaunchDarkly's per-route limits count it: the method
/// and the path with every key left out (`PATCH api/v2/flags/*/*/release`).
pub fn route_of(method: &str, path: &str) -> String {
  const LITERALS: [&str; 10] = [
    "api",
    "v2",
    "flags",
    "projects",
    "release",
    "release-pipelines",
    "releases",
    "phases",
    "environments",
    "stop",
  ];
  let mut route = method.to_string();
  for segment in path.split('/').filter(|s| !s.is_empty()) {
    route.push(' ');
    route.push_str(if LITERALS.contains(&segment) {
      segment
    } else {
      "*"
    });
  }
  route
}

#[cfg(test)]
mod tests {
  use super::*;
  use reqwest::header::HeaderValue;

  fn seen(remaining: u64, reset_ms: u64) -> Observation {
    Observation {
      remaining: Some(remaining),
      reset_in: Some(Duration::from_millis(reset_ms)),
      ..Default::default()
    }
  }

  #[test]
  fn reads_the_smaller_remaining_count() {
    let mut h = HeaderMap::new();
    h.insert("x-ratelimit-route-remaining", HeaderValue::from_static("7"));
    h.insert(
      "x-ratelimit-global-remaining",
      HeaderValue::from_static("3"),
    );
    h.insert("x-ratelimit-reset", HeaderValue::from_static("1000001500"));
    let o = Observation::from_headers(&h, 1_000_000_000);
    assert_eq!(o.remaining, Some(3));
    assert_eq!(o.reset_in, Some(Duration::from_millis(1500)));
    assert_eq!(
      Observation::from_headers(&HeaderMap::new(), 0),
      Observation::default()
    );
  }

  #[test]
  fn open_without_headers() {
    let limiter = Limiter::new();
    let now = Instant::now();
    for _ in 0..100 {
      assert_eq!(limiter.decide(now), Decision::Go);
    }
    limiter.observe(now, Observation::default());
    assert_eq!(limiter.decide(now), Decision::Go);
  }

  #[test]
  fn spent_budget_waits_for_the_reset_then_refills() {
    let limiter = Limiter::new();
    let t0 = Instant::now();
    assert_eq!(limiter.decide(t0), Decision::Go);
    limiter.observe(t0, seen(2, 1000)); // window of 3: this answer plus 2 more
    assert_eq!(limiter.decide(t0), Decision::Go);
    assert_eq!(limiter.decide(t0), Decision::Go);
    let Decision::WaitUntil(at, Hold::Budget) = limiter.decide(t0) else {
      panic!("the budget is spent")
    };
    assert!(at >= t0 + Duration::from_millis(1000));
    // After the reset, a fresh window allows what the last one did, before any answer.
    let later = at + Duration::from_millis(1);
    for _ in 0..3 {
      assert_eq!(limiter.decide(later), Decision::Go);
    }
    assert!(matches!(
      limiter.decide(later),
      Decision::WaitUntil(_, Hold::Budget)
    ));
  }

  #[test]
  fn in_flight_requests_count_against_a_lagging_server() {
    let limiter = Limiter::new();
    let t0 = Instant::now();
    limiter.observe(t0, seen(10, 1000));
    for _ in 0..6 {
      assert_eq!(limiter.decide(t0), Decision::Go);
    }
    // An answer counted before those six were sent must not give them back.
    limiter.observe(t0, seen(9, 1000));
    let gone: usize = (0..10)
      .filter(|_| limiter.decide(t0) == Decision::Go)
      .count();
    assert_eq!(gone, 4);
  }

  #[test]
  fn a_429_pauses_everyone() {
    let limiter = Limiter::new();
    let t0 = Instant::now();
    limiter.observe(
      t0,
      Observation {
        pause: Some(Duration::from_millis(700)),
        ..Default::default()
      },
    );
    assert_eq!(
      limiter.decide(t0 + Duration::from_millis(100)),
      Decision::WaitUntil(t0 + Duration::from_millis(700), Hold::Paused)
    );
    assert_eq!(
      limiter.decide(t0 + Duration::from_millis(701)),
      Decision::Go
    );
  }

  #[test]
  fn late_answers_of_an_old_window_are_ignored() {
    let limiter = Limiter::new();
    let t0 = Instant::now();
    limiter.observe(t0, seen(5, 1000));
    let t1 = t0 + Duration::from_millis(1100);
    limiter.observe(t1, seen(19, 1000)); // new window
    limiter.observe(t1, seen(0, 0)); // straggler from the first window
    assert_eq!(limiter.decide(t1), Decision::Go);
  }

  #[test]
  fn a_window_first_seen_late_keeps_the_longest_length() {
    let limiter = Limiter::new();
    let t0 = Instant::now();
    // A window of 1 s and 3 requests.
    limiter.observe(t0, seen(2, 1000));
    // The next window's first answer comes 900 ms into it: its reset is 100 ms away,
    // and its budget is spent.
    let t1 = t0 + Duration::from_millis(1900);
    limiter.observe(t1, seen(0, 100));
    let Decision::WaitUntil(reset, _) = limiter.decide(t1) else {
      panic!("the budget is spent")
    };
    // After that reset, a fresh window is assumed to last as long as the longest seen
    // (1 s), not as long as the 100 ms that happened to be left when it was first seen.
    let after = reset + Duration::from_millis(1);
    for _ in 0..3 {
      assert_eq!(limiter.decide(after), Decision::Go);
    }
    let Decision::WaitUntil(next, _) = limiter.decide(after) else {
      panic!("the fresh window's budget is spent")
    };
    assert_eq!(next - reset, Duration::from_millis(1000));
  }

  const MINUTE: Duration = Duration::from_secs(60);

  #[test]
  fn each_family_has_its_own_window_and_the_later_reset_holds() {
    let limiter = Limiter::new();
    let t0 = Instant::now();
    // The route has budget; the token's is spent until 5 s from now.
    limiter.observe_on(
      t0,
      "GET a",
      Observation {
        remaining: Some(10),
        reset_in: Some(Duration::from_millis(1000)),
        token_remaining: Some(0),
        token_reset_in: Some(Duration::from_millis(5000)),
        ..Default::default()
      },
    );
    assert_eq!(
      limiter.decide_on(t0, "GET a"),
      Decision::WaitUntil(
        t0 + Duration::from_millis(5000 + RESET_MARGIN_MS),
        Hold::Budget
      )
    );
    // Another route is held by the token too: its limit is the token's, not a route's.
    assert!(matches!(
      limiter.decide_on(t0, "PATCH a"),
      Decision::WaitUntil(_, Hold::Budget)
    ));
    // Route windows are apart: a spent route holds only its own requests.
    let routes = Limiter::new();
    routes.observe_on(t0, "GET a", seen(0, 2000));
    routes.observe_on(t0, "PATCH a", seen(4, 1000));
    assert!(matches!(
      routes.decide_on(t0, "GET a"),
      Decision::WaitUntil(_, Hold::Budget)
    ));
    assert_eq!(routes.decide_on(t0, "PATCH a"), Decision::Go);
    // The account's budget (global) holds every route, until the later of the resets.
    let global = Limiter::new();
    global.observe_on(
      t0,
      "GET a",
      Observation {
        remaining: Some(0),
        global_remaining: Some(0),
        reset_in: Some(Duration::from_millis(3000)),
        ..Default::default()
      },
    );
    assert_eq!(
      global.decide_on(t0, "DELETE b"),
      Decision::WaitUntil(
        t0 + Duration::from_millis(3000 + RESET_MARGIN_MS),
        Hold::Budget
      )
    );
  }

  #[test]
  fn the_token_family_is_read_with_its_own_reset() {
    let mut h = HeaderMap::new();
    h.insert("x-ratelimit-route-remaining", HeaderValue::from_static("7"));
    h.insert(
      "x-ratelimit-global-remaining",
      HeaderValue::from_static("9"),
    );
    h.insert("x-ratelimit-reset", HeaderValue::from_static("1000001500"));
    h.insert(
      "x-ratelimit-auth-token-remaining",
      HeaderValue::from_static("2"),
    );
    h.insert(
      "x-ratelimit-auth-token-reset",
      HeaderValue::from_static("1000060000"),
    );
    let o = Observation::from_headers(&h, 1_000_000_000);
    assert_eq!(o.remaining, Some(7));
    assert_eq!(o.global_remaining, Some(9));
    assert_eq!(o.token_remaining, Some(2));
    assert_eq!(o.token_reset_in, Some(Duration::from_millis(60_000)));
    assert_eq!(o.reset_in, Some(Duration::from_millis(1500)));
  }

  #[test]
  fn routes_leave_keys_out() {
    assert_eq!(
      route_of("PATCH", "/api/v2/flags/web/checkout/release"),
      "PATCH api v2 flags * * release"
    );
    assert_eq!(
      route_of("PATCH", "/api/v2/flags/web/other/release"),
      route_of("PATCH", "/api/v2/flags/mobile/checkout/release")
    );
    assert_eq!(
      route_of(
        "PUT",
        "/prefix/api/v2/projects/web/flags/f/release/phases/p1"
      ),
      "PUT * api v2 projects * flags * release phases *"
    );
    assert_eq!(
      route_of("GET", "/api/v2/projects/web/release-pipelines/p/releases"),
      "GET api v2 projects * release-pipelines * releases"
    );
    assert_ne!(
      route_of("GET", "/api/v2/flags/web/checkout/release"),
      route_of("PATCH", "/api/v2/flags/web/checkout/release")
    );
  }

  #[test]
  fn routes_are_forgotten_past_a_bound() {
    let limiter = Limiter::new();
    let t0 = Instant::now();
    limiter.observe_on(t0, "r0", seen(0, 5000));
    for n in 1..MAX_ROUTES {
      limiter.observe_on(t0, &format!("r{n}"), seen(5, 5000));
    }
    assert!(matches!(
      limiter.decide_on(t0, "r0"),
      Decision::WaitUntil(..)
    ));
    assert_eq!(limiter.lock().routes.len(), MAX_ROUTES);
    limiter.observe_on(t0, "one more", seen(5, 5000));
    assert_eq!(limiter.lock().routes.len(), 1, "started over");
    assert_eq!(limiter.decide_on(t0, "r0"), Decision::Go);
  }

  #[test]
  fn a_request_to_a_new_route_forgets_the_others_only_past_the_bound() {
    let limiter = Limiter::new();
    let t0 = Instant::now();
    limiter.observe_on(t0, "r0", seen(0, 5000));
    assert_eq!(limiter.decide_on(t0, "r1"), Decision::Go);
    assert!(
      matches!(limiter.decide_on(t0, "r0"), Decision::WaitUntil(..)),
      "a request to another route keeps the spent window"
    );
    for n in 2..MAX_ROUTES {
      limiter.observe_on(t0, &format!("r{n}"), seen(5, 5000));
    }
    assert_eq!(limiter.lock().routes.len(), MAX_ROUTES);
    assert_eq!(limiter.decide_on(t0, "one more"), Decision::Go);
    assert_eq!(limiter.lock().routes.len(), 1, "started over");
    assert_eq!(limiter.decide_on(t0, "r0"), Decision::Go);
  }

  #[tokio::test]
  async fn acquire_sleeps_until_the_reset() {
    let limiter = Limiter::new();
    limiter.observe(Instant::now(), seen(0, 120));
    let start = Instant::now();
    limiter
      .acquire(MINUTE)
      .await
      .unwrap()
      .observe(Observation::default());
    assert!(start.elapsed() >= Duration::from_millis(120));
  }

  #[tokio::test]
  async fn each_hold_is_reported_with_its_reason_before_the_wait() {
    // A spent budget: held until the reset.
    let limiter = Limiter::new();
    limiter.observe(Instant::now(), seen(0, 150));
    let mut holds = Vec::new();
    let start = Instant::now();
    limiter
      .acquire_with(MINUTE, |wait, hold| {
        holds.push((wait, hold, start.elapsed()))
      })
      .await
      .unwrap()
      .observe(Observation::default());
    assert_eq!(holds.len(), 1, "{holds:?}");
    let (wait, hold, when) = holds[0];
    assert_eq!(hold, Hold::Budget);
    assert!(
      when < Duration::from_millis(100),
      "reported before the wait"
    );
    assert!(
      wait >= Duration::from_millis(100)
        && wait <= Duration::from_millis(150 + 2 * RESET_MARGIN_MS),
      "{wait:?}"
    );
    assert!(start.elapsed() >= Duration::from_millis(150));
    // A 429's pause.
    let paused = Limiter::new();
    paused.observe(
      Instant::now(),
      Observation {
        pause: Some(Duration::from_millis(80)),
        ..Default::default()
      },
    );
    let mut holds = Vec::new();
    drop(
      paused
        .acquire_with(MINUTE, |_, hold| holds.push(hold))
        .await,
    );
    assert_eq!(holds.first(), Some(&Hold::Paused), "{holds:?}");
    // An open gate holds nothing and reports nothing; a refusal reports no wait.
    let mut reported = 0;
    drop(
      Limiter::new()
        .acquire_with(MINUTE, |_, _| reported += 1)
        .await,
    );
    let far = Limiter::new();
    far.observe(Instant::now(), seen(0, 600_000));
    assert!(far
      .acquire_with(MINUTE, |_, _| reported += 1)
      .await
      .is_err());
    assert_eq!(reported, 0);
  }

  #[tokio::test]
  async fn requests_held_by_a_pause_wake_once_it_is_over() {
    // Each sleeps until the pause ends plus its own jitter (0 to 15 ms), never less: a
    // request that woke before the end would find the gate shut and be held again.
    let limiter = std::sync::Arc::new(Limiter::new());
    let pause = Duration::from_millis(60);
    let start = Instant::now();
    limiter.observe(
      start,
      Observation {
        pause: Some(pause),
        ..Default::default()
      },
    );
    let waiters: Vec<_> = (0..16)
      .map(|_| {
        let limiter = limiter.clone();
        tokio::spawn(async move {
          let mut holds = Vec::new();
          let permit = limiter
            .acquire_with(MINUTE, |wait, _| holds.push((wait, start.elapsed())))
            .await
            .unwrap();
          permit.observe(Observation::default());
          (holds, start.elapsed())
        })
      })
      .collect();
    for waiter in waiters {
      let (holds, done) = waiter.await.unwrap();
      assert_eq!(holds.len(), 1, "held again after waking: {holds:?}");
      let (wait, when) = holds[0];
      assert!(
        when + wait >= pause,
        "a wait ending before the pause: {holds:?}"
      );
      assert!(done >= pause);
    }
  }

  #[tokio::test]
  async fn a_wait_past_the_limit_is_refused_at_once() {
    let limiter = Limiter::new();
    // A 2xx answer saying the budget is spent until ten minutes from now.
    limiter.observe(Instant::now(), seen(0, 600_000));
    let start = Instant::now();
    let wait = limiter.acquire(MINUTE).await.unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(1), "no wait");
    assert!(
      wait > Duration::from_secs(590) && wait <= Duration::from_millis(600_000 + RESET_MARGIN_MS),
      "{wait:?}"
    );
    // Nothing was let through, and every later request is refused the same way.
    assert_eq!(limiter.lock().in_flight, 0);
    assert!(limiter.acquire(MINUTE).await.is_err());
    // A pause past the limit (from a 429) is refused too.
    let paused = Limiter::new();
    paused.observe(
      Instant::now(),
      Observation {
        pause: Some(Duration::from_secs(90)),
        ..Default::default()
      },
    );
    assert!(paused.acquire(MINUTE).await.is_err());
  }

  #[tokio::test]
  async fn the_limit_counts_every_wait_of_one_request() {
    let limiter = std::sync::Arc::new(Limiter::new());
    limiter.observe(Instant::now(), seen(0, 400));
    let waiting = limiter.clone();
    let waiter =
      tokio::spawn(async move { waiting.acquire(Duration::from_millis(500)).await.map(drop) });
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Another answer moves the reset to 600 ms from now: 700 ms after the waiter began,
    // past its 500 ms, although each wait alone is shorter.
    limiter.observe(Instant::now(), seen(0, 600));
    // Had it waited for that reset, the fresh window would have let it through.
    let result = waiter.await.unwrap();
    assert!(result.is_err(), "refused once the total passes the limit");
    // A request starting now may wait that long: it is let through after the reset.
    assert!(limiter.acquire(Duration::from_millis(800)).await.is_ok());
  }

  #[test]
  fn nonsense_resets_are_ignored() {
    let now = 1_700_000_000_000u64;
    assert_eq!(reset_in_ms("1700000001500", now), Some(1500));
    assert_eq!(reset_in_ms(" 1699999999000 ", now), Some(0), "past is fine");
    assert_eq!(
      reset_in_ms(&(now + MAX_RESET_AHEAD_MS).to_string(), now),
      Some(MAX_RESET_AHEAD_MS)
    );
    for nonsense in [
      "18446744073709551615",
      "1700003600001",
      "soon",
      "",
      "-5",
      "1.7e12",
      "0x10",
    ] {
      assert_eq!(reset_in_ms(nonsense, now), None, "{nonsense}");
    }
    let mut h = HeaderMap::new();
    h.insert("x-ratelimit-route-remaining", HeaderValue::from_static("0"));
    h.insert(
      "x-ratelimit-reset",
      HeaderValue::from_static("18446744073709551615"),
    );
    let o = Observation::from_headers(&h, now);
    assert_eq!(o.reset_in, None);
    // Without a reset, a spent budget does not hold anyone.
    let limiter = Limiter::new();
    limiter.observe(Instant::now(), o);
    assert_eq!(limiter.decide(Instant::now()), Decision::Go);
  }

  #[tokio::test]
  async fn a_dropped_permit_frees_its_place() {
    let limiter = Limiter::new();
    let t0 = Instant::now();
    limiter.observe(t0, seen(5, 10_000));
    drop(limiter.acquire(MINUTE).await);
    drop(limiter.acquire(MINUTE).await);
    assert_eq!(limiter.lock().in_flight, 0);
    // The server still says 5: nothing is held back for the cancelled requests.
    limiter.observe(t0, seen(5, 10_000));
    assert_eq!(limiter.lock().routes[""].remaining, Some(5));
  }
}
