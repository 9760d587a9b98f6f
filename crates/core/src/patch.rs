//! JSON Patch (RFC 6902) operations: building the phase patch and validating callers' ops.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{LdError, Result};

/// The largest phase index that fits the wire format.
pub const MAX_PHASE: u32 = u32::MAX;

/// One RFC 6902 operation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchOperation {
  pub op: String,
  pub path: String,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub value: Option<Value>,
  #[serde(skip_serializing_if = "Option::is_none")]
  pub from: Option<String>,
}

/// The patch that marks phase `phase` complete (`true`) or incomplete (`false`).
pub fn phase_patch(phase: u32, complete: bool) -> Vec<PatchOperation> {
  vec![PatchOperation {
    op: "replace".to_string(),
    path: format!("/phases/{phase}/complete"),
    value: Some(Value::Bool(complete)),
    from: None,
  }]
}

/// Checks that a JavaScript number is a phase index: an integer in 0..=4294967295.
pub fn phase_from_f64(argument: &str, value: f64) -> Result<u32> {
  if !value.is_finite() || value.fract() != 0.0 || value < 0.0 || value > f64::from(MAX_PHASE) {
    return Err(LdError::invalid(format!(
      "{argument} must be an integer from 0 to {MAX_PHASE}, got {}",
      describe_number(value)
    )));
  }
  Ok(value as u32)
}

/// A number as an error message quotes it: `NaN`, `Infinity`, or its shortest form.
pub fn describe_number(value: f64) -> String {
  if value.is_nan() {
    "NaN".to_string()
  } else if value.is_infinite() {
    if value > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
  } else {
    format!("{value}")
  }
}

/// Turns a JSON value (as given by the caller) into validated operations.
/// Error messages name the argument and the index of the offending operation.
pub fn parse_patch(argument: &str, value: &Value) -> Result<Vec<PatchOperation>> {
  let items = value
    .as_array()
    .ok_or_else(|| LdError::invalid(format!("{argument} must be an array of operations")))?;
  if items.is_empty() {
    return Err(LdError::invalid(format!(
      "{argument} must hold at least one operation"
    )));
  }
  items
    .iter()
    .enumerate()
    .map(|(index, item)| parse_operation(&format!("{argument}[{index}]"), item))
    .collect()
}

fn parse_operation(at: &str, item: &Value) -> Result<PatchOperation> {
  let object = item
    .as_object()
    .ok_or_else(|| LdError::invalid(format!("{at} must be an object")))?;
  let string_field = |name: &str| -> Result<Option<String>> {
    match object.get(name) {
      None | Some(Value::Null) => Ok(None),
      Some(Value::String(s)) => Ok(Some(s.clone())),
      Some(_) => Err(LdError::invalid(format!("{at}.{name} must be a string"))),
    }
  };
  let op = string_field("op")?.ok_or_else(|| LdError::invalid(format!("{at}.op is required")))?;
  let path =
    string_field("path")?.ok_or_else(|| LdError::invalid(format!("{at}.path is required")))?;
  let from = string_field("from")?;
  let value = object.get("value").cloned();
  if let Some(unknown) = object
    .keys()
    .find(|k| !matches!(k.as_str(), "op" | "path" | "value" | "from"))
  {
    return Err(LdError::invalid(format!(
      "{at} has an unknown member {unknown:?}"
    )));
  }
  validate_pointer(&format!("{at}.path"), &path)?;
  match op.as_str() {
    "add" | "replace" | "test" => {
      if value.is_none() {
        return Err(LdError::invalid(format!(
          "{at}.value is required for op {op:?} and must not be undefined (null is sent as null)"
        )));
      }
    }
    "move" | "copy" => {
      let from = from
        .as_deref()
        .ok_or_else(|| LdError::invalid(format!("{at}.from is required for op {op:?}")))?;
      validate_pointer(&format!("{at}.from"), from)?;
    }
    "remove" => {}
    other => {
      return Err(LdError::invalid(format!(
        "{at}.op must be one of add, remove, replace, move, copy, test; got {other:?}"
      )))
    }
  }
  Ok(PatchOperation {
    op,
    path,
    value,
    from,
  })
}

