//! How much of an answer is read: up to 16 MiB of a 2xx body, and the first 64 KiB of
//! an error body.

use ld_release_core::error::ErrorCode;
use serde_json::json;

use crate::server::{Response, Server};
use crate::support::*;

/// The limits as documented (not read from the crate, so that a changed limit fails).
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// A release whose JSON text is exactly `size` bytes long (padded in its name).
fn release_of_size(size: usize) -> String {
  let text =
    |name: &str| format!(r#"{{"name":"{name}","releasePipelineKey":"standard","phases":[]}}"#);
  let text = text(&"x".repeat(size - text("").len()));
  assert_eq!(text.len(), size);
  text
}

async fn complete_with(answer: Response) -> Result<String, ld_release_core::error::LdError> {
  let server = Server::always(answer).await;
  let client = client_no_retry(&server);
  client
    .send_release(patch_checkout(&client), NONE)
    .await
    .map(|release| release.into_json())
}

#[tokio::test]
async fn a_release_of_the_largest_size_is_read_whole() {
  bounded(async {
    for chunked in [false, true] {
      let mut answer = Response::json(200, release_of_size(MAX_BODY_BYTES));
      if chunked {
        answer = answer.header("Transfer-Encoding", "chunked");
      }
      let json = complete_with(answer).await.unwrap();
      assert_eq!(json.len(), MAX_BODY_BYTES, "chunked: {chunked}");
    }
  })
  .await;
}

#[tokio::test]
async fn a_release_one_byte_larger_is_not_read() {
  bounded(async {
    // Announced by its Content-Length, or found out while reading a chunked body.
    for chunked in [false, true] {
      let mut answer = Response::json(200, release_of_size(MAX_BODY_BYTES + 1));
      if chunked {
        answer = answer.header("Transfer-Encoding", "chunked");
      }
      let error = complete_with(answer).await.unwrap_err();
      assert_eq!(
        error.code,
        ErrorCode::ResponseTooLarge,
        "chunked: {chunked}"
      );
      assert_eq!(error.status, Some(200));
      assert_eq!(
        error.message,
        "The response to PATCH /api/v2/flags/web/checkout/release is larger than 16 MiB; it was not read [1 attempt]"
      );
    }
  })
  .await;
}

/// A JSON error body of exactly `size` bytes, its message padded.
fn error_of_size(size: usize) -> String {
  let bare = json!({"code": "invalid_request", "message": ""})
    .to_string()
    .len();
  let text = json!({"code": "invalid_request", "message": "m".repeat(size - bare)}).to_string();
  assert_eq!(text.len(), size);
  text
}

#[tokio::test]
async fn an_error_body_is_read_up_to_64_kib() {
  bounded(async {
    for chunked in [false, true] {
      let mut answer = Response::json(404, error_of_size(ERROR_BODY_LIMIT));
      if chunked {
        answer = answer.header("Transfer-Encoding", "chunked");
      }
      let error = complete_with(answer).await.unwrap_err();
      assert_eq!(error.code, ErrorCode::NotFound);
      assert_eq!(error.api_code.as_deref(), Some("invalid_request"));
      // The message is kept to its first 500 characters.
      assert_eq!(error.api_message, Some("m".repeat(500)));
    }
  })
  .await;
}

#[tokio::test]
async fn an_error_body_past_64_kib_is_cut_and_quoted_instead() {
  bounded(async {
    for chunked in [false, true] {
      let mut answer = Response::json(404, error_of_size(ERROR_BODY_LIMIT + 1));
      if chunked {
        answer = answer.header("Transfer-Encoding", "chunked");
      }
      let error = complete_with(answer).await.unwrap_err();
      assert_eq!(error.code, ErrorCode::NotFound);
      // Cut, the body is no longer JSON: its start is quoted.
      assert_eq!(error.api_code, None);
      assert!(
        error.message.contains(
          r#"to PATCH /api/v2/flags/web/checkout/release: {"code":"invalid_request","message":"mmm"#
        ),
        "{}",
        error.message
      );
    }
  })
  .await;
}

#[tokio::test]
async fn an_error_body_is_cut_at_64_kib_exactly() {
  bounded(async {
    // White space up to 10 bytes before the limit, then text across it: what is kept of
    // the text is what falls within the limit.
    let mut body = " ".repeat(ERROR_BODY_LIMIT - 10);
    body.push_str("QRSTUVWXYZabcdefghij");
    for chunked in [false, true] {
      let mut answer = Response::new(502).body(body.clone());
      if chunked {
        answer = answer.header("Transfer-Encoding", "chunked");
      }
      let error = complete_with(answer).await.unwrap_err();
      assert!(
        error
          .message
          .ends_with("PATCH /api/v2/flags/web/checkout/release: QRSTUVWXYZ [1 attempt]"),
        "chunked: {chunked}: {}",
        error.message
      );
    }
  })
  .await;
}
