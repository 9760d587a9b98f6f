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
//! whatever path produced the error. The tokens are indexed by each of their
//! [`MIN_PIECE`]-character windows, so that masking a text looks each window of the text
//! (decoded at each level) up once, and masks against the few tokens found, whatever the
//! number of tokens held: not a scan of the text per token.

use std::collections::{HashMap, HashSet};
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
/// there are none. Linear in the text and the token, whatever either holds: a unit is
/// covered when a window of `min` units around it is a window of the token (the runs of
/// token characters masked are exactly the unions of such windows), and the whole token
/// is found by Knuth–Morris–Pratt.
fn mask_one_level(token: &[char], whole: &str, text: &str) -> Option<String> {
  let units = units(text);
  // A unit that stands for no character (`None`) is no character of the token.
  let decoded: Vec<Option<char>> = units.iter().map(|u| u.decoded).collect();
  let token: Vec<Option<char>> = token.iter().copied().map(Some).collect();
  let min = MIN_PIECE.min(token.len());
  let windows: HashSet<&[Option<char>]> = token.windows(min).collect();
  let mut covered = vec![false; units.len()];
  for (start, window) in decoded.windows(min).enumerate() {
    if windows.contains(window) {
      covered[start..start + min].fill(true);
    }
  }
  if !covered.contains(&true) {
    return None;
  }
  let whole_ends = whole_ends(&token, &decoded);
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
    out.push_str(if whole_ends[i..end].contains(&true) {
      whole
    } else {
      "****"
    });
    i = end;
  }
  Some(out)
}

/// Where `text` holds the whole `token`: true at the last unit of each occurrence
/// (Knuth–Morris–Pratt, linear in both).
fn whole_ends<T: PartialEq>(token: &[T], text: &[T]) -> Vec<bool> {
  // For each prefix of the token, the length of its longest proper prefix that is also
  // its suffix.
  let mut prefix = vec![0; token.len()];
  let mut k = 0;
  for i in 1..token.len() {
    while k > 0 && token[i] != token[k] {
      k = prefix[k - 1];
    }
    if token[i] == token[k] {
      k += 1;
    }
    prefix[i] = k;
  }
  let mut ends = vec![false; text.len()];
  let mut matched = 0;
  for (end, c) in text.iter().enumerate() {
    while matched > 0 && token[matched] != *c {
      matched = prefix[matched - 1];
    }
    if token[matched] == *c {
      matched += 1;
    }
    if matched == token.len() {
      ends[end] = true;
      matched = prefix[matched - 1];
    }
  }
  ends
}

/// A window of [`MIN_PIECE`] characters of a token.
type Window = [char; MIN_PIECE];

/// Every token the process holds, interned: equal tokens share one allocation, and an
/// entry lives as long as a `Secret` holding it does.
#[derive(Default)]
struct Registry {
  hasher: RandomState,
  buckets: HashMap<u64, Vec<Weak<str>>>,
  added_since_sweep: usize,
  /// The tokens of [`MIN_PIECE`] characters or more, by each of their windows of that
  /// many characters: any piece of a token that [`mask_in`] masks holds one of them.
  windows: HashMap<Window, Vec<Weak<str>>>,
  /// The tokens shorter than that (masked only whole): few, and tried on every text.
  short: Vec<Weak<str>>,
}

impl Registry {
  /// Indexes `token` by its windows (or lists it as short).
  fn index(&mut self, token: &Arc<str>) {
    let chars: Vec<char> = token.chars().collect();
    if chars.len() < MIN_MASKED_LEN {
      return;
    }
    if chars.len() < MIN_PIECE {
      self.short.push(Arc::downgrade(token));
      return;
    }
    for window in chars.windows(MIN_PIECE) {
      let window: Window = window.try_into().expect("windows of MIN_PIECE");
      let holders = self.windows.entry(window).or_default();
      if !holders
        .iter()
        .any(|held| std::ptr::addr_eq(held.as_ptr(), Arc::as_ptr(token)))
      {
        holders.push(Arc::downgrade(token));
      }
    }
  }

