//! Keeping access tokens out of everything a user or a log can see.
//!
//! A server can echo the token back in many shapes: as is, JSON-escaped (`\u0061pi-…`),
//! percent-encoded (`api%2D…`), as an HTML character reference, nested in more than one
//! of these, or cut short by an excerpt. [`mask_in`] masks all of them: the text is
//! decoded first, and every run of [`MIN_PIECE`] or more consecutive characters of the
//! token is masked, not only the whole token.
//!
//! Every token the process holds is known here (tokens are interned when a `Secret` is
//! made, and forgotten when the last `Secret` holding one is dropped), so [`scrub`] can
//! mask an error against all of them at the point where errors leave for JavaScript,
//! whatever path produced the error.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::ops::Range;
use std::sync::{Arc, LazyLock, Mutex, Weak};

use crate::error::LdError;

/// The shortest piece of a token that is masked wherever it appears. A token shorter
/// than this is masked only whole.
pub const MIN_PIECE: usize = 8;
/// Tokens shorter than this are not looked for in text: masking every one- to
/// three-character string would garble messages and protect nothing.
const MIN_MASKED_LEN: usize = 4;
/// How many levels of nested encoding are undone before giving up on finer masking.
const MAX_DECODE_ROUNDS: usize = 4;

/// `text` with every occurrence of `secret`, and of any piece of it at least
/// [`MIN_PIECE`] characters long, masked, in any of the encodings the module names.
/// A whole token becomes its masked form (`****` and its last four characters), a piece
/// becomes `****`. Text holding no piece of the token is returned as it is.
pub fn mask_in(secret: &str, text: &str) -> String {
  let token: Vec<char> = secret.chars().collect();
  if token.len() < MIN_MASKED_LEN {
    return text.to_string();
  }
  let whole = masked_form(&token);
  let mut current = text.to_string();
  // One level of decoding keeps the rest of the text as it was; nested encodings
  // (`%2541` for `A`) are caught by decoding further, and the text is then shown decoded.
  let masked = mask_one_level(&token, &whole, &current);
  if let Some(masked) = masked {
    current = masked;
  }
  let mut plain = current.clone();
  for _ in 0..MAX_DECODE_ROUNDS {
    let decoded = decode_once(&plain);
    if decoded == plain {
      break;
    }
    plain = decoded;
    if let Some(masked) = mask_one_level(&token, &whole, &plain) {
      // Nested encoding hid a piece: show the decoded text, masked, from here on.
      current = masked;
      plain = current.clone();
    }
  }
  current
}

/// The masked form of a whole token: `****` and its last four characters, or `****`
/// alone for a token of eight characters or fewer.
pub fn masked_form(token: &[char]) -> String {
  if token.len() <= 8 {
    return "****".to_string();
  }
  let tail: String = token[token.len() - 4..].iter().collect();
  format!("****{tail}")
}

/// One unit of text after one level of decoding: the character it stands for (`None`
/// for something that can stand for no character of a token) and where it is.
struct Unit {
  decoded: Option<char>,
  span: Range<usize>,
}

/// Splits `text` into units, undoing JSON string escapes (`\u0041`, `\/`, `\"`, …),
/// percent-encoding (`%41`) and HTML character references (`&#65;`, `&#x41;`).
fn units(text: &str) -> Vec<Unit> {
  let bytes = text.as_bytes();
  let mut out = Vec::with_capacity(text.len());
  let mut i = 0;
  while i < bytes.len() {
    if let Some((decoded, len)) = escape_at(text, i) {
      out.push(Unit {
        decoded,
        span: i..i + len,
      });
      i += len;
      continue;
    }
    let c = text[i..].chars().next().unwrap_or('\u{fffd}');
    out.push(Unit {
      decoded: Some(c),
      span: i..i + c.len_utf8(),
    });
    i += c.len_utf8();
  }
  out
}

fn hex(bytes: &[u8]) -> Option<u32> {
  if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_hexdigit) {
    return None;
  }
  u32::from_str_radix(std::str::from_utf8(bytes).ok()?, 16).ok()
}

