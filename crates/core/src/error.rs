//! The one error type of the crate, with the stable codes JavaScript users narrow on.

use std::fmt;

/// Stable error codes, exposed to JavaScript as `err.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
  InvalidArgument,
  NoApiKey,
  InsecureUrl,
  BadRequest,
  Unauthorized,
  Forbidden,
  /// A refusal that says the `LD-API-Version: beta` header was missing: something on the
  /// way (a proxy) took it off.
  BetaHeaderMissing,
  NotFound,
  Conflict,
  RateLimited,
  Server,
  Http,
  Timeout,
  Network,
  Decode,
  ResponseTooLarge,
  Unsupported,
  /// 405 from an environment-release write: the environment requires approvals.
  ApprovalRequired,
  /// A write that is not idempotent may or may not have been applied: no answer came,
  /// and nothing showed that it was.
  OutcomeUnknown,
  Aborted,
}

impl ErrorCode {
  pub const ALL: [ErrorCode; 20] = [
    ErrorCode::InvalidArgument,
    ErrorCode::NoApiKey,
    ErrorCode::InsecureUrl,
    ErrorCode::BadRequest,
    ErrorCode::Unauthorized,
    ErrorCode::Forbidden,
    ErrorCode::BetaHeaderMissing,
    ErrorCode::NotFound,
    ErrorCode::Conflict,
    ErrorCode::RateLimited,
    ErrorCode::Server,
    ErrorCode::Http,
    ErrorCode::Timeout,
    ErrorCode::Network,
    ErrorCode::Decode,
    ErrorCode::ResponseTooLarge,
    ErrorCode::Unsupported,
    ErrorCode::ApprovalRequired,
    ErrorCode::OutcomeUnknown,
    ErrorCode::Aborted,
  ];

  pub fn as_str(self) -> &'static str {
    match self {
      ErrorCode::InvalidArgument => "ERR_LD_INVALID_ARGUMENT",
      ErrorCode::NoApiKey => "ERR_LD_NO_API_KEY",
      ErrorCode::InsecureUrl => "ERR_LD_INSECURE_URL",
      ErrorCode::BadRequest => "ERR_LD_BAD_REQUEST",
      ErrorCode::Unauthorized => "ERR_LD_UNAUTHORIZED",
      ErrorCode::Forbidden => "ERR_LD_FORBIDDEN",
      ErrorCode::BetaHeaderMissing => "ERR_LD_BETA_HEADER_MISSING",
      ErrorCode::NotFound => "ERR_LD_NOT_FOUND",
      ErrorCode::Conflict => "ERR_LD_CONFLICT",
      ErrorCode::RateLimited => "ERR_LD_RATE_LIMITED",
      ErrorCode::Server => "ERR_LD_SERVER",
      ErrorCode::Http => "ERR_LD_HTTP",
      ErrorCode::Timeout => "ERR_LD_TIMEOUT",
      ErrorCode::Network => "ERR_LD_NETWORK",
      ErrorCode::Decode => "ERR_LD_DECODE",
      ErrorCode::ResponseTooLarge => "ERR_LD_RESPONSE_TOO_LARGE",
      ErrorCode::Unsupported => "ERR_LD_UNSUPPORTED",
      ErrorCode::ApprovalRequired => "ERR_LD_APPROVAL_REQUIRED",
      ErrorCode::OutcomeUnknown => "ERR_LD_OUTCOME_UNKNOWN",
      ErrorCode::Aborted => "ABORT_ERR",
    }
  }

  /// The code for a non-2xx answer, before retries are considered.
  pub fn for_status(status: u16) -> ErrorCode {
    match status {
      400 | 422 => ErrorCode::BadRequest,
      401 => ErrorCode::Unauthorized,
      403 => ErrorCode::Forbidden,
      404 => ErrorCode::NotFound,
      409 => ErrorCode::Conflict,
      429 => ErrorCode::RateLimited,
      500..=599 => ErrorCode::Server,
      _ => ErrorCode::Http,
    }
  }
}

impl fmt::Display for ErrorCode {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str(self.as_str())
  }
}

