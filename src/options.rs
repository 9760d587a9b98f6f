//! JavaScript values to core types, converted once per call. Every failure here is an
//! `ERR_LD_INVALID_ARGUMENT` naming the argument, raised before anything is sent.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use napi::bindgen_prelude::{FnArgs, FromNapiValue, Function, JsObjectValue, Object};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{sys, Env, JsValue, Unknown, ValueType};
use napi_derive::napi;
use serde_json::Value;

use crate::inputs::{CreateReleaseInput, UpdatePhaseStatusInput};
use crate::phases::PhaseRef;

use crate::config::{ClientOptions, RequestOptions, Secret, MAX_RETRIES_LIMIT, MAX_TIMEOUT_MS};
use crate::error::{LdError, Result, ThrownId};
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
    ValueType::BigInt => "a BigInt",
    _ => "an unsupported value",
  }
}

pub fn is_absent(value: &Unknown) -> bool {
  matches!(value_type(value), ValueType::Undefined | ValueType::Null)
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

/// A JSON Patch given as a JavaScript array of operations, converted by `to_json`.
pub fn patch_ops(name: &str, value: &Unknown) -> Result<Vec<PatchOperation>> {
  if !value.is_array().unwrap_or(false) {
    return Err(LdError::invalid(format!(
      "{name} must be an array of operations, got {}",
      type_name(value)
    )));
  }
  patch::parse_patch(name, &to_json(name, value)?)
}

/// An option's command-line flag, if it has one.
macro_rules! option_flag {
  () => {
    None
  };
  ($flag:literal) => {
    Some($flag)
  };
}

/// Declares the option sets once: each becomes its TypeScript type (with its doc
/// comments, as `#[doc = "..."]` lines: napi-rs reads doc comments passed through a
/// macro as raw strings), the list of names an options object may hold (unknown names
/// are refused, with a suggestion), and, for options with a flag, the `ld-release`
/// command's flag and help (`optionFlags()`). Each option's value is read and checked
/// in `call_options_with`, `bulk_options`, `progression_options` or `dry_run`.
macro_rules! option_sets {
  ($(
    $(#[doc = $sdoc:tt])*
    $Type:ident as $ts_name:literal, $NAMES:ident {
      $(
        $(#[doc = $doc:tt])*
        $field:ident: $ty:ty = $js:literal $(, ts $ts:literal)? $(, flag $flag:literal)?;
      )*
    }
  )*) => {
    $(
      $(#[doc = $sdoc])*
      // Declared for its TypeScript type; values are read by the readers named above.
      #[allow(dead_code)]
      #[napi(object, object_to_js = false, js_name = $ts_name)]
      pub struct $Type {
        $(
          $(#[doc = $doc])*
          #[napi(js_name = $js $(, ts_type = $ts)?)]
          pub $field: $ty,
        )*
      }

      #[doc = concat!(" The options of `", $ts_name, "`.")]
      pub const $NAMES: &[&str] = &[$($js),*];
    )*

    /// Every option of every set: (option, set, command-line flag, help).
    pub const OPTION_TABLE: &[(&str, &str, Option<&str>, &str)] = &[
      $($(($js, $ts_name, option_flag!($($flag)?), concat!($($doc),*)),)*)*
    ];
  };
}

option_sets! {
  #[doc = " Settings of a client. Every field is optional."]
  ClientOptionsType as "ClientOptions", CLIENT_OPTIONS {
    #[doc = " The access token. Default: env `LD_ACCESS_TOKEN`, then `LAUNCHDARKLY_ACCESS_TOKEN`."]
    api_key: Option<String> = "apiKey", flag "access-token";
    #[doc = " The LaunchDarkly instance. Default: env `LD_BASE_URI`, then `LAUNCHDARKLY_API_HOST`,"]
    #[doc = " then `https://app.launchdarkly.com`. `http:` is accepted only for loopback hosts."]
    base_url: Option<String> = "baseUrl", flag "base-uri";
    #[doc = " Timeout of each attempt in milliseconds. Default 30000."]
    timeout_ms: Option<u32> = "timeoutMs", flag "timeout";
    #[doc = " Retries after the first attempt, for 429, 5xx, timeouts and network failures."]
    #[doc = " Default 3; 0 disables."]
    max_retries: Option<u32> = "maxRetries", flag "retries";
    #[doc = " Appended to the `User-Agent`, after `ld-release/<version>`."]
    user_agent: Option<String> = "userAgent";
    #[doc = " Send `PATCH` as `POST` with `X-HTTP-Method-Override: PATCH`, for networks whose"]
    #[doc = " proxies drop `PATCH`. LaunchDarkly accepts it. Default false."]
    method_override: Option<bool> = "methodOverride";
  }

  #[doc = " Settings of one call."]
  RequestOptionsType as "RequestOptions", REQUEST_OPTIONS {
    #[doc = " Timeout of each attempt in milliseconds, for this call."]
    timeout_ms: Option<u32> = "timeoutMs";
    #[doc = " Retries after the first attempt, for this call."]
    max_retries: Option<u32> = "maxRetries";
    #[doc = " Aborts the call: the request in flight is dropped and the promise rejects with"]
    #[doc = " an `AbortError`."]
    signal: Option<Unknown<'static>> = "signal", ts "AbortSignal";
  }

  #[doc = " Settings of a bulk run (`completePhases`)."]
  BulkOptionsType as "BulkOptions", BULK_OPTIONS {
    #[doc = " How many requests may be in flight at once. Default 8."]
    concurrency: Option<u32> = "concurrency", flag "concurrency";
    #[doc = " Called after each item with the number of items done and the total."]
    on_progress: Option<Unknown<'static>> = "onProgress", ts "(done: number, total: number) => void";
  }

  #[doc = " Settings of `advancePipeline`."]
  AdvanceOptionsType as "AdvanceOptions", ADVANCE_OPTIONS {
    #[doc = " How many writes may be in flight at once. Default 8."]
    concurrency: Option<u32> = "concurrency";
    #[doc = " Called after each flag with the number of flags done and the total."]
    on_progress: Option<Unknown<'static>> = "onProgress", ts "(done: number, total: number) => void";
  }

  #[doc = " A dry run: `completePhase`, `reopenPhase`, `startPhase`, `completePhases` and"]
  #[doc = " `advancePipeline` take it."]
  DryRunOptionsType as "DryRunOptions", DRY_RUN_OPTIONS {
    #[doc = " Do the reads, send no write: each result holds the request that would be sent."]
    dry_run: Option<bool> = "dryRun";
  }

  #[doc = " Settings of `listReleasePipelines`."]
  PipelineListOptionsType as "PipelineListOptions", PIPELINE_LIST_OPTIONS {
    #[doc = " Only pipelines matching this text, as LaunchDarkly matches it"]
    #[doc = " (`filter=query:<text>`)."]
    query: Option<String> = "query", flag "query";
  }

  #[doc = " Settings of `listReleaseProgressions`."]
  ProgressionOptionsType as "ProgressionOptions", PROGRESSION_OPTIONS {
    #[doc = " Only releases that are `active`, or `completed`."]
    status: Option<String> = "status", ts "'active' | 'completed'";
    #[doc = " Only releases active at this phase of the pipeline (an index, `{ name }` or"]
    #[doc = " `{ id }`); implies `status: 'active'`."]
    phase: Option<Unknown<'static>> = "phase", ts "PhaseSelector";
  }

  #[doc = " Settings of `getEnvironmentRelease`."]
  GetEnvironmentReleaseOptionsType as "GetEnvironmentReleaseOptions", GET_RELEASE_OPTIONS {
    #[doc = " Attach each metric's definition (`expand=metrics`). Default false."]
    expand_metrics: Option<bool> = "expandMetrics";
  }

  #[doc = " What `stopEnvironmentRelease` does: `resolution` is required."]
  StopEnvironmentReleaseOptionsType as "StopEnvironmentReleaseOptions", STOP_OPTIONS {
    #[doc = " How each phase is resolved (see `EnvironmentReleaseResolution`). Required."]
    resolution: Option<String> = "resolution", ts "EnvironmentReleaseResolution";
    #[doc = " A comment for the flag's audit log."]
    comment: Option<String> = "comment";
  }

  #[doc = " Settings of `listEnvironmentReleases`."]
  EnvironmentReleaseListOptionsType as "EnvironmentReleaseListOptions", ENVIRONMENT_RELEASE_LIST_OPTIONS {
    #[doc = " Only releases of this kind: `progressive`, or `guarded` (watched by metrics)."]
    #[doc = " Sent as `filter=kind equals <kind>`."]
    kind: Option<String> = "kind", ts "'progressive' | 'guarded'";
  }

  #[doc = " Settings of `watchEnvironmentRelease`."]
  WatchOptionsType as "WatchOptions", WATCH_OPTIONS {
    #[doc = " The longest wait between two reads of the release, in milliseconds, from 100 to"]
    #[doc = " 3600000. Default 30000 for a guarded release (a regression can come at any"]
    #[doc = " time), 300000 for a progressive one. Reads are otherwise timed by the release:"]
    #[doc = " just after the current step should end, every 5 s while it is pending, every"]
    #[doc = " 30 s while it waits for a person."]
    interval_ms: Option<u32> = "intervalMs";
  }
}

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
    known.extend(CLIENT_OPTIONS.iter().copied());
  }
  if request {
    for &key in REQUEST_OPTIONS {
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
      format!("{name}.{shown} is an option of completePhases and advancePipeline only")
    } else if ADVANCE_OPTIONS.contains(&key.as_str()) {
      format!("{name}.{shown} is an option of advancePipeline only")
    } else if DRY_RUN_OPTIONS.contains(&key.as_str()) {
      format!("{name}.{shown} is an option of the calls that write (completePhase, reopenPhase, startPhase, completePhases, advancePipeline)")
    } else if PIPELINE_LIST_OPTIONS.contains(&key.as_str()) {
      format!("{name}.{shown} is an option of listReleasePipelines only")
    } else if PROGRESSION_OPTIONS.contains(&key.as_str()) {
      format!("{name}.{shown} is an option of listReleaseProgressions only")
    } else if GET_RELEASE_OPTIONS.contains(&key.as_str()) {
      format!("{name}.{shown} is an option of getEnvironmentRelease only")
    } else if STOP_OPTIONS.contains(&key.as_str()) {
      format!("{name}.{shown} is an option of stopEnvironmentRelease only")
    } else if ENVIRONMENT_RELEASE_LIST_OPTIONS.contains(&key.as_str()) {
      format!("{name}.{shown} is an option of listEnvironmentReleases only")
    } else if WATCH_OPTIONS.contains(&key.as_str()) {
      format!("{name}.{shown} is an option of watchEnvironmentRelease only")
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
  let object = Own::of(name, &value)?;
  check_option_names(name, &object.names(), accept, extra)?;
  let field = |key: &str| object.get(key);
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

/// An AbortSignal: an object whose `aborted` is a boolean and `addEventListener` a
/// function. These are read as a signal's API (through its prototype, where AbortSignal
/// keeps them); a getter that throws is the caller's error, as anywhere else.
fn abort_signal<'env>(name: &str, value: &Unknown<'env>) -> Result<Object<'env>> {
  let not_signal = || LdError::invalid(format!("{name} must be an AbortSignal"));
  if value_type(value) != ValueType::Object {
    return Err(not_signal());
  }
  let js = Js::of(value);
  let member = |key: &str| -> Result<Unknown<'env>> {
    let at = || format!("{name}.{key}");
    let raw = js.get(value.raw(), js.string_key(key, at)?, at)?;
    Ok(js.unknown(raw))
  };
  let has_shape = value_type(&member("aborted")?) == ValueType::Boolean
    && value_type(&member("addEventListener")?) == ValueType::Function;
  if !has_shape {
    return Err(not_signal());
  }
  // SAFETY: checked to be an object above.
  unsafe { Object::from_napi_value(value.value().env, value.raw()) }.map_err(|_| not_signal())
}

/// Two option sets as one list, made at compile time.
const fn joined<const N: usize>(a: &[&'static str], b: &[&'static str]) -> [&'static str; N] {
  let mut out = [""; N];
  let mut i = 0;
  while i < a.len() {
    out[i] = a[i];
    i += 1;
  }
  while i < N {
    out[i] = b[i - a.len()];
    i += 1;
  }
  out
}

/// The options only `completePhases` takes.
pub const BULK_RUN_OPTIONS: &[&str] =
  &joined::<{ BULK_OPTIONS.len() + DRY_RUN_OPTIONS.len() }>(BULK_OPTIONS, DRY_RUN_OPTIONS);
/// The options only `advancePipeline` takes.
pub const ADVANCE_RUN_OPTIONS: &[&str] =
  &joined::<{ ADVANCE_OPTIONS.len() + DRY_RUN_OPTIONS.len() }>(ADVANCE_OPTIONS, DRY_RUN_OPTIONS);

/// Settings of a bulk run, read from the same options object as the call's.
pub struct BulkSettings {
  pub concurrency: usize,
  pub progress: Option<crate::bulk::Progress>,
}

/// Reads `status` (`'active'` or `'completed'`) and `phase` (an index, `{ name }` or
/// `{ id }`) from an options object (already checked by `call_options`).
pub fn progression_options(
  name: &str,
  value: Option<Unknown>,
) -> Result<(Option<String>, Option<PhaseRef>)> {
  let Some(value) = value.filter(|v| !is_absent(v)) else {
    return Ok((None, None));
  };
  let object = Own::of(name, &value)?;
  let status = object
    .get("status")?
    .map(|v| string(&format!("{name}.status"), &v))
    .transpose()?;
  let phase = object
    .get("phase")?
    .map(|v| phase_ref(&format!("{name}.phase"), &v))
    .transpose()?;
  Ok((status, phase))
}

/// Reads `expandMetrics` (a boolean, default false) from an options object.
pub fn expand_metrics(name: &str, value: Option<Unknown>) -> Result<bool> {
  let Some(value) = value.filter(|v| !is_absent(v)) else {
    return Ok(false);
  };
  let object = Own::of(name, &value)?;
  object
    .get("expandMetrics")?
    .map(|v| boolean(&format!("{name}.expandMetrics"), &v))
    .transpose()
    .map(|v| v.unwrap_or(false))
}

/// Reads `resolution` (required, a string) and `comment` from an options object.
pub fn stop_options(name: &str, value: Option<Unknown>) -> Result<(String, Option<String>)> {
  let required = || {
    LdError::invalid(format!(
      "{name}.resolution is required: one of {}",
      crate::environments::RESOLUTIONS.join(", ")
    ))
  };
  let Some(value) = value.filter(|v| !is_absent(v)) else {
    return Err(required());
  };
  let object = Own::of(name, &value)?;
  let resolution = object
    .get("resolution")?
    .map(|v| string(&format!("{name}.resolution"), &v))
    .transpose()?
    .ok_or_else(required)?;
  if !crate::environments::RESOLUTIONS.contains(&resolution.as_str()) {
    let shown: String = resolution.chars().take(80).collect();
    return Err(LdError::invalid(format!(
      "{name}.resolution must be one of {}, got {shown:?}",
      crate::environments::RESOLUTIONS.join(", ")
    )));
  }
  let comment = object
    .get("comment")?
    .map(|v| string(&format!("{name}.comment"), &v))
    .transpose()?;
  Ok((resolution, comment))
}

/// A caller's value (an input object, an array of keys) as JSON, named `name` in errors.
pub fn json_value(name: &str, value: &Unknown) -> Result<Value> {
  if is_absent(value) {
    return Err(LdError::invalid(format!("{name} is required")));
  }
  to_json(name, value)
}

/// Reads `kind` (`'progressive'` or `'guarded'`) from an options object (already
/// checked by `call_options`).
pub fn environment_release_kind(name: &str, value: Option<Unknown>) -> Result<Option<String>> {
  let Some(value) = value.filter(|v| !is_absent(v)) else {
    return Ok(None);
  };
  let object = Own::of(name, &value)?;
  let Some(kind) = object.get("kind")? else {
    return Ok(None);
  };
  let kind = string(&format!("{name}.kind"), &kind)?;
  if !crate::environment_releases::KINDS.contains(&kind.as_str()) {
    return Err(LdError::invalid(format!(
      "{name}.kind must be 'progressive' or 'guarded'"
    )));
  }
  Ok(Some(kind))
}

/// Reads `intervalMs` (an integer from 100 to 3600000) from an options object (already
/// checked by `call_options`).
pub fn watch_interval(name: &str, value: Option<Unknown>) -> Result<Option<u64>> {
  use crate::environment_releases::{MAX_INTERVAL_MS, MIN_INTERVAL_MS};
  let Some(value) = value.filter(|v| !is_absent(v)) else {
    return Ok(None);
  };
  let object = Own::of(name, &value)?;
  object
    .get("intervalMs")?
    .map(|v| {
      integer_in(
        &format!("{name}.intervalMs"),
        &v,
        MIN_INTERVAL_MS,
        MAX_INTERVAL_MS,
      )
    })
    .transpose()
}

/// Reads `query` (a non-empty string, at most 1000 characters) from an options object.
pub fn pipeline_query(name: &str, value: Option<Unknown>) -> Result<Option<String>> {
  let Some(value) = value.filter(|v| !is_absent(v)) else {
    return Ok(None);
  };
  let object = Own::of(name, &value)?;
  let Some(query) = object.get("query")? else {
    return Ok(None);
  };
  let field = format!("{name}.query");
  let query = string(&field, &query)?;
  if query.trim().is_empty() || query.chars().count() > 1000 || query.chars().any(char::is_control)
  {
    return Err(LdError::invalid(format!(
      "{field} must be a non-empty text of at most 1000 characters, without control characters"
    )));
  }
  Ok(Some(query))
}

/// Reads `dryRun` (a boolean, default false) from an options object.
pub fn dry_run(name: &str, value: Option<Unknown>) -> Result<bool> {
  let Some(value) = value.filter(|v| !is_absent(v)) else {
    return Ok(false);
  };
  let object = Own::of(name, &value)?;
  object
    .get("dryRun")?
    .map(|v| boolean(&format!("{name}.dryRun"), &v))
    .transpose()
    .map(|v| v.unwrap_or(false))
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
  let object = Own::of(name, &value)?;
  let field = |key: &str| object.get(key);
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
      // The return value is dropped at once: `'static` only spares the reference a lifetime.
      let callback: Function<FnArgs<(u32, u32)>, Unknown<'static>> = unsafe { v.cast() }?;
      let env = Env::from_raw(v.value().env);
      let tsfn = guarded_progress(&env, callback)?
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

/// `onProgress` as a run calls it: the caller's function, until it throws. A throw is
/// caught (it must not crash the process while requests are in flight), the function is
/// not called again in that run, and the exception is reported once as a process warning
/// (`LaunchDarklyWarning`, with the exception as its `cause`); the run goes on and
/// resolves with every result.
fn guarded_progress<'env>(
  env: &'env Env,
  callback: Function<FnArgs<(u32, u32)>, Unknown<'static>>,
) -> napi::Result<Function<'env, FnArgs<(u32, u32)>, ()>> {
  let user = callback.create_ref()?;
  let stopped = Cell::new(false);
  env.create_function_from_closure("onProgress", move |ctx| {
    if stopped.get() {
      return Ok(());
    }
    let done: u32 = ctx.get(0)?;
    let total: u32 = ctx.get(1)?;
    let callback = user.borrow_back(ctx.env)?;
    let env = ctx.env.raw();
    let (mut this, mut args, mut out) = (
      std::ptr::null_mut(),
      [std::ptr::null_mut(); 2],
      std::ptr::null_mut(),
    );
    // SAFETY: plain N-API calls on this env's JavaScript thread; a throw is left pending
    // by `napi_call_function` and taken just below.
    let status = unsafe {
      sys::napi_get_undefined(env, &mut this);
      sys::napi_create_uint32(env, done, &mut args[0]);
      sys::napi_create_uint32(env, total, &mut args[1]);
      sys::napi_call_function(env, this, callback.raw(), 2, args.as_ptr(), &mut out)
    };
    if status != sys::Status::napi_ok {
      stopped.set(true);
      if let Some(thrown) = take_exception(env) {
        warn_progress_threw(ctx.env, thrown);
      }
    }
    Ok(())
  })
}

/// `process.emitWarning` of a `LaunchDarklyWarning` whose `cause` is what `onProgress`
/// threw. If even that fails, nothing more is done: a warning never becomes an exception.
fn warn_progress_threw(env: &Env, thrown: sys::napi_value) {
  let emitted = (|| -> napi::Result<()> {
    let message = env.create_string(
      "options.onProgress threw; it is not called again in this run, which goes on (the warning's cause is what it threw)",
    )?;
    let mut raw = std::ptr::null_mut();
    // SAFETY: a plain Error (no `code`) made from a string of this env.
    let status =
      unsafe { sys::napi_create_error(env.raw(), std::ptr::null_mut(), message.raw(), &mut raw) };
    if status != sys::Status::napi_ok {
      return Err(napi::Error::from_status(napi::Status::GenericFailure));
    }
    // SAFETY: just made above.
    let mut warning = unsafe { Object::from_napi_value(env.raw(), raw) }?;
    warning.set("name", "LaunchDarklyWarning")?;
    // SAFETY: the exception was just taken out of this env, in this scope.
    warning.set("cause", unsafe {
      Unknown::from_raw_unchecked(env.raw(), thrown)
    })?;
    let process: Object = env.get_global()?.get_named_property("process")?;
    let emit: Function<Unknown, Unknown> = process.get_named_property("emitWarning")?;
    emit.apply(process, warning.to_unknown())?;
    Ok(())
  })();
  if emitted.is_err() {
    take_exception(env.raw());
  }
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
  let js = Js::of(value);
  let length = js.array_length(value.raw(), || name.to_string())?;
  if length > MAX_ITEMS {
    return Err(LdError::invalid(format!(
      "{name} has {length} elements; a run takes at most {MAX_ITEMS} items: split it"
    )));
  }
  let item = |index: u32| -> Result<T> {
    let at = format!("{name}[{index}]");
    let Some(element) = js.own_element(value.raw(), index, || at.clone())? else {
      return Err(LdError::invalid(format!(
        "{at} is a hole in a sparse array"
      )));
    };
    let element = js.unknown(element);
    if value_type(&element) != ValueType::Object {
      return Err(LdError::invalid(format!(
        "{at} must be an object, got {}",
        type_name(&element)
      )));
    }
    let object = Own::of(&at, &element)?;
    let required = |key: &str| {
      object
        .get(key)?
        .ok_or_else(|| LdError::invalid(format!("{at}.{key} is required")))
    };
    let project = self::key(&format!("{at}.projectKey"), &required("projectKey")?)?;
    let flag = self::key(&format!("{at}.flagKey"), &required("flagKey")?)?;
    let phase = self::phase(&format!("{at}.phase"), &required("phase")?)?;
    let complete = match object.get("complete")? {
      Some(value) => boolean(&format!("{at}.complete"), &value)?,
      None => true,
    };
    prepare(&project, &flag, phase, complete)
  };
  Ok((0..length).map(item).collect())
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
      let object = Own::of(name, value)?;
      let field = |key: &str| object.get(key);
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

/// A JavaScript object converted by `to_json` and read as the serde type `T`; errors
/// name the field.
pub fn typed<T: serde::de::DeserializeOwned>(name: &str, value: &Unknown) -> Result<T> {
  if value_type(value) != ValueType::Object || value.is_array().unwrap_or(false) {
    return Err(LdError::invalid(format!(
      "{name} must be an object, got {}",
      type_name(value)
    )));
  }
  serde_path_to_error::deserialize(to_json(name, value)?).map_err(|e| {
    let path = e.path().to_string();
    let at = if path == "." {
      name.to_string()
    } else {
      format!("{name}.{path}")
    };
    LdError::invalid(format!("{at}: {}", e.into_inner()))
  })
}

pub fn create_release_input(name: &str, value: &Unknown) -> Result<CreateReleaseInput> {
  typed(name, value)
}

pub fn update_phase_status_input(name: &str, value: &Unknown) -> Result<UpdatePhaseStatusInput> {
  typed(name, value)
}

// Reading the caller's values. Every N-API call that can run the caller's code (a
// getter, a Proxy trap) goes through `Js::check`: if that code threw, the exception is
// taken out of the environment, so it never escapes synchronously from a function that
// returns a promise, and it becomes the `cause` of the `ERR_LD_INVALID_ARGUMENT`.
// Objects are read through their own enumerable string-keyed properties only, as
// `Object.keys` lists them: nothing is ever read from a prototype.

/// How deeply a value given as JSON (a patch, an input) may nest arrays and objects.
pub const MAX_DEPTH: usize = 64;
/// How many values (every element and member, counted each time it is reached) one
/// argument given as JSON may hold.
pub const MAX_VALUES: usize = 100_000;
/// How many items one `completePhases` run takes. Checked before any item is read.
pub const MAX_ITEMS: u32 = 10_000;

/// N-API on the caller's values, with whatever the caller's code throws caught.
#[derive(Clone, Copy)]
struct Js(sys::napi_env);

impl Js {
  fn of(value: &Unknown) -> Self {
    Js(value.value().env)
  }

  /// `Ok` for a call that succeeded; otherwise the error for `at` (see `failure`).
  fn check(self, status: sys::napi_status, at: impl FnOnce() -> String) -> Result<()> {
    if status == sys::Status::napi_ok {
      Ok(())
    } else {
      Err(self.failure(&at()))
    }
  }

  /// The error for a value that could not be read. When the caller's code threw, the
  /// exception is taken out of the environment and kept as the error's `cause`.
  fn failure(self, at: &str) -> LdError {
    match take_exception(self.0) {
      Some(thrown) => LdError {
        thrown: keep_thrown(self.0, thrown),
        ..LdError::invalid(format!(
          "{at} could not be read: the caller's code threw (the error's cause)"
        ))
      },
      None => LdError::invalid(format!("{at} could not be read")),
    }
  }

  fn type_of(self, value: sys::napi_value) -> sys::napi_valuetype {
    let mut kind = sys::ValueType::napi_undefined;
    // SAFETY: `value` belongs to this env's current scope; typeof runs no JavaScript.
    if unsafe { sys::napi_typeof(self.0, value, &mut kind) } != sys::Status::napi_ok {
      return -1;
    }
    kind
  }

  fn flag(
    self,
    f: unsafe extern "C" fn(sys::napi_env, sys::napi_value, *mut bool) -> sys::napi_status,
    value: sys::napi_value,
  ) -> bool {
    let mut result = false;
    // SAFETY: an `is_*` check on a live value; these run no JavaScript.
    unsafe { f(self.0, value, &mut result) == sys::Status::napi_ok && result }
  }

  fn unknown<'env>(self, value: sys::napi_value) -> Unknown<'env> {
    // SAFETY: `value` belongs to this env's current scope.
    unsafe { Unknown::from_raw_unchecked(self.0, value) }
  }

  fn string_key(self, key: &str, at: impl FnOnce() -> String) -> Result<sys::napi_value> {
    let mut out = std::ptr::null_mut();
    // SAFETY: a string made from a Rust `&str` of the given length.
    let status = unsafe {
      sys::napi_create_string_utf8(self.0, key.as_ptr().cast(), key.len() as isize, &mut out)
    };
    self.check(status, at).map(|()| out)
  }

  /// `object[key]`, which may run a getter or a Proxy trap.
  fn get(
    self,
    object: sys::napi_value,
    key: sys::napi_value,
    at: impl FnOnce() -> String,
  ) -> Result<sys::napi_value> {
    let mut out = std::ptr::null_mut();
    // SAFETY: live values of this env; a thrown exception is handled by `check`.
    let status = unsafe { sys::napi_get_property(self.0, object, key, &mut out) };
    self.check(status, at).map(|()| out)
  }

  /// Whether `object` has `key` as an own property (a Proxy's trap may run).
  fn has_own(
    self,
    object: sys::napi_value,
    key: sys::napi_value,
    at: impl FnOnce() -> String,
  ) -> Result<bool> {
    let mut out = false;
    // SAFETY: live values of this env; a thrown exception is handled by `check`.
    let status = unsafe { sys::napi_has_own_property(self.0, object, key, &mut out) };
    self.check(status, at).map(|()| out)
  }

  fn array_length(self, array: sys::napi_value, at: impl FnOnce() -> String) -> Result<u32> {
    let mut length = 0;
    // SAFETY: `array` was checked to be an array; reading its length runs no JavaScript.
    let status = unsafe { sys::napi_get_array_length(self.0, array, &mut length) };
    self.check(status, at).map(|()| length)
  }

  /// `array[index]` if the array has that index as an own element, `None` for a hole.
  fn own_element(
    self,
    array: sys::napi_value,
    index: u32,
    at: impl Fn() -> String,
  ) -> Result<Option<sys::napi_value>> {
    let key = self.string_key(&index.to_string(), &at)?;
    if !self.has_own(array, key, &at)? {
      return Ok(None);
    }
    let mut out = std::ptr::null_mut();
    // SAFETY: live values of this env; a thrown exception is handled by `check`.
    let status = unsafe { sys::napi_get_element(self.0, array, index, &mut out) };
    self.check(status, at).map(|()| Some(out))
  }

  /// The own enumerable string-keyed property names of `object`, as `Object.keys` lists
  /// them, each with the key value to read it by.
  fn own_keys(
    self,
    object: sys::napi_value,
    at: impl Fn() -> String,
  ) -> Result<Vec<(String, sys::napi_value)>> {
    let mut names = std::ptr::null_mut();
    // SAFETY: `object` is an object of this env; a Proxy's traps may throw, handled by `check`.
    let status = unsafe {
      sys::napi_get_all_property_names(
        self.0,
        object,
        sys::KeyCollectionMode::own_only,
        sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
        sys::KeyConversion::numbers_to_strings,
        &mut names,
      )
    };
    self.check(status, &at)?;
    let length = self.array_length(names, &at)?;
    let mut keys = Vec::with_capacity(length as usize);
    for index in 0..length {
      let mut key = std::ptr::null_mut();
      // SAFETY: `names` is the plain array N-API just made.
      let status = unsafe { sys::napi_get_element(self.0, names, index, &mut key) };
      self.check(status, &at)?;
      // SAFETY: the names are strings (symbols are skipped, numbers converted).
      let name =
        unsafe { String::from_napi_value(self.0, key) }.map_err(|_| self.failure(&at()))?;
      keys.push((name, key));
    }
    Ok(keys)
  }

  fn prototype(
    self,
    object: sys::napi_value,
    at: impl FnOnce() -> String,
  ) -> Result<sys::napi_value> {
    let mut out = std::ptr::null_mut();
    // SAFETY: `object` is an object of this env; a Proxy's trap may throw, handled by `check`.
    let status = unsafe { sys::napi_get_prototype(self.0, object, &mut out) };
    self.check(status, at).map(|()| out)
  }

  fn same(self, a: sys::napi_value, b: sys::napi_value) -> bool {
    let mut out = false;
    // SAFETY: `===` on live values of this env runs no JavaScript.
    unsafe { sys::napi_strict_equals(self.0, a, b, &mut out) == sys::Status::napi_ok && out }
  }
}

/// Takes the pending exception out of the environment, if there is one.
fn take_exception(env: sys::napi_env) -> Option<sys::napi_value> {
  let mut pending = false;
  // SAFETY: both calls are allowed while an exception is pending.
  unsafe {
    if sys::napi_is_exception_pending(env, &mut pending) != sys::Status::napi_ok || !pending {
      return None;
    }
    let mut exception = std::ptr::null_mut();
    (sys::napi_get_and_clear_last_exception(env, &mut exception) == sys::Status::napi_ok)
      .then_some(exception)
  }
}

/// The pending exception, if any, taken out of the environment and kept for an error's
/// `cause` (see `take_thrown`).
pub fn keep_pending_exception(env: sys::napi_env) -> Option<ThrownId> {
  take_exception(env).and_then(|thrown| keep_thrown(env, thrown))
}

/// Values the caller's code threw, kept (by reference) until their error becomes a
/// JavaScript error. One table per JavaScript thread, as references belong to their env.
#[derive(Default)]
struct ThrownValues {
  next: u64,
  kept: BTreeMap<ThrownId, sys::napi_ref>,
}

/// At most this many thrown values are kept; the oldest go first (their errors then have
/// no `cause`). Only errors dropped without being reported (an aborted run) leave any.
const MAX_KEPT_THROWN: usize = MAX_ITEMS as usize + 1024;

thread_local! {
  static THROWN: RefCell<ThrownValues> = RefCell::default();
}

/// Keeps `value` until `take_thrown`. It is held through a plain object of our own (its
/// own data property `value`, defined, so no setter runs): a thrown primitive cannot be
/// referenced directly before Node-API 10.
fn keep_thrown(env: sys::napi_env, value: sys::napi_value) -> Option<ThrownId> {
  let mut holder = std::ptr::null_mut();
  let mut reference = std::ptr::null_mut();
  let member = sys::napi_property_descriptor {
    utf8name: c"value".as_ptr(),
    name: std::ptr::null_mut(),
    method: None,
    getter: None,
    setter: None,
    value,
    attributes: sys::PropertyAttributes::default,
    data: std::ptr::null_mut(),
  };
  // SAFETY: an object made here, given one own data property, referenced once.
  let kept = unsafe {
    sys::napi_create_object(env, &mut holder) == sys::Status::napi_ok
      && sys::napi_define_properties(env, holder, 1, &member) == sys::Status::napi_ok
      && sys::napi_create_reference(env, holder, 1, &mut reference) == sys::Status::napi_ok
  };
  if !kept {
    take_exception(env);
    return None;
  }
  THROWN.with(|table| {
    let mut table = table.borrow_mut();
    while table.kept.len() >= MAX_KEPT_THROWN {
      if let Some((_, old)) = table.kept.pop_first() {
        // SAFETY: a reference this env made on this thread.
        unsafe { sys::napi_delete_reference(env, old) };
      }
    }
    table.next += 1;
    let id = ThrownId(table.next);
    table.kept.insert(id, reference);
    Some(id)
  })
}

/// The value kept for `id`, released from the table (an error takes its cause once).
pub fn take_thrown<'env>(env: &'env Env, id: ThrownId) -> Option<Unknown<'env>> {
  let reference = THROWN.with(|table| table.borrow_mut().kept.remove(&id))?;
  let raw = env.raw();
  let (mut holder, mut value) = (std::ptr::null_mut(), std::ptr::null_mut());
  // SAFETY: a reference made on this thread by this env, deleted right after use; the
  // holder's `value` is its own data property, so reading it runs no code.
  let found = unsafe {
    let found = sys::napi_get_reference_value(raw, reference, &mut holder) == sys::Status::napi_ok
      && !holder.is_null()
      && sys::napi_get_named_property(raw, holder, c"value".as_ptr(), &mut value)
        == sys::Status::napi_ok;
    sys::napi_delete_reference(raw, reference);
    found
  };
  // SAFETY: read from this env just above.
  found.then(|| unsafe { Unknown::from_raw_unchecked(raw, value) })
}

/// An object's own enumerable properties, read by name: how options, items and phase
/// selectors are read. An inherited property is never seen.
struct Own<'env> {
  js: Js,
  object: sys::napi_value,
  at: String,
  keys: Vec<(String, sys::napi_value)>,
  _env: PhantomData<&'env ()>,
}

