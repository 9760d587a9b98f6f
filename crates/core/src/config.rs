//! Client settings: options merged with the environment, validated once.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Url;

use crate::error::{ErrorCode, LdError, Result};

pub const DEFAULT_BASE_URL: &str = "https://app.launchdarkly.com";
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// The most retries a caller may ask for.
pub const MAX_RETRIES_LIMIT: u32 = 20;
/// The longest per-attempt timeout a caller may ask for (one hour).
pub const MAX_TIMEOUT_MS: u64 = 3_600_000;
pub const TOKEN_ENV: [&str; 2] = ["LD_ACCESS_TOKEN", "LAUNCHDARKLY_ACCESS_TOKEN"];
pub const BASE_URL_ENV: [&str; 2] = ["LD_BASE_URI", "LAUNCHDARKLY_API_HOST"];

/// `User-Agent` sent on every request, before the caller's suffix.
pub fn default_user_agent() -> String {
  format!("ld-release/{}", env!("CARGO_PKG_VERSION"))
}

/// An access token. Its `Debug` and `Display` never show it, and while it lives, every
/// error on its way to JavaScript is masked against it (see `redact`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(Arc<str>);

impl Secret {
  pub fn new(value: impl AsRef<str>) -> Self {
    Secret(crate::redact::intern(value.as_ref()))
  }

  pub fn expose(&self) -> &str {
    &self.0
  }

  /// A form that is safe to print: the last four characters at most.
  pub fn masked(&self) -> String {
    crate::redact::masked_form(&self.0.chars().collect::<Vec<_>>())
  }

  /// `text` with this token masked wherever it appears, in any encoding, whole or in
  /// pieces of 8 characters or more (see `redact::mask_in`).
  pub fn mask_in(&self, text: &str) -> String {
    crate::redact::mask_in(&self.0, text)
  }
}

impl fmt::Debug for Secret {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str("Secret(<redacted>)")
  }
}

/// Client options as the caller gave them; `None` means "use the default".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientOptions {
  pub api_key: Option<Secret>,
  pub base_url: Option<String>,
  pub timeout_ms: Option<u64>,
  pub max_retries: Option<u32>,
  pub user_agent: Option<String>,
  pub method_override: Option<bool>,
}

/// Per-call overrides, and who watches the call's requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestOptions {
  pub timeout_ms: Option<u64>,
  pub max_retries: Option<u32>,
  /// Receives an event for each attempt, answer, retry and rate-limit wait of the call
  /// (see `events`). `None`: nothing is built or emitted.
  pub observer: Option<crate::events::Observer>,
}

/// Fully resolved settings of one client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientConfig {
  pub api_key: Option<Secret>,
  pub base_url: Url,
  pub timeout: Duration,
  pub max_retries: u32,
  pub user_agent: String,
  /// Send `PATCH` as `POST` with `X-HTTP-Method-Override: PATCH`.
  pub method_override: bool,
}

impl ClientConfig {
  /// Merges options with the environment (read through `env`), and validates the result.
  /// A missing token is not an error here: it is reported when a request needs it,
  /// so a client can still preview requests.
  pub fn resolve(options: &ClientOptions, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
    let from_env = |names: &[&str]| {
      names
        .iter()
        .filter_map(|name| env(name))
        .find(|value| !value.trim().is_empty())
    };
    let api_key = match &options.api_key {
      Some(key) => Some(key.clone()),
      None => from_env(&TOKEN_ENV).map(|key| Secret::new(key.trim())),
    };
    let base_url = match &options.base_url {
      Some(url) => url.clone(),
      None => from_env(&BASE_URL_ENV).unwrap_or_else(|| DEFAULT_BASE_URL.to_string()),
    };
    let mut user_agent = default_user_agent();
    if let Some(suffix) = options.user_agent.as_deref().map(str::trim) {
      if !suffix.is_empty() {
        user_agent.push(' ');
        user_agent.push_str(suffix);
      }
    }
    Ok(ClientConfig {
      api_key,
      base_url: parse_base_url(&base_url)?,
      timeout: Duration::from_millis(options.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS)),
      max_retries: options.max_retries.unwrap_or(DEFAULT_MAX_RETRIES),
      user_agent,
      method_override: options.method_override.unwrap_or(false),
    })
  }

  /// The token, or `ERR_LD_NO_API_KEY`.
  pub fn require_api_key(&self) -> Result<&Secret> {
    self.api_key.as_ref().ok_or_else(|| {
      LdError::new(
        ErrorCode::NoApiKey,
        format!(
          "No LaunchDarkly access token: pass apiKey, or set {} or {}",
          TOKEN_ENV[0], TOKEN_ENV[1]
        ),
      )
    })
  }

  /// `{base}/api/v2/flags/{projectKey}/{flagKey}/release`, keys encoded as single segments.
  pub fn release_url(&self, project_key: &str, flag_key: &str) -> Url {
    self.url_for(&["api", "v2", "flags", project_key, flag_key, "release"])
  }

  /// `{base}/{segments…}`, each segment percent-encoded on its own.
  pub fn url_for(&self, segments: &[&str]) -> Url {
    let mut path = self.base_url.path().trim_end_matches('/').to_string();
    for segment in segments {
      path.push('/');
      path.push_str(&encode_segment(segment));
    }
    let mut url = self.base_url.clone();
    url.set_path(&path);
    url
  }
}

