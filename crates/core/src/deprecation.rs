//! What the service says of a route's future: an answer that carries a `Deprecation`
//! or `Sunset` header (RFC 9745, RFC 8594) is noted once per route (method and path
//! template) per process, for the binding to warn about. An answer without them notes
//! nothing: nothing is said that the service did not say.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex};

use reqwest::header::HeaderMap;
use reqwest::Method;

/// The routes the library calls, as the API reference writes them. A path is named by
/// the first template whose last segments it matches.
pub const ROUTES: [&str; 12] = [
  "/api/v2/flags/{projectKey}/{flagKey}/release",
  "/api/v2/projects/{projectKey}/flags/{flagKey}/release",
  "/api/v2/projects/{projectKey}/flags/{flagKey}/release/phases/{phaseId}",
  "/api/v2/projects/{projectKey}/release-pipelines",
  "/api/v2/projects/{projectKey}/release-pipelines/{pipelineKey}",
  "/api/v2/projects/{projectKey}/release-pipelines/{pipelineKey}/releases",
  "/api/v2/projects/{projectKey}/flags/{flagKey}/environments/{environmentKey}/releases",
  "/api/v2/projects/{projectKey}/flags/{flagKey}/environments/{environmentKey}/releases/{releaseId}",
  "/api/v2/projects/{projectKey}/flags/{flagKey}/environments/{environmentKey}/releases/{releaseId}/stop",
  "/api/v2/projects/{projectKey}/release-policies",
  "/api/v2/projects/{projectKey}/release-policies/order",
  "/api/v2/projects/{projectKey}/release-policies/{policyKey}",
];

/// The most characters of a header value a notice quotes.
const MAX_QUOTED: usize = 200;

/// A route the service said is deprecated or will be removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
  /// The method as sent.
  pub method: String,
  /// The path template (see `ROUTES`), or for a path none matches, the path.
  pub route: String,
  /// The headers as sent: at most 200 characters, control characters replaced.
  pub deprecation: Option<String>,
  pub sunset: Option<String>,
  pub link: Option<String>,
}

impl Notice {
  /// The warning's text: `GET /api/v2/flags/{projectKey}/{flagKey}/release is deprecated
  /// by LaunchDarkly (Deprecation: @1767225600; Sunset: ...)`.
  pub fn message(&self) -> String {
    let what = match (&self.deprecation, &self.sunset) {
      (Some(_), Some(_)) => "is deprecated by LaunchDarkly and will be removed",
      (Some(_), None) => "is deprecated by LaunchDarkly",
      _ => "will be removed by LaunchDarkly",
    };
    let mut said = Vec::new();
    if let Some(value) = &self.deprecation {
      said.push(format!("Deprecation: {value}"));
    }
    if let Some(value) = &self.sunset {
      said.push(format!("Sunset: {value}"));
    }
    if let Some(value) = &self.link {
      said.push(format!("Link: {value}"));
    }
    format!(
      "{} {} {what} ({})",
      self.method,
      self.route,
      said.join("; ")
    )
  }
}

struct Notices {
  seen: HashSet<(String, String)>,
  pending: Vec<Notice>,
}

/// Whether notices wait to be taken: what `take` reads first, so that a call settling
/// costs no lock when there are none (nearly always).
static WAITING: AtomicBool = AtomicBool::new(false);

static NOTICES: LazyLock<Mutex<Notices>> = LazyLock::new(|| {
  Mutex::new(Notices {
    seen: HashSet::new(),
    pending: Vec::new(),
  })
});

fn notices() -> std::sync::MutexGuard<'static, Notices> {
  NOTICES.lock().unwrap_or_else(|p| p.into_inner())
}

/// The template of `path` (see `ROUTES`), or the path itself.
pub fn route_of(path: &str) -> String {
  let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
  for template in ROUTES {
    let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    if parts.len() > segments.len() {
      continue;
    }
    let tail = &segments[segments.len() - parts.len()..];
    let fits = parts
      .iter()
      .zip(tail)
      .all(|(part, segment)| part.starts_with('{') || part == segment);
    if fits {
      return template.to_string();
    }
  }
  path.to_string()
}

fn quoted(headers: &HeaderMap, name: &str) -> Option<String> {
  let value = headers.get(name)?;
  let text = String::from_utf8_lossy(value.as_bytes());
  let mut out: String = text
    .trim()
    .chars()
    .take(MAX_QUOTED)
    .map(|c| if c.is_control() { ' ' } else { c })
    .collect();
  if text.trim().chars().nth(MAX_QUOTED).is_some() {
    out.push('…');
  }
  Some(out)
}

