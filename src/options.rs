//! JavaScript values to core types, converted once per call. Every failure here is an
//! `ERR_LD_INVALID_ARGUMENT` naming the argument, raised before anything is sent.

use std::sync::Arc;

use napi::bindgen_prelude::{Array, FnArgs, FromNapiValue, Function, JsObjectValue, Object};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{Env, JsValue, Unknown, ValueType};

use crate::phases::PhaseRef;
use crate::release::{CreateReleaseInput, UpdatePhaseStatusInput};

use crate::config::{ClientOptions, RequestOptions, Secret, MAX_RETRIES_LIMIT, MAX_TIMEOUT_MS};
use crate::error::{LdError, Result};
use crate::patch::{self, PatchOperation};

/// Options of a call: client settings, per-request settings and an abort signal.
#[derive(Default)]
pub struct CallOptions<'env> {
  pub client: ClientOptions,
  pub request: RequestOptions,
  pub signal: Option<Object<'env>>,
}

/// Which options an argument may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Accept {
  Client,
  Request,
  Both,
}

fn value_type(value: &Unknown) -> ValueType {
  value.get_type().unwrap_or(ValueType::Unknown)
}

fn type_name(value: &Unknown) -> &'static str {
  match value_type(value) {
    ValueType::Undefined => "undefined",
    ValueType::Null => "null",
    ValueType::Boolean => "a boolean",
    ValueType::Number => "a number",
    ValueType::String => "a string",
    ValueType::Symbol => "a symbol",
    ValueType::Object => "an object",
    ValueType::Function => "a function",
    _ => "an unsupported value",
  }
}

fn is_absent(value: &Unknown) -> bool {
  matches!(value_type(value), ValueType::Undefined | ValueType::Null)
}

/// `object[key]` (named `{at}.{key}` in errors); `undefined` and `null` are `None`.
fn property<'env>(object: &Object<'env>, at: &str, key: &str) -> Result<Option<Unknown<'env>>> {
  let value: Unknown<'env> = object
    .get_named_property(key)
    .map_err(|_| LdError::invalid(format!("{at}.{key} could not be read")))?;
  Ok((!is_absent(&value)).then_some(value))
}

/// A string argument. The value itself is never echoed (it could be a token).
pub fn string(name: &str, value: &Unknown) -> Result<String> {
  if value_type(value) != ValueType::String {
    return Err(LdError::invalid(format!(
      "{name} must be a string, got {}",
      type_name(value)
    )));
  }
  // SAFETY: the type was checked just above.
  unsafe { value.cast::<String>() }
    .map_err(|_| LdError::invalid(format!("{name} must be a valid string")))
}

/// A project or flag key: a non-empty string.
pub fn key(name: &str, value: &Unknown) -> Result<String> {
  let key = string(name, value)?;
  crate::config::validate_key(name, &key)?;
  Ok(key)
}

fn number(name: &str, value: &Unknown) -> Result<f64> {
  if value_type(value) != ValueType::Number {
    return Err(LdError::invalid(format!(
      "{name} must be a number, got {}",
      type_name(value)
    )));
  }
  // SAFETY: the type was checked just above.
  unsafe { value.cast::<f64>() }.map_err(|_| LdError::invalid(format!("{name} must be a number")))
}

/// A phase index: an integer from 0 to 4294967295, never wrapped.
pub fn phase(name: &str, value: &Unknown) -> Result<u32> {
  patch::phase_from_f64(name, number(name, value)?)
}

pub fn boolean(name: &str, value: &Unknown) -> Result<bool> {
  if value_type(value) != ValueType::Boolean {
    return Err(LdError::invalid(format!(
      "{name} must be a boolean, got {}",
      type_name(value)
    )));
  }
  // SAFETY: the type was checked just above.
  unsafe { value.cast::<bool>() }.map_err(|_| LdError::invalid(format!("{name} must be a boolean")))
}

fn integer_in(name: &str, value: &Unknown, min: u64, max: u64) -> Result<u64> {
  let n = number(name, value)?;
  if !n.is_finite() || n.fract() != 0.0 || n < min as f64 || n > max as f64 {
    return Err(LdError::invalid(format!(
      "{name} must be an integer from {min} to {max}, got {n}"
    )));
  }
  Ok(n as u64)
}

