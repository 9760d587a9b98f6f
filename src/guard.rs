//! `isLaunchDarklyError`: whether a value is an error this library raised.
//!
//! Every `LaunchDarklyError` is branded where it is built (`js::error_object`): a native
//! marker is wrapped in the error object. JavaScript cannot see, copy or forge the
//! marker, so an error with the same `name` and `code`, an object spread or
//! `structuredClone`d from a real one, a Proxy around one or an object inheriting from
//! one carries none, while the error itself keeps it whatever is done to its properties.

use napi::bindgen_prelude::{JsObjectValue, Object};
use napi::{Unknown, ValueType};
use napi_derive::napi;

use crate::error::{ErrorCode, LdError};

/// The marker wrapped in every LaunchDarklyError.
struct Brand;

/// Brands `object`, the JavaScript error built for `error`. An abort becomes an
/// `AbortError`, which is not a LaunchDarklyError and is left unbranded.
pub fn brand(object: &mut Object, error: &LdError) -> napi::Result<()> {
  if error.code == ErrorCode::Aborted {
    return Ok(());
  }
  object.wrap(Brand, None)
}

/// Whether `err` is an error this library raised: a `LaunchDarklyError`, with `code`
/// one of `LaunchDarklyErrorCode`. False for an `AbortError`, for any other error
/// (including one with a copied `name` and `code`) and for anything that is not an
/// error. Never throws.
#[napi(
  ts_args_type = "err: unknown",
  ts_return_type = "err is LaunchDarklyError"
)]
// Called only through its `#[napi]` registration, which test builds leave out.
#[cfg_attr(test, allow(dead_code))]
pub fn is_launch_darkly_error(err: Unknown) -> bool {
  if !matches!(err.get_type(), Ok(ValueType::Object)) {
    return false;
  }
  // SAFETY: `err` was just checked to be an object. `unwrap` checks that the native
  // value wrapped in it, if any, is a `Brand` this addon wrapped.
  match unsafe { err.cast::<Object>() } {
    Ok(object) => object.unwrap::<Brand>().is_ok(),
    Err(_) => false,
  }
}