impl<'env> Own<'env> {
  /// `value` must already be known to be an object.
  fn of(at: &str, value: &Unknown<'env>) -> Result<Self> {
    let js = Js::of(value);
    let keys = js.own_keys(value.raw(), || at.to_string())?;
    Ok(Own {
      js,
      object: value.raw(),
      at: at.to_string(),
      keys,
      _env: PhantomData,
    })
  }

  fn names(&self) -> Vec<String> {
    self.keys.iter().map(|(name, _)| name.clone()).collect()
  }

  /// The own property `key` (named `{at}.{key}` in errors); absent, `undefined` and
  /// `null` are `None`.
  fn get(&self, key: &str) -> Result<Option<Unknown<'env>>> {
    let Some((_, name)) = self.keys.iter().find(|(name, _)| name == key) else {
      return Ok(None);
    };
    let value = self
      .js
      .get(self.object, *name, || format!("{}.{key}", self.at))?;
    let value = self.js.unknown(value);
    Ok((!is_absent(&value)).then_some(value))
  }
}

/// One step of a path into a value, for error messages.
enum Step {
  Index(u32),
  Key(String),
}

/// `name` followed by `steps`, as JavaScript would write the access (`patch[0].value.a`),
/// shortened in the middle when long.
fn path_text(name: &str, steps: &[Step]) -> String {
  let mut text = name.to_string();
  for step in steps {
    match step {
      Step::Index(i) => text.push_str(&format!("[{i}]")),
      Step::Key(key) => {
        let plain = key
          .chars()
          .next()
          .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
          && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
        if plain && key.len() <= 40 {
          text.push('.');
          text.push_str(key);
        } else {
          text.push_str(&format!("[{:?}]", printable(key)));
        }
      }
    }
  }
  let count = text.chars().count();
  if count > 160 {
    let head: String = text.chars().take(70).collect();
    let tail: String = text.chars().skip(count - 70).collect();
    text = format!("{head}…{tail}");
  }
  text
}

