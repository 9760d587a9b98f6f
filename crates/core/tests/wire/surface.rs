//! What the core shows of itself: error texts and names, base URLs refused, tokens
//! masked, and where errors say requests went.

use ld_release_core::config::{ClientConfig, ClientOptions, Secret};
use ld_release_core::error::{ErrorCode, LdError};

#[test]
fn errors_print_as_their_code_and_message() {
  assert_eq!(ErrorCode::Decode.to_string(), "ERR_LD_DECODE");
  assert_eq!(format!("{}", ErrorCode::Aborted), "ABORT_ERR");
  let error = LdError::new(ErrorCode::Server, "LaunchDarkly answered 503");
  assert_eq!(error.to_string(), "LaunchDarkly answered 503");
  assert_eq!(error.name(), "LaunchDarklyError");
  assert_eq!(LdError::aborted().name(), "AbortError");
  assert_eq!(LdError::aborted().code, ErrorCode::Aborted);
}

fn refused(base_url: &str) -> LdError {
  ClientConfig::resolve(
    &ClientOptions {
      base_url: Some(base_url.to_string()),
      ..Default::default()
    },
    |_| None,
  )
  .unwrap_err()
}

#[test]
fn base_urls_without_a_host_or_with_credentials_are_refused() {
  let error = refused("file:///etc/passwd");
  assert_eq!(error.code, ErrorCode::InsecureUrl);
  assert!(
    error
      .message
      .starts_with("baseUrl must be an http(s) URL with a host"),
    "{}",
    error.message
  );
  for url in [
    "https://user@example.com",
    "https://:hunter2-secret@example.com",
  ] {
    let error = refused(url);
    assert_eq!(error.code, ErrorCode::InsecureUrl, "{url}");
    assert_eq!(
      error.message,
      "baseUrl must not carry credentials; pass apiKey instead"
    );
  }
}

#[test]
fn a_phase_that_is_not_an_index_is_quoted_as_javascript_writes_it() {
  use ld_release_core::patch::phase_from_f64;
  for (value, shown) in [
    (f64::NAN, "NaN"),
    (f64::INFINITY, "Infinity"),
    (f64::NEG_INFINITY, "-Infinity"),
    (1.5, "1.5"),
    (-2.0, "-2"),
  ] {
    let error = phase_from_f64("phase", value).unwrap_err();
    assert_eq!(
      error.message,
      format!("phase must be an integer from 0 to 4294967295, got {shown}")
    );
  }
}

#[test]
fn the_shortest_token_masked_has_four_characters() {
  assert_eq!(
    Secret::new("abcd").mask_in("key abcd here"),
    "key **** here"
  );
  assert_eq!(Secret::new("abc").mask_in("key abc here"), "key abc here");
}

#[test]
fn a_secret_masks_itself_in_any_text() {
  let secret = Secret::new("api-5a6b7c8d-mask-in-text-01");
  assert_eq!(
    secret.mask_in("before api-5a6b7c8d-mask-in-text-01 after"),
    "before ****t-01 after"
  );
  assert_eq!(secret.mask_in("nothing to hide"), "nothing to hide");
  // Debug output (of the settings, say) shows that a token is set, never which.
  let options = ClientOptions {
    api_key: Some(secret),
    ..Default::default()
  };
  let shown = format!("{options:?}");
  assert!(
    shown.contains("api_key: Some(Secret(<redacted>))"),
    "{shown}"
  );
  assert!(!shown.contains("5a6b7c8d"), "{shown}");
}

/// Set in the copy of this test binary that `errors_name_the_proxy_port` starts.
const CHILD: &str = "LD_RELEASE_WIRE_PROXY_CHILD";

/// Runs only in a child process whose environment names proxies without a port: the
/// error of a request through each names the proxy with its scheme's default port.
#[tokio::test]
async fn proxy_child() {
  let Ok(proxy) = std::env::var(CHILD) else {
    return;
  };
  let client = crate::support::client_for(&ClientOptions {
    api_key: Some(Secret::new(crate::support::TOKEN)),
    base_url: Some("https://localhost:1".to_string()),
    max_retries: Some(0),
    timeout_ms: Some(5000),
    ..Default::default()
  });
  let request = ld_release_core::client::PreparedRequest::release(
    client.config(),
    http::Method::GET,
    "web",
    "checkout",
    None,
  )
  .unwrap();
  let error = crate::support::bounded(client.send_release(request, Default::default()))
    .await
    .unwrap_err();
  let expected = format!("localhost:1 through the proxy {proxy}");
  assert!(error.message.contains(&expected), "{}", error.message);
}

#[test]
fn errors_name_the_proxy_port() {
  // The environment of a process is its own: the proxies are set in a child process,
  // this test binary again, running `proxy_child` alone.
  for (proxy, shown) in [
    ("http://127.0.0.1", "http://127.0.0.1:80"),
    ("https://127.0.0.1", "https://127.0.0.1:443"),
  ] {
    let output = std::process::Command::new(std::env::current_exe().unwrap())
      .args(["--exact", "surface::proxy_child", "--test-threads=1"])
      .env(CHILD, shown)
      .env("HTTPS_PROXY", proxy)
      .env_remove("https_proxy")
      .env_remove("NO_PROXY")
      .env_remove("no_proxy")
      .output()
      .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
      output.status.success() && stdout.contains("1 passed"),
      "{proxy}: {stdout}{}",
      String::from_utf8_lossy(&output.stderr)
    );
  }
}