/// A JSON Patch given as a JavaScript array of operations.
pub fn patch_ops(env: &Env, name: &str, value: &Unknown) -> Result<Vec<PatchOperation>> {
  if !value.is_array().unwrap_or(false) {
    return Err(LdError::invalid(format!(
      "{name} must be an array of operations, got {}",
      type_name(value)
    )));
  }
  let json: serde_json::Value = env
    .from_js_value(value.to_unknown())
    .map_err(|e| LdError::invalid(format!("{name} is not JSON-compatible: {}", e.reason)))?;
  patch::parse_patch(name, &json)
}

/// Options of a client: the constructor's, and those of a module-level call.
const CLIENT_OPTIONS: [&str; 6] = [
  "apiKey",
  "baseUrl",
  "timeoutMs",
  "maxRetries",
  "userAgent",
  "methodOverride",
];
/// Options of one call.
const REQUEST_OPTIONS: [&str; 3] = ["timeoutMs", "maxRetries", "signal"];
/// Options only `completePhases` takes, besides those of a call.
pub const BULK_OPTIONS: [&str; 2] = ["concurrency", "onProgress"];

/// Checks the property names of an options object against the options `accept` and
/// `extra` allow. An unknown name is refused rather than ignored: a misspelt `baseUrl`
/// must never send to the default instance, nor a misspelt `timeoutMs` wait forever.
pub fn check_option_names(
  name: &str,
  keys: &[String],
  accept: Accept,
  extra: &[&str],
) -> Result<()> {
  let client = matches!(accept, Accept::Client | Accept::Both);
  let request = matches!(accept, Accept::Request | Accept::Both);
  let mut known: Vec<&str> = Vec::new();
  if client {
    known.extend(CLIENT_OPTIONS);
  }
  if request {
    for key in REQUEST_OPTIONS {
      if !known.contains(&key) {
        known.push(key);
      }
    }
  }
  known.extend(extra);
  for key in keys {
    if known.contains(&key.as_str()) {
      continue;
    }
    let shown = printable(key);
    let message = if CLIENT_OPTIONS.contains(&key.as_str()) {
      format!("{name}.{shown} is a client option: give it to new ReleaseClient(), not to a call")
    } else if REQUEST_OPTIONS.contains(&key.as_str()) {
      format!("{name}.{shown} is an option of each call, not of the client")
    } else if BULK_OPTIONS.contains(&key.as_str()) {
      format!("{name}.{shown} is an option of completePhases only")
    } else {
      let hint = closest(key, &known)
        .map(|k| format!(" (did you mean {k}?)"))
        .unwrap_or_default();
      format!(
        "{name}.{shown} is not an option{hint}; the options here are {}",
        known.join(", ")
      )
    };
    return Err(LdError::invalid(message));
  }
  Ok(())
}

/// A property name as it may appear in an error: at most 40 visible characters.
fn printable(key: &str) -> String {
  let mut shown: String = key
    .chars()
    .take(40)
    .map(|c| if c.is_control() { '?' } else { c })
    .collect();
  if key.chars().count() > 40 {
    shown.push('…');
  }
  shown
}

/// The known name nearest to `key` (ignoring case), if it is a plausible misspelling.
fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
  let key = key.to_ascii_lowercase();
  known
    .iter()
    .map(|k| (edit_distance(&key, &k.to_ascii_lowercase()), *k))
    .filter(|(d, k)| *d <= 2.max(k.len() / 4))
    .min_by_key(|(d, _)| *d)
    .map(|(_, k)| k)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
  let b: Vec<char> = b.chars().collect();
  let mut row: Vec<usize> = (0..=b.len()).collect();
  for (i, ca) in a.chars().enumerate() {
    let mut previous = row[0];
    row[0] = i + 1;
    for (j, cb) in b.iter().enumerate() {
      let current = row[j + 1];
      row[j + 1] = if ca == *cb {
        previous
      } else {
        1 + previous.min(row[j]).min(current)
      };
      previous = current;
    }
  }
  row[b.len()]
}

/// The enumerable string-keyed property names of `object` (its prototypes' included,
/// as options are read through them).
fn property_names(object: &Object, name: &str) -> Result<Vec<String>> {
  let unreadable = || LdError::invalid(format!("{name} could not be read"));
  let names = object.get_property_names().map_err(|_| unreadable())?;
  let length = names.get_array_length().map_err(|_| unreadable())?;
  (0..length)
    .map(|i| names.get_element::<String>(i).map_err(|_| unreadable()))
    .collect()
}

/// Reads an options object. `undefined` and `null` mean no options.
pub fn call_options<'env>(
  name: &str,
  value: Option<Unknown<'env>>,
  accept: Accept,
) -> Result<CallOptions<'env>> {
  call_options_with(name, value, accept, &[])
}