/// Converts a caller's value to JSON, bounded: at most `MAX_DEPTH` levels of arrays and
/// objects and `MAX_VALUES` values, cycles named. JSON's values only: `null`, booleans,
/// finite numbers, strings, dense arrays and plain objects (whose prototype is
/// `Object.prototype` of any realm, or `null`). An object member that is `undefined` is
/// left out, as `JSON.stringify` does; everything else is refused, never turned into
/// `null` or `{}` silently: `undefined` in an array, holes, NaN and ±Infinity, BigInt,
/// functions, symbols, Dates, Maps, Sets, class instances and boxed primitives.
struct ToJson<'a> {
  js: Js,
  name: &'a str,
  values: usize,
  steps: Vec<Step>,
  /// The arrays and objects being read, outermost first, with the path length of each.
  open: Vec<(sys::napi_value, usize)>,
}

impl<'a> ToJson<'a> {
  fn convert(js: Js, name: &'a str, value: sys::napi_value) -> Result<Value> {
    let mut this = ToJson {
      js,
      name,
      values: 0,
      steps: Vec::new(),
      open: Vec::new(),
    };
    this.value(value)
  }

  fn here(&self) -> String {
    path_text(self.name, &self.steps)
  }

  fn refuse(&self, what: &str) -> LdError {
    LdError::invalid(format!("{} {what}", self.here()))
  }