  /// Forgets the tokens no `Secret` holds any more, in the buckets and the index.
  fn sweep(&mut self) {
    self.buckets.retain(|_, bucket| {
      bucket.retain(|weak| weak.strong_count() > 0);
      !bucket.is_empty()
    });
    self.windows.retain(|_, holders| {
      holders.retain(|weak| weak.strong_count() > 0);
      !holders.is_empty()
    });
    self.short.retain(|weak| weak.strong_count() > 0);
  }

  /// The live tokens a window of `levels` (texts as decoded, level by level) is a
  /// window of, and every live short token: the only tokens [`mask_in`] can mask
  /// anything of in those texts. Each once.
  fn candidates(&self, levels: &[Vec<char>]) -> Vec<Arc<str>> {
    let mut found: Vec<Arc<str>> = self.short.iter().filter_map(Weak::upgrade).collect();
    for chars in levels {
      for window in chars.windows(MIN_PIECE) {
        let window: &Window = window.try_into().expect("windows of MIN_PIECE");
        let Some(holders) = self.windows.get(window) else {
          continue;
        };
        for token in holders.iter().filter_map(Weak::upgrade) {
          if !found.iter().any(|seen| Arc::ptr_eq(seen, &token)) {
            found.push(token);
          }
        }
      }
    }
    found
  }
}

/// `text` as it is and after each level of decoding [`mask_in`] undoes, as characters.
fn decoded_levels(text: &str) -> Vec<Vec<char>> {
  let mut levels = vec![text.chars().collect()];
  let mut plain = text.to_string();
  for _ in 0..=MAX_DECODE_ROUNDS {
    let decoded = decode_once(&plain);
    if decoded == plain {
      break;
    }
    levels.push(decoded.chars().collect());
    plain = decoded;
  }
  levels
}

/// The live tokens [`mask_in`] could mask anything of in `texts` (see `candidates`).
fn tokens_in(texts: &[&str]) -> Vec<Arc<str>> {
  let levels: Vec<Vec<char>> = texts.iter().flat_map(|text| decoded_levels(text)).collect();
  registry().candidates(&levels)
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
  registry.index(&shared);
  registry.added_since_sweep += 1;
  if registry.added_since_sweep >= SWEEP_EVERY {
    registry.added_since_sweep = 0;
    registry.sweep();
  }
  shared
}

/// The registry forgets dropped tokens after this many new ones.
const SWEEP_EVERY: usize = 256;

