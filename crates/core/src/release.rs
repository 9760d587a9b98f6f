//! Releases as LaunchDarkly sends them.
//!
//! A call resolves to the server's own JSON: every field it sent, known to this crate or
//! not, and no field it left out (the real service answers far sparser objects than its
//! OpenAPI document requires). The client checks only what it uses itself: that a 2xx
//! body is a JSON object and, where a call looks at the phases, that `phases` is an array
//! of objects with `_id`, `_name` and `complete` (`ReleaseView`). The one change made to
//! the text: epoch-millisecond fields sent as numeric strings become numbers.

use serde::Deserialize;
use serde_json::Value;

use crate::error::{ErrorCode, LdError, Result};

/// Epoch-millisecond fields of a release, at any depth. LaunchDarkly sends them as
/// integers; its preview documents show numeric strings, which are turned into numbers.
pub const MILLIS_FIELDS: [&str; 4] = [
  "_creationDate",
  "_completionDate",
  "_startedDate",
  "_canceledAt",
];

/// How much of a body a decode error quotes.
const EXCERPT_CHARS: usize = 200;

/// A release: the JSON text of the object the server answered, checked to be a JSON
/// object. `json()` is what JavaScript receives; `view()` reads the part of it the
/// client itself uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
  text: String,
  /// The HTTP status it came with, for errors about its content.
  status: u16,
  /// How many requests the answer took, for errors about its content.
  attempts: u32,
  pipeline_key: Option<String>,
  /// The answer's `Date` header (the server's clock, to the second), in Unix ms.
  server_date_ms: Option<u64>,
}

impl Release {
  /// Checks a 2xx body: UTF-8, one JSON object and nothing after it. The error names
  /// what is wrong, says that the server accepted the request, and quotes the start of
  /// the body (`body_excerpt`).
  pub fn from_body(body: Vec<u8>, status: u16) -> Result<Release> {
    let text = match String::from_utf8(body) {
      Ok(text) => text,
      Err(e) => {
        let body = e.into_bytes();
        return Err(decode_error(
          status,
          "its body is not UTF-8 text",
          &String::from_utf8_lossy(&body),
        ));
      }
    };
    // One pass checks the syntax, that it is an object, and picks the pipeline key.
    let top = match serde_json::from_str::<TopRepr>(&text) {
      Ok(top) => top,
      Err(e) if e.is_data() => {
        return Err(decode_error(status, "its body is not a JSON object", &text))
      }
      Err(e) => {
        return Err(decode_error(
          status,
          &format!("its body is not valid JSON ({e})"),
          &text,
        ))
      }
    };
    let text = if has_string_millis(&text) {
      millis_as_numbers(&text).unwrap_or(text)
    } else {
      text
    };
    Ok(Release {
      text,
      status,
      attempts: 1,
      server_date_ms: None,
      pipeline_key: top
        .release_pipeline_key
        .and_then(|v| v.as_str().map(str::to_string)),
    })
  }

  /// Notes how many requests the answer took (1 unless retried).
  pub fn with_attempts(self, attempts: u32) -> Self {
    Release { attempts, ..self }
  }

  /// The same answer, with the time its `Date` header says (Unix ms).
  pub fn with_server_date(self, server_date_ms: Option<u64>) -> Self {
    Release {
      server_date_ms,
      ..self
    }
  }

  /// The time the answer's `Date` header says (Unix ms, whole seconds), if it had one.
  pub fn server_date_ms(&self) -> Option<u64> {
    self.server_date_ms
  }

  /// `releasePipelineKey`, when the answer has it as a string.
  pub fn pipeline_key(&self) -> Option<&str> {
    self.pipeline_key.as_deref()
  }

  /// The release as JSON text: the server's own, with millisecond strings as numbers.
  pub fn json(&self) -> &str {
    &self.text
  }

  pub fn into_json(self) -> String {
    self.text
  }