  fn value(&mut self, value: sys::napi_value) -> Result<Value> {
    self.values += 1;
    if self.values > MAX_VALUES {
      return Err(LdError::invalid(format!(
        "{} holds more than {MAX_VALUES} values",
        self.name
      )));
    }
    let js = self.js;
    match js.type_of(value) {
      sys::ValueType::napi_null => Ok(Value::Null),
      sys::ValueType::napi_boolean => {
        let mut b = false;
        // SAFETY: checked to be a boolean.
        unsafe { sys::napi_get_value_bool(js.0, value, &mut b) };
        Ok(Value::Bool(b))
      }
      sys::ValueType::napi_number => {
        let mut n = 0.0;
        // SAFETY: checked to be a number.
        unsafe { sys::napi_get_value_double(js.0, value, &mut n) };
        json_number(n).ok_or_else(|| {
          self.refuse(&format!(
            "is {}, which JSON cannot hold",
            crate::patch::describe_number(n)
          ))
        })
      }
      sys::ValueType::napi_string => {
        // SAFETY: checked to be a string.
        let text = unsafe { String::from_napi_value(js.0, value) }
          .map_err(|_| self.refuse("is not a valid string"))?;
        Ok(Value::String(text))
      }
      sys::ValueType::napi_undefined => {
        Err(self.refuse("is undefined, which JSON cannot hold (use null)"))
      }
      sys::ValueType::napi_function => Err(self.refuse("is a function, which JSON cannot hold")),
      sys::ValueType::napi_symbol => Err(self.refuse("is a symbol, which JSON cannot hold")),
      sys::ValueType::napi_bigint => {
        Err(self.refuse("is a BigInt, which JSON cannot hold (use a number or a string)"))
      }
      sys::ValueType::napi_object => {
        if self.open.len() >= MAX_DEPTH {
          return Err(self.too_deep(value));
        }
        self.open.push((value, self.steps.len()));
        let result = if js.flag(sys::napi_is_array, value) {
          self.array(value)
        } else {
          self.object(value)
        };
        self.open.pop();
        result
      }
      _ => Err(self.refuse("is not a JSON value")),
    }
  }