/// `text` with every token the process holds masked (see [`mask_in`]).
pub fn mask_all(text: &str) -> String {
  tokens_in(&[text])
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
  let mut texts = vec![error.message.as_str()];
  texts.extend(error.api_code.as_deref());
  texts.extend(error.api_message.as_deref());
  texts.extend(error.body_excerpt.as_deref());
  tokens_in(&texts)
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

  /// Masking ends, whatever the token and the text hold: a token and a text of one
  /// repeated character each, hundreds of thousands long, once took time cubic in their
  /// lengths (and held the thread that called it without end). The bound is a hang guard
  /// for a call that takes milliseconds, not a speed target.
  #[test]
  fn masking_ends_for_long_repetitive_tokens_and_texts() {
    let (done, finished) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
      let x = "x".repeat(200_000);
      let text = format!("key {} end", "x".repeat(600_000));
      assert_eq!(mask_in(&x, &text), "key ****xxxx end");
      let ab = "ab".repeat(50_000);
      let text = format!("<{}>", "ab".repeat(300_000));
      assert_eq!(mask_in(&ab, &text), "<****abab>");
      // Runs one character short of a piece, 1 MiB of them: nothing to mask.
      let text = "xxxxxxxy".repeat(1 << 17);
      assert_eq!(mask_in(&x, &text), text);
      // Through the registry, as every error is masked on its way out.
      let held = intern(&x);
      let error = LdError {
        message: format!("no project {} here", "x".repeat(1 << 20)),
        ..LdError::invalid("")
      };
      assert_eq!(scrub(&error).message, "no project ****xxxx here");
      drop(held);
      done.send(()).unwrap();
    });
    let waited = finished.recv_timeout(std::time::Duration::from_secs(120));
    assert!(
      !matches!(waited, Err(std::sync::mpsc::RecvTimeoutError::Timeout)),
      "masking had not ended after two minutes"
    );
    worker.join().expect("the assertions hold");
  }

  /// A token whose beginning comes back inside it: the whole token is still found
  /// where a false start of it overlaps it, and only there.
  #[test]
  fn a_token_that_repeats_its_beginning() {
    let token = "api-api-api-key9";
    assert_eq!(mask_in(token, "[api-api-api-api-key9]"), "[****key9]");
    assert_eq!(mask_in(token, "[api-aapi-api-api-key9]"), "[api-a****key9]");
    assert_eq!(mask_in(token, "[api-api-api-api-api-]"), "[****]");
    assert_eq!(
      mask_in(token, "[api-api-api-key9 api-api-api-key9]"),
      "[****key9 ****key9]"
    );
    assert_eq!(mask_in("abcabcabd", "abcabcabcabd!"), "****cabd!");
    assert_eq!(mask_in("abcabcabd1", "xabcabcabcabd1"), "x****abd1");
  }

  /// The whole-token search agrees with the plain definition for every token of up to
  /// seven characters and every text of up to eleven over a two-letter alphabet (where
  /// tokens overlap themselves in every way such short ones can).
  #[test]
  fn whole_ends_are_where_the_token_ends() {
    let strings = |longest: usize| {
      (1..=longest).flat_map(|len| {
        (0..1u32 << len).map(move |bits| (0..len).map(|i| bits >> i & 1).collect::<Vec<_>>())
      })
    };
    let texts: Vec<Vec<u32>> = strings(11).collect();
    for token in strings(7) {
      for text in &texts {
        let naive: Vec<bool> = (0..text.len())
          .map(|end| end + 1 >= token.len() && text[end + 1 - token.len()..=end] == token[..])
          .collect();
        assert_eq!(whole_ends(&token, text), naive, "{token:?} in {text:?}");
      }
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

  /// `n` tokens of 24 pseudo-random letters and digits (seeded by `seed`): tokens that
  /// share no 8 characters with each other or with those of other tests.
  fn many(seed: u64, n: usize) -> Vec<Arc<str>> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut state = seed;
    let mut next = move || {
      // splitmix64
      state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
      let mut z = state;
      z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
      z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
      z ^ (z >> 31)
    };
    (0..n)
      .map(|_| {
        let token: String = (0..24)
          .map(|_| char::from(ALPHABET[(next() % ALPHABET.len() as u64) as usize]))
          .collect();
        intern(&token)
      })
      .collect()
  }

  fn masked(token: &str) -> String {
    masked_form(&token.chars().collect::<Vec<_>>())
  }

  #[test]
  fn with_many_tokens_held_each_is_masked_in_every_shape() {
    let held = many(1, 600);
    let whole = &held[17];
    let encoded = percent_encoded(&held[250]);
    let piece = &held[599][3..14];
    let error = LdError {
      api_code: Some(json_escaped(&held[400])),
      api_message: Some(format!("html {}", html(&held[1]))),
      body_excerpt: Some(format!("cut {}", &held[2][..12]).into()),
      ..LdError::new(
        crate::error::ErrorCode::BadRequest,
        format!("a {whole} b {encoded} c {piece} d"),
      )
    };
    let scrubbed = scrub(&error);
    assert_eq!(
      scrubbed.message,
      format!("a {} b {} c **** d", masked(whole), masked(&held[250]))
    );
    assert_eq!(scrubbed.api_code, Some(masked(&held[400])));
    assert_eq!(
      scrubbed.api_message,
      Some(format!("html {}", masked(&held[1])))
    );
    assert_eq!(scrubbed.body_excerpt.as_deref(), Some("cut ****"));
    assert_eq!(
      mask_all(&format!("<{}>", held[333])),
      format!("<{}>", masked(&held[333]))
    );
    // Two tokens in one text, one nested in two encodings.
    let nested = percent_encoded(&held[5]).replace('%', "%25");
    assert_eq!(
      mask_all(&format!("{} and {nested}", held[6])),
      format!("{} and {}", masked(&held[6]), masked(&held[5]))
    );
    assert_eq!(mask_all("nothing held here"), "nothing held here");
  }

  fn html(text: &str) -> String {
    text.chars().map(|c| format!("&#{};", c as u32)).collect()
  }

  #[test]
  fn only_the_tokens_a_text_holds_a_window_of_are_candidates() {
    let held = many(2, 50);
    let ours = |found: Vec<Arc<str>>| -> Vec<usize> {
      found
        .iter()
        .filter_map(|token| held.iter().position(|h| Arc::ptr_eq(h, token)))
        .collect()
    };
    assert_eq!(
      ours(tokens_in(&["no token in here at all"])),
      Vec::<usize>::new()
    );
    assert_eq!(
      ours(tokens_in(&[&held[7][..8]])),
      vec![7],
      "an 8-character piece"
    );
    assert_eq!(
      ours(tokens_in(&[&held[7][..7]])),
      Vec::<usize>::new(),
      "7 characters are not a piece"
    );
    let both = format!("{} {}", json_escaped(&held[3]), percent_encoded(&held[9]));
    let mut found = ours(tokens_in(&["x", &both]));
    found.sort_unstable();
    assert_eq!(
      found,
      vec![3, 9],
      "found through one level of decoding, once each"
    );
  }

  #[test]
  fn short_tokens_are_masked_whole_whatever_else_is_held() {
    let _held = many(3, 20);
    let short = intern("Qz9%xY");
    assert_eq!(mask_all("key Qz9%25xY!"), "key ****!");
    assert_eq!(mask_all("key Qz9%xY!"), "key ****!");
    let tiny = intern("Zq7");
    assert_eq!(mask_all("Zq7"), "Zq7", "too short to look for");
    drop((short, tiny));
  }

  #[test]
  fn a_sweep_forgets_dropped_tokens_in_the_index() {
    let kept = intern("Hg5Fd3Sa1-sweep-kept");
    let dropped = intern("Jk8Lp0Oi2-sweep-gone");
    let short = intern("Sw2!eP");
    let window = |token: &str| -> Window {
      token
        .chars()
        .take(MIN_PIECE)
        .collect::<Vec<_>>()
        .try_into()
        .unwrap()
    };
    let (kept_window, dropped_window) = (window(&kept), window(&dropped));
    drop(dropped);
    drop(short);
    let mut registry = registry();
    registry.sweep();
    assert!(registry.windows.contains_key(&kept_window));
    assert!(
      !registry.windows.contains_key(&dropped_window),
      "the dropped token's windows are gone"
    );
    assert!(registry
      .windows
      .values()
      .flatten()
      .all(|weak| weak.strong_count() > 0));
    assert!(registry.short.iter().all(|weak| weak.strong_count() > 0));
    assert!(registry
      .buckets
      .values()
      .flatten()
      .all(|weak| weak.strong_count() > 0));
    drop(registry);
    // What is still held is still interned, shared and masked after the sweep.
    assert!(
      Arc::ptr_eq(&intern("Hg5Fd3Sa1-sweep-kept"), &kept),
      "still shared"
    );
    assert_eq!(mask_all("x Hg5Fd3Sa1-sweep-kept"), "x ****kept");
    let short = intern("Sw3?eQ");
    super::registry().sweep();
    assert_eq!(
      mask_all("key Sw3?eQ"),
      "key ****",
      "a short token held survives a sweep"
    );
    drop((kept, short));
  }

  #[test]
  fn tokens_of_four_to_seven_characters_are_short_and_of_eight_indexed() {
    let four = intern("Fq4!");
    assert_eq!(mask_all("key Fq4! here"), "key **** here");
    let eight = intern("Ei8#ght!");
    assert_eq!(mask_all("key Ei8#ght! here"), "key **** here");
    let registry = registry();
    let listed = |token: &Arc<str>| {
      registry
        .short
        .iter()
        .any(|weak| std::ptr::addr_eq(weak.as_ptr(), Arc::as_ptr(token)))
    };
    assert!(listed(&four));
    assert!(
      !listed(&eight),
      "eight characters are indexed by their window"
    );
    let window: Window = "Ei8#ght!".chars().collect::<Vec<_>>().try_into().unwrap();
    assert!(registry.windows.contains_key(&window));
    drop(registry);
    drop((four, eight));
  }
}