  /// The phases (and pipeline key) the client works with. Fails with `ERR_LD_DECODE`,
  /// naming the field (`phases[1]._id`), when the answer lacks what a phase lookup needs.
  pub fn view(&self) -> Result<ReleaseView> {
    let repr: ViewRepr = self.parse("release")?;
    Ok(ReleaseView {
      release_pipeline_key: self.pipeline_key.clone(),
      phases: repr
        .phases
        .into_iter()
        .map(|p| PhaseView {
          id: p.id,
          name: p.name,
          complete: p.complete,
          status: p.status.and_then(|v| v.as_str().map(str::to_string)),
        })
        .collect(),
    })
  }

  /// Reads the part `T` of the answer a call needs. Fails with `ERR_LD_DECODE` naming
  /// the field that is missing or of another type (`what` names the whole answer).
  pub fn parse<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T> {
    let mut de = serde_json::Deserializer::from_str(&self.text);
    serde_path_to_error::deserialize(&mut de).map_err(|err| {
      let path = field_path(&err, what);
      let error = decode_error(
        self.status,
        &format!(
          "its answer has no usable {path} ({}), which this call needs",
          err.into_inner()
        ),
        &self.text,
      );
      LdError {
        attempts: self.attempts,
        ..error
      }
    })
  }
}

/// What the client reads of a release to find and move phases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseView {
  /// `releasePipelineKey`, when the answer has it (as a string).
  pub release_pipeline_key: Option<String>,
  pub phases: Vec<PhaseView>,
}

/// One phase, as far as the client needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseView {
  /// `_id`
  pub id: String,
  /// `_name`
  pub name: String,
  pub complete: bool,
  /// `status`, as sent (`not-started`, `ready-to-start`, `active`, `completed`, ...).
  pub status: Option<String>,
}

#[derive(Deserialize)]
struct TopRepr {
  #[serde(rename = "releasePipelineKey", default)]
  release_pipeline_key: Option<Value>,
}

#[derive(Deserialize)]
struct ViewRepr {
  phases: Vec<PhaseRepr>,
}

#[derive(Deserialize)]
struct PhaseRepr {
  #[serde(rename = "_id")]
  id: String,
  #[serde(rename = "_name")]
  name: String,
  complete: bool,
  #[serde(default)]
  status: Option<Value>,
}

/// The path of a failed field, naming a missing field itself rather than its parent.
fn field_path(err: &serde_path_to_error::Error<serde_json::Error>, whole: &str) -> String {
  let path = err.path().to_string();
  let text = err.inner().to_string();
  match text
    .strip_prefix("missing field `")
    .and_then(|rest| rest.split_once('`'))
  {
    Some((field, _)) if path == "." || path.is_empty() => field.to_string(),
    Some((field, _)) => format!("{path}.{field}"),
    None if path == "." || path.is_empty() => whole.to_string(),
    None => path,
  }
}

/// `ERR_LD_DECODE` for a 2xx answer: the request was accepted, its answer is unusable.
pub fn decode_error(status: u16, what: &str, body: &str) -> LdError {
  LdError {
    status: Some(status),
    body_excerpt: Some(excerpt(body).into()),
    ..LdError::new(
      ErrorCode::Decode,
      format!("The server accepted the request (HTTP {status}) but {what}"),
    )
  }
}

/// The start of a body, on one line: at most `EXCERPT_CHARS` characters, control
/// characters replaced.
pub fn excerpt(body: &str) -> String {
  let mut out: String = body
    .chars()
    .take(EXCERPT_CHARS)
    .map(|c| if c.is_control() { ' ' } else { c })
    .collect();
  if body.chars().nth(EXCERPT_CHARS).is_some() {
    out.push('…');
  }
  out
}

/// Whether a millisecond field holds a string anywhere in `text` (a cheap scan that
/// lets the usual answer through untouched).
fn has_string_millis(text: &str) -> bool {
  MILLIS_FIELDS.iter().any(|field| {
    let quoted = format!("\"{field}\"");
    text.match_indices(&quoted).any(|(at, _)| {
      text[at + quoted.len()..]
        .trim_start()
        .strip_prefix(':')
        .is_some_and(|rest| rest.trim_start().starts_with('"'))
    })
  })
}

