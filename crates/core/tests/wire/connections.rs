//! Idle connections are closed after a short keep-alive, whether or not the client is
//! still held, and at once when the last handle to a client is dropped.

use std::time::Duration;

use http::Method;
use ld_release_core::client::{PreparedRequest, IDLE_KEEP_ALIVE};
use ld_release_core::config::{ClientOptions, Secret};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;

use crate::support::*;

/// A server for one connection: answers its one request with a release (keep-alive),
/// then reports how long after the answer the client closed the connection.
async fn one_connection() -> (String, tokio::task::JoinHandle<Duration>) {
  let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
  let url = format!("http://{}", listener.local_addr().unwrap());
  let served = tokio::spawn(async move {
    let (mut stream, _) = listener.accept().await.unwrap();
    let mut buffer = vec![0u8; 16 * 1024];
    let mut read = 0;
    while !buffer[..read].windows(4).any(|w| w == b"\r\n\r\n") {
      let n = stream.read(&mut buffer[read..]).await.unwrap();
      assert!(n > 0, "the request arrives whole");
      read += n;
    }
    let body = three_phases("standard", [false; 3]).to_string();
    let answer = format!(
      "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
      body.len()
    );
    stream.write_all(answer.as_bytes()).await.unwrap();
    let answered = Instant::now();
    // The client sends nothing more: the next read ends when it closes the connection.
    let n = stream.read(&mut buffer).await.unwrap_or(0);
    assert_eq!(n, 0, "nothing but the end of the connection");
    answered.elapsed()
  });
  (url, served)
}

async fn get(client: &ld_release_core::client::Client) {
  let request =
    PreparedRequest::release(client.config(), Method::GET, "web", "checkout", None).unwrap();
  client.send_release(request, NONE).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_idle_connection_of_a_held_client_is_closed_after_the_keep_alive() {
  assert!(IDLE_KEEP_ALIVE >= Duration::from_secs(2) && IDLE_KEEP_ALIVE <= Duration::from_secs(10));
  let (url, served) = one_connection().await;
  let options = ClientOptions {
    api_key: Some(Secret::new(TOKEN)),
    base_url: Some(url),
    ..Default::default()
  };
  let client = client_for(&options);
  get(&client).await;
  let open_for = tokio::time::timeout(Duration::from_secs(60), served)
    .await
    .expect("the connection is closed within a minute")
    .unwrap();
  assert!(
    open_for >= IDLE_KEEP_ALIVE,
    "kept for reuse first: {open_for:?}"
  );
  assert!(open_for <= IDLE_KEEP_ALIVE * 3, "then closed: {open_for:?}");
  drop(client);
}

#[tokio::test(start_paused = true)]
async fn dropping_a_client_closes_its_connections_at_once() {
  let (url, served) = one_connection().await;
  let options = ClientOptions {
    api_key: Some(Secret::new(TOKEN)),
    base_url: Some(url),
    ..Default::default()
  };
  let client = client_for(&options);
  get(&client).await;
  drop(client);
  let open_for = tokio::time::timeout(Duration::from_secs(60), served)
    .await
    .expect("the connection is closed")
    .unwrap();
  assert!(
    open_for < IDLE_KEEP_ALIVE,
    "closed before the keep-alive ends: {open_for:?}"
  );
}