/// Checks a user-supplied key (project or flag) before it goes into a path.
pub fn validate_key(argument: &str, value: &str) -> Result<()> {
  if value.is_empty() {
    return Err(LdError::invalid(format!(
      "{argument} must be a non-empty string"
    )));
  }
  if value == "." || value == ".." {
    return Err(LdError::invalid(format!(
      "{argument} must not be {value:?}: URLs resolve it as a dot-segment"
    )));
  }
  if value.chars().any(char::is_control) {
    return Err(LdError::invalid(format!(
      "{argument} must not contain control characters"
    )));
  }
  Ok(())
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so a key stays one
/// path segment whatever it holds (keys `.` and `..` are refused by `validate_key`).
pub fn encode_segment(segment: &str) -> String {
  let mut out = String::with_capacity(segment.len());
  for byte in segment.bytes() {
    let unreserved = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~');
    if unreserved {
      out.push(byte as char);
    } else {
      out.push_str(&format!("%{byte:02X}"));
    }
  }
  out
}

fn parse_base_url(raw: &str) -> Result<Url> {
  let insecure = |why: String| LdError::new(ErrorCode::InsecureUrl, why);
  let url = Url::parse(raw.trim()).map_err(|e| {
    insecure(format!(
      "baseUrl is not a valid URL ({e}): {}",
      excerpt(raw)
    ))
  })?;
  if url.cannot_be_a_base() || url.host_str().is_none() {
    return Err(insecure(format!(
      "baseUrl must be an http(s) URL with a host: {}",
      excerpt(raw)
    )));
  }
  if !url.username().is_empty() || url.password().is_some() {
    return Err(insecure(
      "baseUrl must not carry credentials; pass apiKey instead".to_string(),
    ));
  }
  match url.scheme() {
    "https" => {}
    "http" if is_loopback(&url) => {}
    "http" => {
      return Err(insecure(format!(
        "baseUrl uses http: to a host that is not loopback ({}); use https:",
        url.host_str().unwrap_or_default()
      )))
    }
    other => {
      return Err(insecure(format!(
        "baseUrl scheme must be https: (or http: to loopback), not {other}:"
      )))
    }
  }
  let mut url = url;
  url.set_query(None);
  url.set_fragment(None);
  Ok(url)
}

fn is_loopback(url: &Url) -> bool {
  match url.host() {
    Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
    Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
    Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
    None => false,
  }
}

/// The start of a URL as the caller wrote it, quoted, for an error: without what stands
/// before an `@` in its authority (`user:password@`), so credentials are never echoed,
/// even when the URL does not parse.
fn excerpt(raw: &str) -> String {
  let raw = raw.trim();
  let authority_start = raw.find("://").map_or(0, |i| i + 3);
  let authority_len = raw[authority_start..]
    .find(['/', '?', '#'])
    .unwrap_or(raw.len() - authority_start);
  let authority = &raw[authority_start..authority_start + authority_len];
  let shown = match authority.rfind('@') {
    Some(at) => format!(
      "{}****@{}",
      &raw[..authority_start],
      &raw[authority_start + at + 1..]
    ),
    None => raw.to_string(),
  };
  let short: String = shown.chars().take(80).collect();
  format!("{short:?}")
}

#[cfg(test)]
mod tests {
  use super::*;

  fn config(base: &str) -> ClientConfig {
    ClientConfig::resolve(
      &ClientOptions {
        base_url: Some(base.into()),
        ..Default::default()
      },
      |_| None,
    )
    .unwrap()
  }

  #[test]
  fn keys_stay_one_segment() {
    let url = config("https://app.launchdarkly.com").release_url("web", "a/b?c#d");
    assert_eq!(
      url.as_str(),
      "https://app.launchdarkly.com/api/v2/flags/web/a%2Fb%3Fc%23d/release"
    );
    let url = config("https://app.launchdarkly.com").release_url("...", "a b%");
    assert_eq!(url.path(), "/api/v2/flags/.../a%20b%25/release");
    let url = config("https://app.launchdarkly.com").release_url("p", "new.checkout");
    assert_eq!(url.path(), "/api/v2/flags/p/new.checkout/release");
    let url = config("https://app.launchdarkly.com").release_url("p", "café");
    assert_eq!(url.path(), "/api/v2/flags/p/caf%C3%A9/release");
  }

  #[test]
  fn path_prefix_is_kept_and_slashes_do_not_double() {
    for base in ["https://proxy.example/ld/", "https://proxy.example/ld"] {
      assert_eq!(
        config(base).release_url("p", "f").as_str(),
        "https://proxy.example/ld/api/v2/flags/p/f/release"
      );
    }
    assert_eq!(
      config("https://app.launchdarkly.com/")
        .release_url("p", "f")
        .as_str(),
      "https://app.launchdarkly.com/api/v2/flags/p/f/release"
    );
  }

  #[test]
  fn http_only_to_loopback() {
    for ok in [
      "http://127.0.0.1:8080",
      "http://127.9.9.9",
      "http://localhost:1",
      "http://[::1]:9",
      "https://app.eu.launchdarkly.com",
    ] {
      assert!(
        ClientConfig::resolve(
          &ClientOptions {
            base_url: Some(ok.into()),
            ..Default::default()
          },
          |_| None
        )
        .is_ok(),
        "{ok}"
      );
    }
    for bad in [
      "http://app.launchdarkly.com",
      "http://10.0.0.1",
      "http://localhost.evil.example",
      "ftp://127.0.0.1",
      "not a url",
      "",
      "https://user:pw@example.com",
      "mailto:x@y.z",
    ] {
      let err = ClientConfig::resolve(
        &ClientOptions {
          base_url: Some(bad.into()),
          ..Default::default()
        },
        |_| None,
      )
      .unwrap_err();
      assert_eq!(err.code, ErrorCode::InsecureUrl, "{bad}");
      assert!(!err.message.contains("pw"), "{}", err.message);
    }
  }

  #[test]
  fn credentials_in_a_url_are_never_quoted() {
    for bad in [
      "https://user:hunter2-secret@example.com:99999/x",
      "https://user:hunter2-secret@/x",
      "user:hunter2-secret@example.com:99999",
      "ftp://hunter2-secret@127.0.0.1:1",
      "https://a@b:hunter2-secret@example.com:bad",
      "  https://:hunter2-secret@example.com:70000  ",
    ] {
      let err = ClientConfig::resolve(
        &ClientOptions {
          base_url: Some(bad.into()),
          ..Default::default()
        },
        |_| None,
      )
      .unwrap_err();
      assert_eq!(err.code, ErrorCode::InsecureUrl, "{bad}");
      assert!(!err.message.contains("hunter2"), "{}", err.message);
    }
    assert_eq!(
      excerpt("https://u:p@example.com:99999/path?q#f"),
      r#""https://****@example.com:99999/path?q#f""#
    );
    assert_eq!(
      excerpt("https://example.com:99999/a@b"),
      r#""https://example.com:99999/a@b""#
    );
  }

  #[test]
  fn environment_fills_the_gaps_in_order() {
    let env = |name: &str| match name {
      "LD_ACCESS_TOKEN" => Some("  ".to_string()),
      "LAUNCHDARKLY_ACCESS_TOKEN" => Some("api-second".to_string()),
      "LAUNCHDARKLY_API_HOST" => Some("https://app.launchdarkly.us".to_string()),
      _ => None,
    };
    let cfg = ClientConfig::resolve(&ClientOptions::default(), env).unwrap();
    assert_eq!(cfg.api_key.as_ref().unwrap().expose(), "api-second");
    assert_eq!(cfg.base_url.as_str(), "https://app.launchdarkly.us/");
    assert_eq!(cfg.timeout, Duration::from_millis(30_000));
    assert_eq!(cfg.max_retries, 3);

    let explicit = ClientOptions {
      api_key: Some(Secret::new("api-explicit")),
      user_agent: Some("deploy-bot/2".into()),
      ..Default::default()
    };
    let cfg = ClientConfig::resolve(&explicit, env).unwrap();
    assert_eq!(cfg.api_key.unwrap().expose(), "api-explicit");
    assert_eq!(
      cfg.user_agent,
      format!("ld-release/{} deploy-bot/2", env!("CARGO_PKG_VERSION"))
    );
  }

  #[test]
  fn missing_token_is_reported_when_needed() {
    let cfg = ClientConfig::resolve(&ClientOptions::default(), |_| None).unwrap();
    assert_eq!(cfg.base_url.as_str(), "https://app.launchdarkly.com/");
    assert_eq!(cfg.require_api_key().unwrap_err().code, ErrorCode::NoApiKey);
  }

  #[test]
  fn secrets_do_not_print() {
    let secret = Secret::new("api-0123456789abcdef");
    let cfg = ClientConfig::resolve(
      &ClientOptions {
        api_key: Some(secret.clone()),
        ..Default::default()
      },
      |_| None,
    )
    .unwrap();
    assert!(!format!("{cfg:?}").contains("0123456789"));
    assert_eq!(secret.masked(), "****cdef");
    assert_eq!(Secret::new("short").masked(), "****");
  }

  #[test]
  fn keys_are_validated() {
    assert!(validate_key("projectKey", "web").is_ok());
    let err = validate_key("flagKey", "").unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    assert!(err.message.contains("flagKey"));
    assert!(validate_key("flagKey", "a\nb").is_err());
    assert!(validate_key("projectKey", "..").is_err());
    assert!(validate_key("projectKey", ".").is_err());
  }
}