/// The escape starting at byte `i` of `text`, if any: what it stands for and its length.
fn escape_at(text: &str, i: usize) -> Option<(Option<char>, usize)> {
  let rest = &text.as_bytes()[i..];
  match rest.first()? {
    b'\\' => {
      let simple = match rest.get(1)? {
        b'"' => Some('"'),
        b'\\' => Some('\\'),
        b'/' => Some('/'),
        b'b' => Some('\u{8}'),
        b'f' => Some('\u{c}'),
        b'n' => Some('\n'),
        b'r' => Some('\r'),
        b't' => Some('\t'),
        _ => None,
      };
      if let Some(c) = simple {
        return Some((Some(c), 2));
      }
      if rest.get(1) != Some(&b'u') {
        return None;
      }
      let high = hex(rest.get(2..6)?)?;
      if (0xD800..0xDC00).contains(&high) {
        // A surrogate pair: `\uD83D\uDE00`.
        let low = (rest.get(6..8) == Some(b"\\u"))
          .then(|| rest.get(8..12).and_then(hex))
          .flatten()
          .filter(|low| (0xDC00..0xE000).contains(low));
        return Some(match low {
          Some(low) => (
            char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)),
            12,
          ),
          None => (None, 6),
        });
      }
      Some((char::from_u32(high), 6))
    }
    b'%' => {
      let byte = hex(rest.get(1..3)?)?;
      // Only single-byte (ASCII) characters: tokens are sent in a header, which allows
      // nothing else.
      Some(((byte < 0x80).then(|| char::from(byte as u8)), 3))
    }
    b'&' if rest.get(1) == Some(&b'#') => {
      let end = rest.iter().take(12).position(|&b| b == b';')?;
      let body = &rest[2..end];
      let value = match body.first() {
        Some(b'x' | b'X') => hex(&body[1..])?,
        _ if !body.is_empty() && body.iter().all(u8::is_ascii_digit) => {
          std::str::from_utf8(body).ok()?.parse().ok()?
        }
        _ => return None,
      };
      Some((char::from_u32(value), end + 1))
    }
    _ => None,
  }
}

/// `text` with one level of escapes undone (escapes that stand for nothing are kept).
fn decode_once(text: &str) -> String {
  let mut out = String::with_capacity(text.len());
  for unit in units(text) {
    match unit.decoded {
      Some(c) => out.push(c),
      None => out.push_str(&text[unit.span]),
    }
  }
  out
}

/// Masks pieces of `token` found in `text` after one level of decoding; `None` when
/// there are none.
fn mask_one_level(token: &[char], whole: &str, text: &str) -> Option<String> {
  let units = units(text);
  let min = MIN_PIECE.min(token.len());
  // Units inside a run of token characters, and the starts of runs of the whole token.
  let mut covered = vec![false; units.len()];
  let mut whole_at = vec![false; units.len()];
  for start in 0..units.len() {
    let Some(first) = units[start].decoded else {
      continue;
    };
    let longest = (0..token.len())
      .filter(|&j| token[j] == first)
      .map(|j| {
        units[start..]
          .iter()
          .zip(&token[j..])
          .take_while(|(u, &t)| u.decoded == Some(t))
          .count()
      })
      .max()
      .unwrap_or(0);
    if longest >= min {
      covered[start..start + longest].fill(true);
      whole_at[start] = longest == token.len();
    }
  }
  if !covered.contains(&true) {
    return None;
  }
  // Each stretch of covered units (overlapping and adjacent runs together) becomes one
  // mask: the token's masked form if it holds the whole token, `****` otherwise.
  let mut out = String::with_capacity(text.len());
  let mut i = 0;
  while i < units.len() {
    if !covered[i] {
      out.push_str(&text[units[i].span.clone()]);
      i += 1;
      continue;
    }
    let end = (i..units.len())
      .find(|&k| !covered[k])
      .unwrap_or(units.len());
    out.push_str(if whole_at[i..end].contains(&true) {
      whole
    } else {
      "****"
    });
    i = end;
  }
  Some(out)
}