/// Reads an options object that may also hold the options named in `extra` (read
/// elsewhere, as `bulk_options` does).
pub fn call_options_with<'env>(
  name: &str,
  value: Option<Unknown<'env>>,
  accept: Accept,
  extra: &[&str],
) -> Result<CallOptions<'env>> {
  let mut out = CallOptions::default();
  let Some(value) = value.filter(|v| !is_absent(v)) else {
    return Ok(out);
  };
  if value_type(&value) != ValueType::Object || value.is_array().unwrap_or(false) {
    return Err(LdError::invalid(format!(
      "{name} must be an object, got {}",
      type_name(&value)
    )));
  }
  // SAFETY: checked to be an object above.
  let object = unsafe { value.cast::<Object>() }
    .map_err(|_| LdError::invalid(format!("{name} must be an object")))?;
  check_option_names(name, &property_names(&object, name)?, accept, extra)?;
  let field = |key: &str| property(&object, name, key);
  let client = matches!(accept, Accept::Client | Accept::Both);
  let request = matches!(accept, Accept::Request | Accept::Both);
  if client {
    if let Some(v) = field("apiKey")? {
      let key = string(&format!("{name}.apiKey"), &v)?;
      let key = key.trim();
      if key.is_empty() || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(LdError::invalid(format!(
          "{name}.apiKey must be a non-empty token of visible ASCII characters"
        )));
      }
      out.client.api_key = Some(Secret::new(key));
    }
    if let Some(v) = field("baseUrl")? {
      out.client.base_url = Some(string(&format!("{name}.baseUrl"), &v)?);
    }
    if let Some(v) = field("methodOverride")? {
      out.client.method_override = Some(boolean(&format!("{name}.methodOverride"), &v)?);
    }
    if let Some(v) = field("userAgent")? {
      let ua = string(&format!("{name}.userAgent"), &v)?;
      if !ua.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
        return Err(LdError::invalid(format!(
          "{name}.userAgent must hold only visible ASCII characters and spaces"
        )));
      }
      out.client.user_agent = Some(ua);
    }
  }
  let timeout = field("timeoutMs")?
    .map(|v| integer_in(&format!("{name}.timeoutMs"), &v, 1, MAX_TIMEOUT_MS))
    .transpose()?;
  let retries = field("maxRetries")?
    .map(|v| {
      integer_in(
        &format!("{name}.maxRetries"),
        &v,
        0,
        MAX_RETRIES_LIMIT.into(),
      )
    })
    .transpose()?
    .map(|n| n as u32);
  // Module-level calls take these per call, so one shared client serves every value.
  if accept == Accept::Client {
    out.client.timeout_ms = timeout;
    out.client.max_retries = retries;
  } else {
    out.request.timeout_ms = timeout;
    out.request.max_retries = retries;
  }
  if request {
    if let Some(v) = field("signal")? {
      out.signal = Some(abort_signal(&format!("{name}.signal"), &v)?);
    }
  }
  Ok(out)
}

fn abort_signal<'env>(name: &str, value: &Unknown<'env>) -> Result<Object<'env>> {
  let not_signal = || LdError::invalid(format!("{name} must be an AbortSignal"));
  if value_type(value) != ValueType::Object {
    return Err(not_signal());
  }
  // SAFETY: checked to be an object above.
  let object =
    unsafe { Object::from_napi_value(value.value().env, value.raw()) }.map_err(|_| not_signal())?;
  let has_shape = object
    .get_named_property::<Unknown>("aborted")
    .is_ok_and(|v| value_type(&v) == ValueType::Boolean)
    && object
      .get_named_property::<Unknown>("addEventListener")
      .is_ok_and(|v| value_type(&v) == ValueType::Function);
  if has_shape {
    Ok(object)
  } else {
    Err(not_signal())
  }
}

/// Settings of a bulk run, read from the same options object as the call's.
pub struct BulkSettings {
  pub concurrency: usize,
  pub progress: Option<crate::bulk::Progress>,
}

