//! The rate-limit gate at its edges: a pause that ends exactly now, a late answer exactly
//! at the tolerance, windows told apart, and fresh windows several periods on. The gate
//! is driven with instants of the test's choosing, so nothing here waits. And the jitter
//! added to every wait.

use std::time::Duration;

use tokio::time::Instant;

use ld_release_core::client::with_jitter;
use ld_release_core::limiter::{Decision, Hold, Limiter, Observation};

fn ms(n: u64) -> Duration {
  Duration::from_millis(n)
}

fn seen(remaining: u64, reset_ms: u64) -> Observation {
  Observation {
    remaining: Some(remaining),
    reset_in: Some(ms(reset_ms)),
    ..Default::default()
  }
}

/// How many requests the gate lets through at `now` before it holds one.
fn let_through(limiter: &Limiter, now: Instant) -> usize {
  for n in 0..100 {
    if limiter.decide(now) != Decision::Go {
      return n;
    }
  }
  panic!("the gate never held a request");
}

/// Waits for a reset end this long after it (the gate's margin).
const MARGIN: u64 = 15;

#[test]
fn a_pause_ends_at_its_instant() {
  let paused = |t0: Instant| {
    let limiter = Limiter::new();
    limiter.observe(
      t0,
      Observation {
        pause: Some(ms(700)),
        ..Default::default()
      },
    );
    limiter
  };
  let t0 = Instant::now();
  assert_eq!(
    paused(t0).decide(t0 + ms(699)),
    Decision::WaitUntil(t0 + ms(700), Hold::Paused)
  );
  assert_eq!(paused(t0).decide(t0 + ms(700)), Decision::Go);
}

#[test]
fn an_answer_exactly_at_the_tolerance_still_counts() {
  let limiter = Limiter::new();
  let t0 = Instant::now();
  limiter.observe(t0, seen(5, 1000));
  // Its reset is 50 ms before the current one: within the tolerance, not an older
  // window's straggler. It says the budget is spent.
  limiter.observe(t0, seen(0, 950));
  assert_eq!(
    limiter.decide(t0),
    Decision::WaitUntil(t0 + ms(950 + MARGIN), Hold::Budget)
  );
}

#[test]
fn an_answer_whose_reset_moved_by_the_tolerance_is_of_the_same_window() {
  let limiter = Limiter::new();
  let t0 = Instant::now();
  limiter.observe(t0, seen(5, 1000));
  // 60 ms later its reset is 50 ms after the first one: the same window, the second
  // answer seen in it. The window's budget is 5 left + 2 seen.
  limiter.observe(t0 + ms(60), seen(5, 990));
  let fresh = t0 + ms(1000 + MARGIN + 60);
  assert_eq!(let_through(&limiter, fresh), 7);
}

#[test]
fn a_later_window_is_a_new_one() {
  let limiter = Limiter::new();
  let t0 = Instant::now();
  limiter.observe(t0, seen(5, 1000));
  // The next window: its first answer, with 9 left. Its budget is 9 + 1.
  let t1 = t0 + ms(1100);
  limiter.observe(t1, seen(9, 1000));
  let fresh = t1 + ms(1000 + MARGIN);
  assert_eq!(let_through(&limiter, fresh), 10);
}

#[test]
fn a_fresh_window_several_periods_on_ends_a_whole_period_later() {
  let limiter = Limiter::new();
  let t0 = Instant::now();
  limiter.observe(t0, seen(1, 1000));
  let reset = t0 + ms(1000 + MARGIN);
  // Two and a half windows after that reset, the current window is the third since.
  let later = reset + ms(2500);
  assert_eq!(let_through(&limiter, later), 2);
  assert_eq!(
    limiter.decide(later),
    Decision::WaitUntil(reset + ms(3000), Hold::Budget)
  );
}

#[test]
fn the_jitter_on_a_wait_spreads_over_a_quarter_of_it() {
  // A wait of 4 s gets up to 1 s more, evenly: 200 draws all within the first 55% of
  // that spread would happen about once in 10^52 runs.
  let extra: Vec<u64> = (0..200).map(|_| with_jitter(4000) - 4000).collect();
  assert!(extra.iter().all(|&ms| ms <= 1000), "{extra:?}");
  assert!(extra.iter().any(|&ms| ms > 550), "{extra:?}");
}