  fn array(&mut self, array: sys::napi_value) -> Result<Value> {
    let js = self.js;
    let length = js.array_length(array, || self.here())?;
    if self.values.saturating_add(length as usize) > MAX_VALUES {
      return Err(LdError::invalid(format!(
        "{} holds more than {MAX_VALUES} values ({} has {length} elements)",
        self.name,
        self.here()
      )));
    }
    let mut elements = Vec::with_capacity(length as usize);
    for index in 0..length {
      self.steps.push(Step::Index(index));
      let element = js.own_element(array, index, || self.here())?;
      let Some(element) = element else {
        return Err(self.refuse("is a hole in a sparse array, which JSON cannot hold (use null)"));
      };
      elements.push(self.value(element)?);
      self.steps.pop();
    }
    Ok(Value::Array(elements))
  }

  fn object(&mut self, object: sys::napi_value) -> Result<Value> {
    let js = self.js;
    if js.flag(sys::napi_is_date, object) {
      return Err(self.refuse(
        "is a Date: give epoch milliseconds (date.getTime()) or a string (date.toISOString())",
      ));
    }
    // A plain object's prototype is Object.prototype (of any realm), whose own is null.
    let prototype = js.prototype(object, || self.here())?;
    if js.type_of(prototype) != sys::ValueType::napi_null {
      let grand = js.prototype(prototype, || self.here())?;
      if js.type_of(grand) != sys::ValueType::napi_null {
        return Err(self.refuse(
          "is not a plain object (a Map, Set, class instance or boxed value?): give a plain object",
        ));
      }
    }
    let keys = js.own_keys(object, || self.here())?;
    if self.values.saturating_add(keys.len()) > MAX_VALUES {
      return Err(LdError::invalid(format!(
        "{} holds more than {MAX_VALUES} values ({} has {} members)",
        self.name,
        self.here(),
        keys.len()
      )));
    }
    let mut members = serde_json::Map::new();
    for (name, key) in keys {
      self.steps.push(Step::Key(name));
      let member = js.get(object, key, || self.here())?;
      // An undefined member is left out, as JSON.stringify does.
      let converted = if js.type_of(member) == sys::ValueType::napi_undefined {
        None
      } else {
        Some(self.value(member)?)
      };
      if let (Some(Step::Key(name)), Some(converted)) = (self.steps.pop(), converted) {
        members.insert(name, converted);
      }
    }
    Ok(Value::Object(members))
  }