/// Reads `concurrency` and `onProgress` from an options object (already checked to be
/// an object, or absent, by `call_options`).
pub fn bulk_options(name: &str, value: Option<Unknown>) -> Result<BulkSettings> {
  let mut settings = BulkSettings {
    concurrency: crate::bulk::DEFAULT_CONCURRENCY,
    progress: None,
  };
  let Some(value) = value.filter(|v| !is_absent(v)) else {
    return Ok(settings);
  };
  // SAFETY: `call_options` checked that it is an object.
  let object = unsafe { value.cast::<Object>() }
    .map_err(|_| LdError::invalid(format!("{name} must be an object")))?;
  let field = |key: &str| property(&object, name, key);
  if let Some(v) = field("concurrency")? {
    let max = crate::bulk::MAX_CONCURRENCY as u64;
    settings.concurrency = integer_in(&format!("{name}.concurrency"), &v, 1, max)? as usize;
  }
  if let Some(v) = field("onProgress")? {
    if value_type(&v) != ValueType::Function {
      return Err(LdError::invalid(format!(
        "{name}.onProgress must be a function, got {}",
        type_name(&v)
      )));
    }
    let build = || -> napi::Result<crate::bulk::Progress> {
      // SAFETY: checked to be a function above.
      let callback: Function<FnArgs<(u32, u32)>, Unknown> = unsafe { v.cast() }?;
      let tsfn = callback
        .build_threadsafe_function::<FnArgs<(u32, u32)>>()
        .build()?;
      Ok(Arc::new(move |done: usize, total: usize| {
        tsfn.call(
          (done as u32, total as u32).into(),
          ThreadsafeFunctionCallMode::NonBlocking,
        );
      }))
    };
    settings.progress = Some(build().map_err(|e| {
      LdError::invalid(format!("{name}.onProgress could not be used: {}", e.reason))
    })?);
  }
  Ok(settings)
}

/// Reads `items` (`{ projectKey, flagKey, phase, complete? }[]`) and prepares each with
/// `prepare`. A bad item becomes that item's error; only a non-array fails the whole call.
pub fn phase_items<T>(
  name: &str,
  value: &Unknown,
  prepare: impl Fn(&str, &str, u32, bool) -> Result<T>,
) -> Result<Vec<Result<T>>> {
  if !value.is_array().unwrap_or(false) {
    return Err(LdError::invalid(format!(
      "{name} must be an array of {{ projectKey, flagKey, phase }}, got {}",
      type_name(value)
    )));
  }
  // SAFETY: checked to be an array above.
  let array = unsafe { value.cast::<Array>() }
    .map_err(|_| LdError::invalid(format!("{name} must be an array")))?;
  let item = |index: u32| -> Result<T> {
    let at = format!("{name}[{index}]");
    let element: Unknown = array
      .get(index)
      .ok()
      .flatten()
      .ok_or_else(|| LdError::invalid(format!("{at} could not be read")))?;
    if value_type(&element) != ValueType::Object {
      return Err(LdError::invalid(format!(
        "{at} must be an object, got {}",
        type_name(&element)
      )));
    }
    // SAFETY: checked to be an object above.
    let object = unsafe { element.cast::<Object>() }
      .map_err(|_| LdError::invalid(format!("{at} must be an object")))?;
    let required = |key: &str| {
      property(&object, &at, key)?
        .ok_or_else(|| LdError::invalid(format!("{at}.{key} is required")))
    };
    let project = self::key(&format!("{at}.projectKey"), &required("projectKey")?)?;
    let flag = self::key(&format!("{at}.flagKey"), &required("flagKey")?)?;
    let phase = self::phase(&format!("{at}.phase"), &required("phase")?)?;
    let complete = match property(&object, &at, "complete")? {
      Some(value) => boolean(&format!("{at}.complete"), &value)?,
      None => true,
    };
    prepare(&project, &flag, phase, complete)
  };
  Ok((0..array.len()).map(item).collect())
}

/// A phase: an index, `{ name }` or `{ id }`.
pub fn phase_ref(name: &str, value: &Unknown) -> Result<PhaseRef> {
  let expected = || {
    LdError::invalid(format!(
      "{name} must be an integer from 0 to {}, {{ name: string }} or {{ id: string }}, got {}",
      crate::patch::MAX_PHASE,
      type_name(value)
    ))
  };
  match value_type(value) {
    ValueType::Number => phase(name, value).map(PhaseRef::Index),
    ValueType::Object if !value.is_array().unwrap_or(false) => {
      // SAFETY: checked to be an object above.
      let object = unsafe { value.cast::<Object>() }.map_err(|_| expected())?;
      let field = |key: &str| property(&object, name, key);
      match (field("name")?, field("id")?) {
        (Some(n), None) => key(&format!("{name}.name"), &n).map(PhaseRef::Name),
        (None, Some(i)) => key(&format!("{name}.id"), &i).map(PhaseRef::Id),
        (Some(_), Some(_)) => Err(LdError::invalid(format!(
          "{name} must have either name or id, not both"
        ))),
        (None, None) => Err(expected()),
      }
    }
    _ => Err(expected()),
  }
}

