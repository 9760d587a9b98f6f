//! The same PATCH calls as bench/calls.mjs, from plain Rust on a tokio runtime with one
//! worker thread (as the addon runs it), no JavaScript. What the addon can at best come to.
//!
//!   ld-release-ceiling <base-url> <token> [calls] [concurrency] [warm-up calls] [mode]
//!
//! Modes:
//! - `reqwest` (the default): reqwest alone with the addon's client settings, decoding
//!   each answer into a `serde_json::Value`: the HTTP stack's own floor.
//! - `core`: the addon's own Rust core (`ld_release_core::client::Client::change_phase`, the
//!   code `completePhase` runs: the answer checked and passed through, retries, the
//!   rate-limit gate) with nothing of the JavaScript boundary: what the boundary is
//!   measured against.
//!
//! Prints one JSON line: calls per second and CPU time per call (this process, all
//! threads, in microseconds) for `calls` sequential calls and `calls` with `concurrency`
//! in flight, each block after `warm-up calls` (untimed) at its own concurrency.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ld_release_core::client::Client;
use ld_release_core::config::{ClientOptions, RequestOptions, Secret};
use ld_release_core::phases::{PhaseAction, PhaseChange, PhaseRef};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};

enum Target {
  Reqwest {
    http: reqwest::Client,
    url: reqwest::Url,
    headers: HeaderMap,
  },
  Core(ld_release_core::client::Client),
}

impl Target {
  async fn call(&self) {
    match self {
      Target::Reqwest { http, url, headers } => {
        let patch =
          serde_json::json!([{ "op": "replace", "path": "/phases/0/complete", "value": true }]);
        let body = serde_json::to_vec(&patch).expect("the patch encodes");
        let response = http
          .patch(url.clone())
          .headers(headers.clone())
          .body(body)
          .send()
          .await
          .expect("the fake answers");
        let status = response.status();
        let bytes = response.bytes().await.expect("the body is read");
        assert!(status.is_success(), "the fake answered {status}");
        let release: serde_json::Value = serde_json::from_slice(&bytes).expect("the body is JSON");
        assert!(release.get("phases").is_some(), "the body is a release");
      }
      Target::Core(client) => {
        let change = PhaseChange {
          project_key: "bench".to_string(),
          flag_key: "flag-0".to_string(),
          phase: PhaseRef::Index(0),
          action: PhaseAction::Complete,
        };
        let release = client
          .change_phase(change, RequestOptions::default())
          .await
          .unwrap_or_else(|e| panic!("the call failed: {}", e.message));
        assert!(release.json().contains("\"phases\""), "the body is a release");
      }
    }
  }
}

/// User plus system CPU time of this process (all threads), in microseconds.
fn cpu_us() -> f64 {
  // SAFETY: getrusage only writes the struct it is given.
  let usage = unsafe {
    let mut usage: libc::rusage = std::mem::zeroed();
    libc::getrusage(libc::RUSAGE_SELF, &mut usage);
    usage
  };
  let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
  us(usage.ru_utime) + us(usage.ru_stime)
}

/// Runs `calls` calls with `concurrency` in flight; returns (calls per second, CPU µs per call).
async fn run(target: &Arc<Target>, calls: usize, concurrency: usize) -> (f64, f64) {
  let next = Arc::new(AtomicUsize::new(0));
  let cpu = cpu_us();
  let start = Instant::now();
  let workers: Vec<_> = (0..concurrency.max(1))
    .map(|_| {
      let target = target.clone();
      let next = next.clone();
      tokio::spawn(async move {
        while next.fetch_add(1, Ordering::Relaxed) < calls {
          target.call().await;
        }
      })
    })
    .collect();
  for worker in workers {
    worker.await.expect("a worker panicked");
  }
  let seconds = start.elapsed().as_secs_f64();
  (calls as f64 / seconds, (cpu_us() - cpu) / calls as f64)
}

/// reqwest alone, with the addon's client settings (see src/client.rs).
fn reqwest_target(base: &str, token: &str) -> Target {
  let _ = rustls::crypto::ring::default_provider().install_default();
  let http = reqwest::Client::builder()
    .user_agent("ld-release-ceiling")
    .connect_timeout(Duration::from_secs(10))
    .pool_idle_timeout(Duration::from_secs(30))
    .tcp_nodelay(true)
    .build()
    .expect("the client builds");
  let mut headers = HeaderMap::with_capacity(4);
  let mut auth = HeaderValue::from_str(token).expect("the token is a header value");
  auth.set_sensitive(true);
  headers.insert(AUTHORIZATION, auth);
  headers.insert("LD-API-Version", HeaderValue::from_static("beta"));
  headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
  headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
  let url = reqwest::Url::parse(&format!(
    "{}/api/v2/flags/bench/flag-0/release",
    base.trim_end_matches('/')
  ))
  .expect("the base URL parses");

  Target::Reqwest { http, url, headers }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
  let args: Vec<String> = std::env::args().skip(1).collect();
  let (Some(base), Some(token)) = (args.first(), args.get(1)) else {
    eprintln!(
      "usage: ld-release-ceiling <base-url> <token> [calls] [concurrency] [warm-up calls] [reqwest|core]"
    );
    std::process::exit(2);
  };
  let number = |i: usize, default: usize| {
    args
      .get(i)
      .map_or(default, |s| s.parse().expect("a number"))
  };
  let calls = number(2, 2000);
  let concurrency = number(3, 64);
  let warmup = number(4, 256);

  let target = Arc::new(match args.get(5).map_or("reqwest", String::as_str) {
    "reqwest" => reqwest_target(base, token),
    "core" => {
      let options = ClientOptions {
        api_key: Some(Secret::new(token.as_str())),
        base_url: Some(base.clone()),
        ..ClientOptions::default()
      };
      Target::Core(
        Client::from_options(&options)
          .unwrap_or_else(|e| panic!("the client builds: {}", e.message)),
      )
    }
    other => {
      eprintln!("unknown mode {other:?}: reqwest or core");
      std::process::exit(2);
    }
  });

  run(&target, warmup, 1).await;
  let (sequential_per_sec, sequential_cpu_us) = run(&target, calls, 1).await;
  run(&target, warmup, concurrency).await;
  let (concurrent_per_sec, concurrent_cpu_us) = run(&target, calls, concurrency).await;
  println!(
    "{}",
    serde_json::json!({
      "calls": calls,
      "concurrency": concurrency,
      "sequentialPerSec": sequential_per_sec,
      "concurrentPerSec": concurrent_per_sec,
      "sequentialCpuUsPerCall": sequential_cpu_us,
      "concurrentCpuUsPerCall": concurrent_cpu_us,
    })
  );
}
