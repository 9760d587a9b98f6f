//! The token masked in text a server sent back, whatever escapes hide it: JSON string
//! escapes, percent-encoding and HTML character references, one inside another. Once a
//! piece is found only by decoding, the text is shown decoded, every escape undone once.

use ld_release_core::redact::mask_in;

use crate::support::TOKEN;

/// TOKEN percent-encoded, then its percent signs percent-encoded again.
fn doubly_percent_encoded() -> String {
  TOKEN.bytes().map(|b| format!("%25{b:02X}")).collect()
}

#[test]
fn a_token_found_only_by_decoding_shows_the_text_decoded() {
  let escapes = concat!(
    r#"json: \"q\" \\ \/ \b\f\n\r\t \u0041 \uD83D\uDE00; "#,
    "html: &#x41;&#X42;&#67;; ",
    "kept: %80 &65; &#+65; %+1 \\u+041 &#x+41; &amp; \\q; ",
  );
  let text = format!("{escapes}token: {}.", doubly_percent_encoded());
  let expected = concat!(
    "json: \"q\" \\ / \u{8}\u{c}\n\r\t A \u{1F600}; ",
    "html: ABC; ",
    "kept: %80 &65; &#+65; %+1 \\u+041 &#x+41; &amp; \\q; ",
    "token: ****89ab."
  );
  assert_eq!(mask_in(TOKEN, &text), expected);
}

#[test]
fn escapes_stand_for_the_characters_of_a_token() {
  // A token holding the characters JSON escapes, found through each escape.
  let token = "tok/\"quoted\"\\back-slash";
  let escaped = r#"tok\/\"quoted\"\\back-slash"#;
  assert_eq!(mask_in(token, &format!("<{escaped}>")), "<****lash>");
  // HTML references, decimal and hex, and a surrogate pair in JSON.
  let token = "api-\u{1F600}-emoji-token";
  for shape in [
    "api-\\uD83D\\uDE00-emoji-token".to_string(),
    "api-&#128512;-emoji-token".to_string(),
    "api-&#x1F600;-emoji-token".to_string(),
  ] {
    assert_eq!(
      mask_in(token, &format!("[{shape}]")),
      "[****oken]",
      "{shape}"
    );
  }
}

#[test]
fn a_token_still_held_is_masked_after_the_registry_is_swept() {
  use ld_release_core::config::Secret;
  use ld_release_core::redact::mask_all;
  let held = Secret::new("api-held-through-sweeps-Zx81Qw27");
  // The registry drops the entries of tokens no longer held every 256 new tokens.
  for n in 0..600 {
    drop(Secret::new(format!("api-passing-{n:04}-Lm3Np5")));
  }
  assert_eq!(
    mask_all("echo api-held-through-sweeps-Zx81Qw27"),
    "echo ****Qw27"
  );
  assert_eq!(
    mask_all("echo api-passing-0001-Lm3Np5"),
    "echo api-passing-0001-Lm3Np5",
    "a token no longer held is not looked for"
  );
  drop(held);
}