  /// The error for a value nested deeper than `MAX_DEPTH`: a cycle if an array or object
  /// on the path contains itself, else plain depth.
  fn too_deep(&self, value: sys::napi_value) -> LdError {
    let js = self.js;
    let mut open: Vec<(sys::napi_value, usize)> = self.open.clone();
    open.push((value, self.steps.len()));
    for later in 1..open.len() {
      for earlier in 0..later {
        if js.same(open[earlier].0, open[later].0) {
          return LdError::invalid(format!(
            "{} refers back to {} (a cycle), which JSON cannot hold",
            path_text(self.name, &self.steps[..open[later].1]),
            path_text(self.name, &self.steps[..open[earlier].1]),
          ));
        }
      }
    }
    LdError::invalid(format!(
      "{} is nested deeper than {MAX_DEPTH} levels of arrays and objects",
      self.name
    ))
  }
}

/// A JavaScript number as JSON: integers as integers (so `3` is sent as `3`, not `3.0`,
/// and `2 ** 60` with all its digits, as `JSON.stringify` writes them). Every integral
/// `f64` below 2^63 in magnitude is an `i64` exactly; 2^63 and beyond are not, and are
/// sent in exponent form (the same number).
fn json_number(n: f64) -> Option<Value> {
  const I64_BOUND: f64 = 9_223_372_036_854_775_808.0; // 2^63
  if !n.is_finite() {
    return None;
  }
  if n.fract() == 0.0 && n.abs() < I64_BOUND {
    return Some(Value::from(n as i64));
  }
  serde_json::Number::from_f64(n).map(Value::Number)
}