/// Notes an answer to `method path` that carries `Deprecation` or `Sunset`, the first
/// time its route is seen in the process; `mask` masks the token in quoted text.
/// Returns whether a notice was queued.
pub fn observe(
  method: &Method,
  path: &str,
  headers: &HeaderMap,
  mask: impl Fn(&str) -> String,
) -> bool {
  if !headers.contains_key("deprecation") && !headers.contains_key("sunset") {
    return false;
  }
  let route = route_of(path);
  let mut notices = notices();
  if !notices.seen.insert((method.to_string(), route.clone())) {
    return false;
  }
  let masked = |name| quoted(headers, name).map(|v| mask(&v));
  let notice = Notice {
    method: method.to_string(),
    route: mask(&route),
    deprecation: masked("deprecation"),
    sunset: masked("sunset"),
    link: masked("link"),
  };
  notices.pending.push(notice);
  WAITING.store(true, Ordering::Release);
  true
}

/// The notices queued since the last call, oldest first.
pub fn take() -> Vec<Notice> {
  if !WAITING.swap(false, Ordering::Acquire) {
    return Vec::new();
  }
  std::mem::take(&mut notices().pending)
}

#[cfg(test)]
mod tests {
  use super::*;
  use reqwest::header::HeaderValue;

  #[test]
  fn paths_are_named_by_their_route() {
    assert_eq!(
      route_of("/api/v2/flags/web/checkout/release"),
      "/api/v2/flags/{projectKey}/{flagKey}/release"
    );
    assert_eq!(
      route_of("/prefix/api/v2/projects/web/flags/f/environments/prod/releases/r1/stop"),
      "/api/v2/projects/{projectKey}/flags/{flagKey}/environments/{environmentKey}/releases/{releaseId}/stop"
    );
    assert_eq!(
      route_of("/api/v2/projects/web/release-policies/order"),
      "/api/v2/projects/{projectKey}/release-policies/order"
    );
    assert_eq!(
      route_of("/api/v2/projects/web/release-policies/p1"),
      "/api/v2/projects/{projectKey}/release-policies/{policyKey}"
    );
    assert_eq!(
      route_of("/api/v2/projects/web/release-pipelines/p/releases"),
      "/api/v2/projects/{projectKey}/release-pipelines/{pipelineKey}/releases"
    );
    assert_eq!(route_of("/other/thing"), "/other/thing");
    assert_eq!(
      route_of("/api/v2/projects/web/release-policies/"),
      "/api/v2/projects/{projectKey}/release-policies"
    );
    assert_eq!(
      route_of("/api/v2/flags/web/release"),
      "/api/v2/flags/web/release"
    );
  }

  #[test]
  fn a_route_is_noted_once_and_only_when_the_service_says_so() {
    let path = "/api/v2/projects/once-test/release-pipelines/k/../x/y/z";
    let quiet = HeaderMap::new();
    assert!(!observe(&Method::GET, path, &quiet, str::to_string));
    let mut said = HeaderMap::new();
    said.insert("deprecation", HeaderValue::from_static("@1767225600"));
    said.insert(
      "link",
      HeaderValue::from_static("<https://x.example>; rel=\"deprecation\""),
    );
    assert!(observe(&Method::GET, path, &said, str::to_string));
    assert!(
      !observe(&Method::GET, path, &said, str::to_string),
      "once per route"
    );
    assert!(
      observe(&Method::DELETE, path, &said, str::to_string),
      "per method"
    );
    let mut sunset = HeaderMap::new();
    sunset.insert(
      "sunset",
      HeaderValue::from_bytes(b"Wed, 01 Jul 2027\t00:00:00 GMT").unwrap(),
    );
    let other = "/api/v2/projects/once-test/other";
    assert!(observe(&Method::GET, other, &sunset, |t| t.replace("Jul", "***")));
    let taken: Vec<Notice> = take()
      .into_iter()
      .filter(|n| n.route.contains("once-test"))
      .collect();
    assert_eq!(taken.len(), 3);
    assert_eq!(taken[0].deprecation.as_deref(), Some("@1767225600"));
    assert_eq!(taken[0].sunset, None);
    assert_eq!(
      taken[0].message(),
      format!("GET {path} is deprecated by LaunchDarkly (Deprecation: @1767225600; Link: <https://x.example>; rel=\"deprecation\")")
    );
    assert_eq!(
      taken[2].sunset.as_deref(),
      Some("Wed, 01 *** 2027 00:00:00 GMT")
    );
    assert_eq!(
      taken[2].message(),
      "GET /api/v2/projects/once-test/other will be removed by LaunchDarkly (Sunset: Wed, 01 *** 2027 00:00:00 GMT)"
    );
    let both = Notice {
      deprecation: Some("true".into()),
      sunset: Some("x".into()),
      ..taken[2].clone()
    };
    assert!(both
      .message()
      .contains("is deprecated by LaunchDarkly and will be removed"));
    let long = "a".repeat(300);
    let mut headers = HeaderMap::new();
    headers.insert("deprecation", HeaderValue::from_str(&long).unwrap());
    assert_eq!(
      quoted(&headers, "deprecation").unwrap().chars().count(),
      201
    );
  }
}
