//! Extra trust roots: the certificates of `NODE_EXTRA_CA_CERTS`, which Node users already
//! set for corporate proxies and private CAs, on top of the system's roots.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use reqwest::Certificate;

pub const EXTRA_CA_ENV: &str = "NODE_EXTRA_CA_CERTS";

type Parsed = Arc<Vec<Certificate>>;

/// The certificates of the PEM file at `path`, read and parsed once per path. Like Node,
/// an unreadable or malformed file adds nothing rather than failing every request.
pub fn extra_roots(path: Option<&str>) -> Parsed {
  static CACHE: LazyLock<Mutex<HashMap<String, Parsed>>> = LazyLock::new(Default::default);
  let Some(path) = path.map(str::trim).filter(|p| !p.is_empty()) else {
    return Arc::default();
  };
  let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
  cache
    .entry(path.to_string())
    .or_insert_with(|| {
      let certs = std::fs::read(path)
        .ok()
        .and_then(|pem| Certificate::from_pem_bundle(&pem).ok())
        .unwrap_or_default();
      Arc::new(certs)
    })
    .clone()
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn missing_or_empty_files_add_nothing() {
    assert!(extra_roots(None).is_empty());
    assert!(extra_roots(Some("  ")).is_empty());
    assert!(extra_roots(Some("/nonexistent/ca.pem")).is_empty());
  }

  #[test]
  fn reads_every_certificate_of_a_bundle() {
    let dir = std::env::temp_dir().join(format!("ld-release-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bundle.pem");
    let fixture = include_str!("../__test__/fixtures/ca.pem");
    std::fs::write(&path, format!("{fixture}\n{fixture}")).unwrap();
    let certs = extra_roots(path.to_str());
    assert_eq!(certs.len(), 2);
    // Parsed once: the second call is served from the cache even if the file is gone.
    std::fs::remove_file(&path).unwrap();
    assert_eq!(extra_roots(path.to_str()).len(), 2);
  }
}