/// Every token the process holds, interned: equal tokens share one allocation, and an
/// entry lives as long as a `Secret` holding it does.
#[derive(Default)]
struct Registry {
  hasher: RandomState,
  buckets: HashMap<u64, Vec<Weak<str>>>,
  added_since_sweep: usize,
}

static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Default::default);

fn registry() -> std::sync::MutexGuard<'static, Registry> {
  REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// The shared allocation for `value`, registered so that [`scrub`] masks it.
pub fn intern(value: &str) -> Arc<str> {
  let mut registry = registry();
  let hash = registry.hasher.hash_one(value);
  let bucket = registry.buckets.entry(hash).or_default();
  bucket.retain(|weak| weak.strong_count() > 0);
  if let Some(live) = bucket
    .iter()
    .filter_map(Weak::upgrade)
    .find(|live| &**live == value)
  {
    return live;
  }
  let shared: Arc<str> = Arc::from(value);
  bucket.push(Arc::downgrade(&shared));
  registry.added_since_sweep += 1;
  if registry.added_since_sweep >= 256 {
    registry.added_since_sweep = 0;
    registry.buckets.retain(|_, bucket| {
      bucket.retain(|weak| weak.strong_count() > 0);
      !bucket.is_empty()
    });
  }
  shared
}

/// Every token the process holds now.
fn live_tokens() -> Vec<Arc<str>> {
  registry()
    .buckets
    .values()
    .flatten()
    .filter_map(Weak::upgrade)
    .collect()
}

/// `text` with every token the process holds masked (see [`mask_in`]).
pub fn mask_all(text: &str) -> String {
  live_tokens()
    .iter()
    .fold(text.to_string(), |text, token| mask_in(token, &text))
}

/// `error` with `secret` masked in every text it carries: the message, `apiCode` and
/// `apiMessage`.
pub fn mask_error(secret: &str, error: LdError) -> LdError {
  let mask = |text: String| mask_in(secret, &text);
  LdError {
    message: mask(error.message),
    api_code: error.api_code.map(mask),
    api_message: error.api_message.map(mask),
    body_excerpt: error.body_excerpt.map(|b| mask(b.into()).into()),
    failed_health_checks: error
      .failed_health_checks
      .map(|checks| checks.into_iter().map(mask).collect()),
    ..error
  }
}

/// `error` with every token the process holds masked in every text it carries. Every
/// error passes here on its way to JavaScript.
pub fn scrub(error: &LdError) -> LdError {
  live_tokens()
    .iter()
    .fold(error.clone(), |error, token| mask_error(token, error))
}

#[cfg(test)]
mod tests {
  use super::*;

  const TOKEN: &str = "api-test-6f1c2b9e-tok-SECRET-91d7";

  fn json_escaped(text: &str) -> String {
    text
      .chars()
      .map(|c| format!("\\u{:04x}", c as u32))
      .collect()
  }

  fn percent_encoded(text: &str) -> String {
    text.bytes().map(|b| format!("%{b:02X}")).collect()
  }

  /// No piece of TOKEN of MIN_PIECE characters is anywhere in `text`, decoded or not.
  fn assert_clean(text: &str) {
    let mut plain = text.to_string();
    for _ in 0..6 {
      for start in 0..=TOKEN.len() - MIN_PIECE {
        let piece = &TOKEN[start..start + MIN_PIECE];
        assert!(!plain.contains(piece), "{piece:?} in {text:?}");
      }
      plain = decode_once(&plain);
    }
  }

  #[test]
  fn the_whole_token_becomes_its_masked_form() {
    assert_eq!(mask_in(TOKEN, &format!("x {TOKEN} y")), "x ****91d7 y");
    assert_eq!(
      mask_in(TOKEN, &format!("{TOKEN}{TOKEN}")),
      "****91d7",
      "adjacent echoes merge"
    );
    assert_eq!(mask_in(TOKEN, "nothing here"), "nothing here");
  }

