//! TLS settings shared by every client of the process: the system's roots plus the
//! certificates of `NODE_EXTRA_CA_CERTS` (which Node users already set for corporate
//! proxies and private CAs), loaded and parsed once per distinct value of the variable
//! rather than once per client.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

pub const EXTRA_CA_ENV: &str = "NODE_EXTRA_CA_CERTS";

type Roots = Arc<Vec<CertificateDer<'static>>>;

/// The certificates of the PEM file at `path`, read and parsed once per path. Like Node,
/// an unreadable or malformed file adds nothing rather than failing every request.
pub fn extra_roots(path: Option<&str>) -> Roots {
  static CACHE: LazyLock<Mutex<HashMap<String, Roots>>> = LazyLock::new(Default::default);
  let Some(path) = path.map(str::trim).filter(|p| !p.is_empty()) else {
    return Arc::default();
  };
  let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
  cache
    .entry(path.to_string())
    .or_insert_with(|| {
      let certs = std::fs::read(path)
        .ok()
        .map(|pem| {
          CertificateDer::pem_slice_iter(&pem)
            .filter_map(std::result::Result::ok)
            .collect()
        })
        .unwrap_or_default();
      Arc::new(certs)
    })
    .clone()
}

/// The rustls configuration for clients when `NODE_EXTRA_CA_CERTS` is `extra_ca_path`:
/// built once per distinct path and shared (every clone holds the same verifier and root
/// store), HTTP/1.1 only. The system's roots are read when it is first built.
pub fn client_config(extra_ca_path: Option<&str>) -> Result<rustls::ClientConfig, String> {
  static CACHE: LazyLock<Mutex<HashMap<String, Arc<rustls::ClientConfig>>>> =
    LazyLock::new(Default::default);
  let key = extra_ca_path.map(str::trim).unwrap_or_default().to_string();
  let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
  if let Some(config) = cache.get(&key) {
    return Ok((**config).clone());
  }
  let config = Arc::new(build_config(&extra_roots(Some(&key)))?);
  cache.insert(key, config.clone());
  Ok((*config).clone())
}

fn build_config(extra: &[CertificateDer<'static>]) -> Result<rustls::ClientConfig, String> {
  let provider = rustls::crypto::CryptoProvider::get_default()
    .cloned()
    .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
  // An extra root that rustls refuses adds nothing, as with an unreadable file.
  let verifier =
    rustls_platform_verifier::Verifier::new_with_extra_roots(extra.to_vec(), provider.clone())
      .or_else(|_| rustls_platform_verifier::Verifier::new(provider.clone()))
      .map_err(|e| format!("no trust roots could be loaded: {e}"))?;
  let mut config = rustls::ClientConfig::builder_with_provider(provider)
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(verifier))
    .with_no_client_auth();
  config.alpn_protocols = vec![b"http/1.1".to_vec()];
  Ok(config)
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
    let fixture = include_str!("../../../__test__/fixtures/ca.pem");
    std::fs::write(&path, format!("{fixture}\n{fixture}")).unwrap();
    let certs = extra_roots(path.to_str());
    assert_eq!(certs.len(), 2);
    // Parsed once: the second call is served from the cache even if the file is gone.
    std::fs::remove_file(&path).unwrap();
    assert_eq!(extra_roots(path.to_str()).len(), 2);
  }

  #[test]
  fn a_config_is_built_for_any_path_and_speaks_http1() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let fixture = concat!(
      env!("CARGO_MANIFEST_DIR"),
      "/../../__test__/fixtures/ca.pem"
    );
    for path in [None, Some(""), Some("/nonexistent/ca.pem"), Some(fixture)] {
      let config = client_config(path).unwrap();
      assert_eq!(
        config.alpn_protocols,
        vec![b"http/1.1".to_vec()],
        "{path:?}"
      );
    }
  }
}