/// A JavaScript object read as the serde type `T`; errors name the field.
fn typed<T: serde::de::DeserializeOwned>(env: &Env, name: &str, value: &Unknown) -> Result<T> {
  if value_type(value) != ValueType::Object || value.is_array().unwrap_or(false) {
    return Err(LdError::invalid(format!(
      "{name} must be an object, got {}",
      type_name(value)
    )));
  }
  let json: serde_json::Value = env
    .from_js_value(value.to_unknown())
    .map_err(|e| LdError::invalid(format!("{name} is not JSON-compatible: {}", e.reason)))?;
  serde_path_to_error::deserialize(json).map_err(|e| {
    let path = e.path().to_string();
    let at = if path == "." {
      name.to_string()
    } else {
      format!("{name}.{path}")
    };
    LdError::invalid(format!("{at}: {}", e.into_inner()))
  })
}

pub fn create_release_input(env: &Env, name: &str, value: &Unknown) -> Result<CreateReleaseInput> {
  typed(env, name, value)
}

pub fn update_phase_status_input(
  env: &Env,
  name: &str,
  value: &Unknown,
) -> Result<UpdatePhaseStatusInput> {
  typed(env, name, value)
}

#[cfg(test)]
mod tests {
  use super::*;

  fn check(keys: &[&str], accept: Accept, extra: &[&str]) -> std::result::Result<(), String> {
    let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    check_option_names("options", &keys, accept, extra).map_err(|e| e.message)
  }

  #[test]
  fn known_names_pass_where_they_belong() {
    assert_eq!(check(&CLIENT_OPTIONS, Accept::Client, &[]), Ok(()));
    assert_eq!(
      check(&["timeoutMs", "maxRetries", "signal"], Accept::Request, &[]),
      Ok(())
    );
    assert_eq!(
      check(&["signal", "apiKey", "baseUrl"], Accept::Both, &[]),
      Ok(())
    );
    assert_eq!(
      check(
        &["concurrency", "onProgress", "signal"],
        Accept::Request,
        &BULK_OPTIONS
      ),
      Ok(())
    );
    assert_eq!(check(&[], Accept::Client, &[]), Ok(()));
  }

  #[test]
  fn a_misspelt_name_is_refused_with_the_nearest_option() {
    let err = check(&["apiKey", "baseUri"], Accept::Client, &[]).unwrap_err();
    assert!(
      err.starts_with("options.baseUri is not an option (did you mean baseUrl?)"),
      "{err}"
    );
    assert!(
      err.ends_with(
        "the options here are apiKey, baseUrl, timeoutMs, maxRetries, userAgent, methodOverride"
      ),
      "{err}"
    );
    let err = check(&["timeoutMS"], Accept::Request, &[]).unwrap_err();
    assert!(err.contains("(did you mean timeoutMs?)"), "{err}");
    let err = check(&["retries"], Accept::Both, &[]).unwrap_err();
    assert!(
      !err.contains("did you mean"),
      "nothing is near enough: {err}"
    );
  }

  #[test]
  fn a_name_in_the_wrong_place_says_where_it_belongs() {
    let err = check(&["baseUrl"], Accept::Request, &[]).unwrap_err();
    assert_eq!(
      err,
      "options.baseUrl is a client option: give it to new ReleaseClient(), not to a call"
    );
    let err = check(&["signal"], Accept::Client, &[]).unwrap_err();
    assert_eq!(
      err,
      "options.signal is an option of each call, not of the client"
    );
    let err = check(&["concurrency"], Accept::Both, &[]).unwrap_err();
    assert_eq!(
      err,
      "options.concurrency is an option of completePhases only"
    );
  }

  #[test]
  fn odd_names_are_shown_short_and_printable() {
    let long = format!("x\n{}", "y".repeat(100));
    let err = check(&[long.as_str()], Accept::Client, &[]).unwrap_err();
    assert!(
      err.starts_with(&format!("options.x?{}… is not an option", "y".repeat(38))),
      "{err}"
    );
  }

  #[test]
  fn edit_distance_counts_characters() {
    assert_eq!(edit_distance("baseuri", "baseurl"), 1);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(edit_distance("déjà", "deja"), 2);
  }
}
