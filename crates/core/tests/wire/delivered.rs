//! A request waits until its `Request` event is delivered (when the observer says it may
//! not be yet), so that whoever watches sees it announced before it leaves.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::Method;
use ld_release_core::client::PreparedRequest;
use ld_release_core::config::RequestOptions;
use ld_release_core::events::{EventKind, Observer};

use crate::server::{Response, Server};
use crate::support::*;

type Gates = Arc<Mutex<Vec<tokio::sync::oneshot::Sender<()>>>>;

/// Options whose observer holds each request until the test opens its gate; the events
/// seen go to the returned log.
fn gated(gates: Gates) -> (RequestOptions, Arc<Mutex<Vec<EventKind>>>) {
  let seen = Arc::new(Mutex::new(Vec::new()));
  let log = seen.clone();
  let observer = Observer::new(
    "getRelease",
    Arc::new(move |event| log.lock().unwrap().push(event.kind)),
  )
  .with_delivered(Arc::new(move || {
    let (tx, rx) = tokio::sync::oneshot::channel();
    gates.lock().unwrap().push(tx);
    Some(rx)
  }));
  (
    RequestOptions {
      observer: Some(observer),
      ..Default::default()
    },
    seen,
  )
}

#[tokio::test]
async fn a_request_leaves_only_once_its_announcement_is_delivered() {
  bounded(async {
    let server = Server::always(Response::json(200, three_phases("standard", [false; 3]))).await;
    let client = Arc::new(client(&server));
    let gates: Gates = Arc::default();
    let (options, seen) = gated(gates.clone());
    let request =
      PreparedRequest::release(client.config(), Method::GET, "web", "checkout", None).unwrap();
    let call = tokio::spawn({
      let client = client.clone();
      async move { client.send_release(request, options).await }
    });
    while gates.lock().unwrap().is_empty() {
      tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(matches!(
      seen.lock().unwrap().as_slice(),
      [EventKind::Request]
    ));
    assert!(server.requests().is_empty(), "held until delivered");
    gates.lock().unwrap().pop().unwrap().send(()).unwrap();
    call.await.unwrap().unwrap();
    assert_eq!(server.requests().len(), 1);

    // A sender dropped (the environment gone) lets the request go too.
    let (options, _) = gated(gates.clone());
    let request =
      PreparedRequest::release(client.config(), Method::GET, "web", "checkout", None).unwrap();
    let call = tokio::spawn({
      let client = client.clone();
      async move { client.send_release(request, options).await }
    });
    while gates.lock().unwrap().is_empty() {
      tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gates.lock().unwrap().clear();
    call.await.unwrap().unwrap();
    assert_eq!(server.requests().len(), 2);
  })
  .await;
}