/// A failure of any call. It never holds the access token.
#[derive(Debug, Clone, PartialEq)]
pub struct LdError {
  pub code: ErrorCode,
  pub message: String,
  /// HTTP status of the last answer, when there was one.
  pub status: Option<u16>,
  /// `code` from a JSON error body.
  pub api_code: Option<String>,
  /// `message` from a JSON error body.
  pub api_message: Option<String>,
  /// How long the server asked to wait, on a 429.
  pub retry_after_ms: Option<u64>,
  /// How many requests were sent (0 when the call failed before sending).
  pub attempts: u32,
  /// On `ERR_LD_DECODE`: the start of the body that could not be used.
  pub body_excerpt: Option<Box<str>>,
  /// What the caller's own code (a getter, a Proxy trap) threw while an argument was
  /// read: the JavaScript error's `cause`. The value itself stays on the JavaScript thread.
  pub thrown: Option<ThrownId>,
  /// On a 400 `health_checks_failed`: the failing checks, as the body named them.
  pub failed_health_checks: Option<Vec<String>>,
  /// On an item of a run that was stopped before the item had a result of its own
  /// (code `Aborted`, see `bulk::Stop`): whether its write had been sent.
  pub unfinished: Option<Unfinished>,
}

/// What became of an item of a stopped run that has no result of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfinished {
  /// Its write was never sent: nothing was written for it (its reads may have been made).
  NotSent,
  /// Its write had been sent and its answer was not taken: it may or may not have been
  /// applied.
  Unknown,
}

/// A handle to a value the caller's code threw, kept on the JavaScript thread until the
/// error that carries it becomes a JavaScript error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ThrownId(pub u64);

pub type Result<T> = std::result::Result<T, LdError>;

impl LdError {
  pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
    LdError {
      code,
      message: message.into(),
      status: None,
      api_code: None,
      api_message: None,
      retry_after_ms: None,
      attempts: 0,
      body_excerpt: None,
      thrown: None,
      failed_health_checks: None,
      unfinished: None,
    }
  }

  pub fn invalid(message: impl Into<String>) -> Self {
    LdError::new(ErrorCode::InvalidArgument, message)
  }

  pub fn aborted() -> Self {
    LdError::new(ErrorCode::Aborted, "The operation was aborted")
  }

  /// The result of an item of a stopped run that has none of its own: its write was
  /// never sent (`write_sent` false), or it was sent and its answer not taken.
  pub fn unfinished(write_sent: bool) -> Self {
    let (unfinished, message) = if write_sent {
      (
        Unfinished::Unknown,
        "The run was aborted while this item's write was in flight: it may or may not have been applied. Read the release before sending it again",
      )
    } else {
      (
        Unfinished::NotSent,
        "The run was aborted before this item's write was sent: nothing was written for it",
      )
    };
    LdError {
      unfinished: Some(unfinished),
      ..LdError::new(ErrorCode::Aborted, message)
    }
  }

  /// The JavaScript `name` of this error.
  pub fn name(&self) -> &'static str {
    if self.code == ErrorCode::Aborted {
      "AbortError"
    } else {
      "LaunchDarklyError"
    }
  }
}

impl fmt::Display for LdError {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    f.write_str(&self.message)
  }
}

impl std::error::Error for LdError {}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn status_codes_map_to_the_documented_codes() {
    assert_eq!(ErrorCode::for_status(400), ErrorCode::BadRequest);
    assert_eq!(ErrorCode::for_status(422), ErrorCode::BadRequest);
    assert_eq!(ErrorCode::for_status(401), ErrorCode::Unauthorized);
    assert_eq!(ErrorCode::for_status(403), ErrorCode::Forbidden);
    assert_eq!(ErrorCode::for_status(404), ErrorCode::NotFound);
    assert_eq!(ErrorCode::for_status(409), ErrorCode::Conflict);
    assert_eq!(ErrorCode::for_status(429), ErrorCode::RateLimited);
    assert_eq!(ErrorCode::for_status(502), ErrorCode::Server);
    assert_eq!(ErrorCode::for_status(405), ErrorCode::Http);
    assert_eq!(ErrorCode::for_status(302), ErrorCode::Http);
  }

  #[test]
  fn codes_are_distinct_and_prefixed() {
    let mut seen = std::collections::HashSet::new();
    for code in ErrorCode::ALL {
      assert!(seen.insert(code.as_str()), "{code} twice");
      assert!(code.as_str().starts_with("ERR_LD_") || code == ErrorCode::Aborted);
    }
  }
}
