//! Feature flags: the one read a release needs of its flag, `GET
//! /api/v2/flags/{projectKey}/{flagKey}` (the variations, and each environment's state).
//! It is not a beta endpoint; the client's one `LD-API-Version: beta` goes with it like
//! every request, which the service accepts.

use reqwest::Method;

use crate::client::PreparedRequest;
use crate::config::{validate_key, ClientConfig};
use crate::error::Result;

impl PreparedRequest {
  /// `GET /api/v2/flags/{projectKey}/{flagKey}`, each key checked and encoded.
  pub fn flag(config: &ClientConfig, project_key: &str, flag_key: &str) -> Result<Self> {
    validate_key("projectKey", project_key)?;
    validate_key("flagKey", flag_key)?;
    Ok(PreparedRequest {
      method: Method::GET,
      url: config.url_for(&["api", "v2", "flags", project_key, flag_key]),
      body: None,
    })
  }
}