/// RFC 6901: empty, or `/`-prefixed tokens where `~` is only followed by `0` or `1`.
fn validate_pointer(at: &str, pointer: &str) -> Result<()> {
  if !pointer.is_empty() && !pointer.starts_with('/') {
    return Err(LdError::invalid(format!(
      "{at} must be a JSON Pointer starting with '/', got {pointer:?}"
    )));
  }
  let mut chars = pointer.chars();
  while let Some(c) = chars.next() {
    if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
      return Err(LdError::invalid(format!(
        "{at} has '~' not followed by 0 or 1: {pointer:?}"
      )));
    }
  }
  Ok(())
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::error::ErrorCode;
  use serde_json::json;

  #[test]
  fn phase_patch_is_the_documented_body() {
    let body = serde_json::to_string(&phase_patch(0, true)).unwrap();
    assert_eq!(
      body,
      r#"[{"op":"replace","path":"/phases/0/complete","value":true}]"#
    );
    let body = serde_json::to_string(&phase_patch(4_294_967_295, false)).unwrap();
    assert_eq!(
      body,
      r#"[{"op":"replace","path":"/phases/4294967295/complete","value":false}]"#
    );
  }

  #[test]
  fn phases_do_not_wrap() {
    assert_eq!(phase_from_f64("phase", 0.0).unwrap(), 0);
    assert_eq!(phase_from_f64("phase", 4_294_967_295.0).unwrap(), u32::MAX);
    for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY, 4_294_967_296.0, -0.5] {
      let err = phase_from_f64("phase", bad).unwrap_err();
      assert_eq!(err.code, ErrorCode::InvalidArgument);
      assert!(
        err.message.starts_with("phase must be an integer"),
        "{}",
        err.message
      );
    }
  }

  #[test]
  fn valid_operations_pass() {
    let ops = parse_patch(
      "patch",
      &json!([
        {"op": "replace", "path": "/phases/1/complete", "value": false},
        {"op": "test", "path": "/_version", "value": 3},
        {"op": "remove", "path": "/a~1b/~0c"},
        {"op": "move", "path": "/x", "from": "/y"},
        {"op": "copy", "path": "", "from": "/y"},
        {"op": "add", "path": "/n", "value": null},
      ]),
    )
    .unwrap();
    assert_eq!(ops.len(), 6);
    assert_eq!(ops[5].value, Some(Value::Null));
  }

  #[test]
  fn malformed_operations_are_named() {
    let cases = [
      (json!({}), "patch must be an array"),
      (json!([]), "patch must hold at least one"),
      (json!([1]), "patch[0] must be an object"),
      (
        json!([{"path": "/a", "value": 1}]),
        "patch[0].op is required",
      ),
      (
        json!([{"op": "replace", "value": 1}]),
        "patch[0].path is required",
      ),
      (
        json!([{"op": "replace", "path": "/a"}]),
        "patch[0].value is required",
      ),
      (
        json!([{"op": "merge", "path": "/a", "value": 1}]),
        "patch[0].op must be one of",
      ),
      (
        json!([{"op": "move", "path": "/a"}]),
        "patch[0].from is required",
      ),
      (
        json!([{"op": "copy", "path": "/a", "from": "b"}]),
        "patch[0].from must be a JSON Pointer",
      ),
      (
        json!([{"op": "replace", "path": "phases/0", "value": 1}]),
        "patch[0].path must be a JSON Pointer",
      ),
      (
        json!([{"op": "remove", "path": "/a~2"}]),
        "patch[0].path has '~'",
      ),
      (
        json!([{"op": 1, "path": "/a"}]),
        "patch[0].op must be a string",
      ),
      (
        json!([{"op": "remove", "path": "/a"}, {"op": "remove", "path": "/b", "extra": 1}]),
        "patch[1] has an unknown member \"extra\"",
      ),
    ];
    for (input, expected) in cases {
      let err = parse_patch("patch", &input).unwrap_err();
      assert_eq!(err.code, ErrorCode::InvalidArgument);
      assert!(
        err.message.starts_with(expected),
        "{input}: {}",
        err.message
      );
    }
  }
}