/// `text` with every millisecond field holding an integer string turned into that
/// integer; other strings are left as they are.
fn millis_as_numbers(text: &str) -> Option<String> {
  let mut value: Value = serde_json::from_str(text).ok()?;
  convert_millis(&mut value);
  serde_json::to_string(&value).ok()
}

fn convert_millis(value: &mut Value) {
  match value {
    Value::Object(map) => {
      for (key, field) in map.iter_mut() {
        if let Value::String(s) = field {
          if MILLIS_FIELDS.contains(&key.as_str()) {
            if let Ok(n) = s.trim().parse::<i64>() {
              *field = Value::from(n);
            }
          }
        } else {
          convert_millis(field);
        }
      }
    }
    Value::Array(items) => items.iter_mut().for_each(convert_millis),
    _ => {}
  }
}

/// What a release pipeline's answer says of its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipelineKind {
  /// `_isLegacy: true`: phases are completed with the JSON Patch.
  Legacy,
  /// `_isLegacy: false`: phases move only forward, by starting the next one.
  New,
  /// The pipeline could not be read (403, 404) or does not say: treated as legacy, so
  /// the PATCH is sent and the server decides.
  Unknown,
}

impl PipelineKind {
  /// The kind a pipeline answer (any 2xx body) declares in `_isLegacy`.
  pub fn from_pipeline_body(body: &[u8]) -> PipelineKind {
    #[derive(Deserialize)]
    struct Repr {
      #[serde(rename = "_isLegacy", default)]
      is_legacy: Option<Value>,
    }
    match serde_json::from_slice::<Repr>(body)
      .ok()
      .and_then(|r| r.is_legacy)
    {
      Some(Value::Bool(true)) => PipelineKind::Legacy,
      Some(Value::Bool(false)) => PipelineKind::New,
      _ => PipelineKind::Unknown,
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use serde_json::json;

  /// A new-pipeline release as LaunchDarkly answered it (December 2025 record):
  /// unstarted phases without `_creationDate` or `_audiences`, environments without
  /// `_links`, kebab-case statuses, no `_links` or `_version` on the release.
  fn recorded() -> Value {
    json!({
      "name": "Progressive", "releasePipelineKey": "progressive", "releasePipelineDescription": "",
      "phases": [
        {"_id": "a1", "_name": "QA", "complete": false, "status": "active", "started": true,
         "_creationDate": 1766084905114_i64, "_startedDate": 1766084905114_i64,
         "_audiences": [{"_id": "x", "name": "QA", "status": "active",
           "environment": {"key": "dev", "name": "Dev", "color": "00da7b"}}]},
        {"_id": "b2", "_name": "Production", "complete": false, "status": "not-started", "started": false}
      ],
      "_releaseVariationId": "v1",
      "somethingNew": {"nested": [1, 2]}
    })
  }

  fn release(value: &Value) -> Result<Release> {
    Release::from_body(value.to_string().into_bytes(), 200)
  }

  #[test]
  fn passes_the_servers_json_through_untouched() {
    let input = recorded();
    let r = release(&input).unwrap();
    assert_eq!(r.json(), input.to_string());
    let back: Value = serde_json::from_str(r.json()).unwrap();
    assert_eq!(back["somethingNew"], json!({"nested": [1, 2]}));
    assert!(back.get("_version").is_none(), "no invented defaults");
    assert!(back["phases"][1].get("_audiences").is_none());
  }

  #[test]
  fn the_view_needs_only_ids_names_and_completion() {
    let view = release(&recorded()).unwrap().view().unwrap();
    assert_eq!(view.release_pipeline_key.as_deref(), Some("progressive"));
    assert_eq!(
      view.phases,
      [
        PhaseView {
          id: "a1".into(),
          name: "QA".into(),
          complete: false,
          status: Some("active".into())
        },
        PhaseView {
          id: "b2".into(),
          name: "Production".into(),
          complete: false,
          status: Some("not-started".into())
        },
      ]
    );
    let mut odd = recorded();
    odd["releasePipelineKey"] = json!(7);
    odd["phases"][0]["status"] = json!({"weird": true});
    let view = release(&odd).unwrap().view().unwrap();
    assert_eq!(view.release_pipeline_key, None);
    assert_eq!(view.phases[0].status, None);
  }

  #[test]
  fn a_view_error_names_the_field_and_keeps_the_status() {
    let mut bad = recorded();
    bad["phases"][1].as_object_mut().unwrap().remove("_id");
    let err = release(&bad).unwrap().view().unwrap_err();
    assert_eq!(err.code, ErrorCode::Decode);
    assert_eq!(err.status, Some(200));
    assert!(err.message.contains("phases[1]._id"), "{}", err.message);
    assert!(
      err.message.contains("accepted the request"),
      "{}",
      err.message
    );
    assert!(err.body_excerpt.as_deref().unwrap().contains("\"phases\""));

    let mut none = recorded();
    none.as_object_mut().unwrap().remove("phases");
    let err = release(&none).unwrap().view().unwrap_err();
    assert!(err.message.contains("usable phases"), "{}", err.message);
    let mut wrong = recorded();
    wrong["phases"][0]["complete"] = json!("yes");
    let err = release(&wrong).unwrap().view().unwrap_err();
    assert!(
      err.message.contains("phases[0].complete"),
      "{}",
      err.message
    );
  }

  #[test]
  fn numeric_strings_in_millisecond_fields_become_numbers() {
    let mut input = recorded();
    input["phases"][0]["_creationDate"] = json!(" 1766084905114");
    input["_canceledAt"] = json!("1766084905999");
    input["phases"][0]["_completionDate"] = json!("not a time");
    input["label"] = json!("1766084905114");
    let text = release(&input).unwrap().into_json();
    let out: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(out["phases"][0]["_creationDate"], json!(1766084905114_i64));
    assert_eq!(out["_canceledAt"], json!(1766084905999_i64));
    assert_eq!(out["phases"][0]["_completionDate"], json!("not a time"));
    assert_eq!(out["label"], json!("1766084905114"), "other fields stay");
    assert!(has_string_millis(r#"{"_startedDate" :  "1"}"#));
    assert!(!has_string_millis(
      r#"{"_startedDate": 1, "x": "_startedDate"}"#
    ));
  }

  #[test]
  fn bodies_that_are_not_one_json_object_fail_with_an_excerpt() {
    for body in [
      &b"<html>ok</html>"[..],
      b"",
      b"{\"name\":",
      b"{} trailing",
      b"[1, 2]",
      b"\"text\"",
      b"{\"a\": \"\xff\"}",
    ] {
      let err = Release::from_body(body.to_vec(), 201).unwrap_err();
      assert_eq!(err.code, ErrorCode::Decode, "{body:?}");
      assert_eq!(err.status, Some(201));
      assert!(err.message.contains("HTTP 201"), "{}", err.message);
      assert!(err.body_excerpt.is_some());
    }
    let long = format!("<p>{}</p>", "x\n".repeat(500));
    let err = Release::from_body(long.into_bytes(), 200).unwrap_err();
    let quoted = err.body_excerpt.unwrap();
    assert_eq!(quoted.chars().count(), EXCERPT_CHARS + 1);
    assert!(!quoted.contains('\n'));
  }

  #[test]
  fn pipeline_kind_comes_from_is_legacy() {
    let kind = |body: &str| PipelineKind::from_pipeline_body(body.as_bytes());
    assert_eq!(
      kind(r#"{"key":"p","_isLegacy":true}"#),
      PipelineKind::Legacy
    );
    assert_eq!(kind(r#"{"key":"p","_isLegacy":false}"#), PipelineKind::New);
    assert_eq!(kind(r#"{"key":"p"}"#), PipelineKind::Unknown);
    assert_eq!(kind(r#"{"_isLegacy":"no"}"#), PipelineKind::Unknown);
    assert_eq!(kind("<html>"), PipelineKind::Unknown);
  }
}