/// A caller's value converted to JSON by `ToJson`, named `name` in errors.
fn to_json(name: &str, value: &Unknown) -> Result<Value> {
  ToJson::convert(Js::of(value), name, value.raw())
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
    assert_eq!(check(CLIENT_OPTIONS, Accept::Client, &[]), Ok(()));
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
        BULK_OPTIONS
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
      "options.concurrency is an option of completePhases and advancePipeline only"
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
  fn numbers_are_sent_as_javascript_writes_them() {
    let text = |n: f64| json_number(n).map(|v| v.to_string());
    assert_eq!(text(3.0).as_deref(), Some("3"));
    assert_eq!(text(-0.0).as_deref(), Some("0"));
    assert_eq!(text(-42.0).as_deref(), Some("-42"));
    assert_eq!(text(1.5).as_deref(), Some("1.5"));
    assert_eq!(
      text(9_007_199_254_740_991.0).as_deref(),
      Some("9007199254740991")
    );
    assert_eq!(
      text(9_007_199_254_740_992.0).as_deref(),
      Some("9007199254740992")
    );
    assert_eq!(
      text(-1_152_921_504_606_846_976.0).as_deref(),
      Some("-1152921504606846976")
    );
    // 2^63 is past i64: sent as the float it is, never as i64::MAX (another number).
    assert_eq!(
      text(9_223_372_036_854_775_808.0).as_deref(),
      Some("9.223372036854776e+18")
    );
    assert_eq!(text(1e300).as_deref(), Some("1e+300"));
    for refused in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
      assert_eq!(json_number(refused), None);
    }
  }

  #[test]
  fn paths_read_as_javascript_and_stay_short() {
    let steps = [
      Step::Index(0),
      Step::Key("value".into()),
      Step::Key("odd key".into()),
      Step::Key("$ok_1".into()),
      Step::Key("1x".into()),
    ];
    assert_eq!(
      path_text("patch", &steps),
      r#"patch[0].value["odd key"].$ok_1["1x"]"#
    );
    let long: Vec<Step> = (0..64).map(|_| Step::Key("self".into())).collect();
    let text = path_text("input", &long);
    assert_eq!(text.chars().count(), 141);
    assert!(text.starts_with("input.self.self") && text.ends_with(".self.self"));
    assert!(text.contains('…'));
  }

  #[test]
  fn did_you_mean_reaches_exactly_the_limit() {
    // Two edits, or a quarter of the option's length when that is more.
    let hint = |key: &str| {
      let err = check(&[key], Accept::Client, &[]).unwrap_err();
      err
        .split_once("(did you mean ")
        .map(|(_, rest)| rest.split_once('?').unwrap().0.to_string())
    };
    assert_eq!(hint("bxseUrx").as_deref(), Some("baseUrl"));
    assert_eq!(hint("bxsxUrx"), None);
    assert_eq!(hint("mxthodOvxrridx").as_deref(), Some("methodOverride"));
    assert_eq!(hint("mxthxdOvxrridx"), None);
  }

  #[test]
  fn edit_distance_counts_characters() {
    assert_eq!(edit_distance("baseuri", "baseurl"), 1);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(edit_distance("déjà", "deja"), 2);
  }
}
