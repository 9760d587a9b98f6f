//! What clients keep between calls: the shared clients of module-level calls, and what a
//! client has learnt of pipelines, within bounds.

use std::sync::Arc;

use ld_release_core::client::{Client, CLIENT_NATIVE_BYTES};
use ld_release_core::config::{ClientOptions, Secret};
use ld_release_core::release::PipelineKind;

use crate::server::{Response, Server};
use crate::support::*;

/// How many entries of each kind a client remembers before it starts over.
const REMEMBERED: usize = 10_000;

fn shared_options(n: usize) -> ClientOptions {
  ClientOptions {
    api_key: Some(Secret::new(format!("api-shared-{n:04}-0123456789"))),
    base_url: Some("https://app.launchdarkly.com".to_string()),
    ..Default::default()
  }
}

#[test]
fn module_level_calls_share_one_client_per_configuration() {
  let first = Client::shared(&shared_options(0)).unwrap();
  assert!(Arc::ptr_eq(
    &first,
    &Client::shared(&shared_options(0)).unwrap()
  ));
  let other = Client::shared(&shared_options(1)).unwrap();
  assert!(!Arc::ptr_eq(&first, &other));
  assert_eq!(other.config().api_key, shared_options(1).api_key);
  // Up to 32 configurations are kept...
  for n in 2..32 {
    Client::shared(&shared_options(n)).unwrap();
  }
  assert!(Arc::ptr_eq(
    &first,
    &Client::shared(&shared_options(0)).unwrap()
  ));
  // ...then the set starts over.
  Client::shared(&shared_options(32)).unwrap();
  assert!(!Arc::ptr_eq(
    &first,
    &Client::shared(&shared_options(0)).unwrap()
  ));
  // A configuration that is not valid makes no client.
  let bad = ClientOptions {
    base_url: Some("http://example.com".to_string()),
    ..shared_options(0)
  };
  assert!(Client::shared(&bad).is_err());
}

#[tokio::test]
async fn pipelines_and_flags_are_remembered_up_to_a_bound() {
  bounded(async {
    let server = Server::always(Response::new(500)).await;
    let client = client(&server);
    client.remember_kind("web", "p0", PipelineKind::Legacy);
    client.remember_kind("web", "p1", PipelineKind::New);
    assert_eq!(
      client.remembered_kind("web", "p0"),
      Some(PipelineKind::Legacy)
    );
    assert_eq!(client.remembered_kind("web", "p1"), Some(PipelineKind::New));
    assert_eq!(client.remembered_kind("other", "p1"), None);
    // Unknown is never noted: it takes no room.
    client.remember_kind("web", "unknown", PipelineKind::Unknown);
    assert_eq!(client.remembered_kind("web", "unknown"), None);
    for n in 2..REMEMBERED {
      client.remember_kind("web", &format!("p{n}"), PipelineKind::Legacy);
    }
    assert_eq!(
      client.remembered_kind("web", "p0"),
      Some(PipelineKind::Legacy)
    );
    client.remember_kind("web", "one-more", PipelineKind::New);
    assert_eq!(client.remembered_kind("web", "p0"), None, "started over");
    assert_eq!(
      client.remembered_kind("web", "one-more"),
      Some(PipelineKind::New)
    );

    client.remember_pipeline("web", "f0", Some("p0"));
    client.remember_pipeline("web", "f1", Some("p1"));
    assert_eq!(
      client.remembered_pipeline("web", "f0").as_deref(),
      Some("p0")
    );
    assert_eq!(
      client.remembered_pipeline("web", "f1").as_deref(),
      Some("p1")
    );
    client.remember_pipeline("web", "f1", None);
    assert_eq!(client.remembered_pipeline("web", "f1"), None, "forgotten");
    for n in 1..REMEMBERED {
      client.remember_pipeline("web", &format!("f{n}"), Some("p"));
    }
    assert_eq!(
      client.remembered_pipeline("web", "f0").as_deref(),
      Some("p0")
    );
    client.remember_pipeline("web", "one-more", Some("p"));
    assert_eq!(
      client.remembered_pipeline("web", "f0"),
      None,
      "started over"
    );
    assert!(server.requests().is_empty());
  })
  .await;
}

#[test]
fn the_memory_reported_per_client_covers_what_one_holds() {
  // About 5 KB measured on Linux x64 (connection pool, connector, gate and settings),
  // rounded up: never less, and not so much more that clients look heavier than they are.
  assert!(
    (5 * 1024..=16 * 1024).contains(&CLIENT_NATIVE_BYTES),
    "{CLIENT_NATIVE_BYTES}"
  );
}