  #[test]
  fn every_encoding_is_masked() {
    let shapes = [
      TOKEN.to_string(),
      json_escaped(TOKEN),
      percent_encoded(TOKEN),
      TOKEN.replace('-', "%2D"),
      TOKEN.replace('a', "\\u0061").replace('t', "\\u0074"),
      TOKEN.chars().map(|c| format!("&#{};", c as u32)).collect(),
      TOKEN
        .chars()
        .map(|c| format!("&#x{:x};", c as u32))
        .collect(),
      // Nested: the percent sign itself percent-encoded, or JSON-escaped.
      percent_encoded(TOKEN).replace('%', "%25"),
      percent_encoded(TOKEN).replace('%', "\\u0025"),
      json_escaped(TOKEN).replace('\\', "\\\\"),
    ];
    for shape in shapes {
      let text = format!("the token was {shape}, as sent");
      let masked = mask_in(TOKEN, &text);
      assert_clean(&masked);
      assert!(masked.starts_with("the token was "), "{masked}");
      assert!(masked.ends_with(", as sent"), "{masked}");
    }
  }

  #[test]
  fn pieces_are_masked_and_short_ones_kept() {
    let prefix = &TOKEN[..12];
    let suffix = &TOKEN[TOKEN.len() - 9..];
    let middle = &TOKEN[5..13];
    for piece in [prefix, suffix, middle] {
      let masked = mask_in(TOKEN, &format!("cut: {piece}…"));
      assert_eq!(masked, "cut: ****…", "{piece}");
    }
    // Seven characters are not enough to mask (nor to guess the token).
    let seven = &TOKEN[10..17];
    assert_eq!(mask_in(TOKEN, seven), seven);
    // Pieces split by text between them are masked each.
    let split = format!("{} and {}", &TOKEN[..10], &TOKEN[20..]);
    assert_eq!(mask_in(TOKEN, &split), "**** and ****");
  }

  #[test]
  fn text_around_is_kept_byte_for_byte() {
    let text = format!(
      "a%20b \\n caf\u{e9} {} \\u00e9 &amp; %zz \\q",
      percent_encoded(TOKEN)
    );
    assert_eq!(
      mask_in(TOKEN, &text),
      "a%20b \\n caf\u{e9} ****91d7 \\u00e9 &amp; %zz \\q"
    );
    // Broken escapes at the end of the text are kept too.
    for tail in ["\\", "\\u00", "%4", "&#", "&#x;", "\\uD83D"] {
      assert_eq!(mask_in(TOKEN, tail), tail);
    }
  }

  #[test]
  fn short_tokens() {
    assert_eq!(mask_in("api-main", "key api-main here"), "key **** here");
    assert_eq!(mask_in("api-main", "api-mai"), "api-mai");
    assert_eq!(mask_in("abc", "abc"), "abc", "too short to look for");
  }

  #[test]
  fn errors_are_masked_in_every_text_field() {
    let error = LdError {
      api_code: Some(json_escaped(TOKEN)),
      api_message: Some(format!("token {}", &TOKEN[..20])),
      ..LdError::new(crate::error::ErrorCode::BadRequest, format!("m {TOKEN}"))
    };
    let masked = mask_error(TOKEN, error);
    assert_eq!(masked.message, "m ****91d7");
    assert_eq!(masked.api_code.as_deref(), Some("****91d7"));
    assert_eq!(masked.api_message.as_deref(), Some("token ****"));
  }

  #[test]
  fn the_registry_masks_live_tokens_only() {
    // Tests running at the same time hold tokens too: these share no 8 characters with
    // theirs, so masking against every live token leaves them as they are.
    let token = "api-registry-Qw7Rt5Yu3Io1-live";
    let held = intern(token);
    assert!(
      Arc::ptr_eq(&held, &intern(token)),
      "equal tokens are shared"
    );
    let error = LdError::new(crate::error::ErrorCode::Server, format!("echo {token}"));
    assert_eq!(scrub(&error).message, "echo ****live");
    assert_eq!(mask_all(&format!("<{token}>")), "<****live>");
    drop(held);
    let gone = "api-registry-Pa9Sd8Fg6Hj4-gone";
    drop(intern(gone));
    assert_eq!(mask_all(gone), gone, "a dropped token is forgotten");
  }
}
