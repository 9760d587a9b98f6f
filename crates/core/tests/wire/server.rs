//! A small HTTP/1.1 server on 127.0.0.1 for the wire tests: it records every request as
//! it arrived (method, target, raw header lines, body) and answers what the test's
//! handler says. It stops, with every connection it holds, when the `Server` is dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// The largest request head and body read; a request past either fails the test.
const MAX_HEAD_BYTES: usize = 64 * 1024;
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The most requests one server answers: a client retrying without end fails the test.
const MAX_REQUESTS: usize = 200;

/// One request as it came over the wire.
#[derive(Debug, Clone)]
pub struct Request {
  pub method: String,
  /// The request target as sent: the path, percent-encoding and all, and the query.
  pub target: String,
  /// Every header line in order, names as sent.
  pub headers: Vec<(String, String)>,
  pub body: Vec<u8>,
  /// When its head had been read (tokio's clock: virtual when the test pauses time).
  pub at: Instant,
}

impl Request {
  /// The path part of the target.
  pub fn path(&self) -> &str {
    self.target.split('?').next().unwrap_or_default()
  }

  /// Every value of header `name` (any case), in order.
  pub fn all(&self, name: &str) -> Vec<&str> {
    self
      .headers
      .iter()
      .filter(|(n, _)| n.eq_ignore_ascii_case(name))
      .map(|(_, v)| v.as_str())
      .collect()
  }

  /// The value of header `name`, which must have been sent exactly once.
  pub fn one(&self, name: &str) -> &str {
    match self.all(name).as_slice() {
      [value] => value,
      values => panic!(
        "{} {}: header {name} sent {} times: {values:?}",
        self.method,
        self.target,
        values.len()
      ),
    }
  }

  pub fn body_text(&self) -> &str {
    std::str::from_utf8(&self.body).expect("a UTF-8 body")
  }

  /// `METHOD target`, to compare sequences of requests.
  pub fn line(&self) -> String {
    format!("{} {}", self.method, self.target)
  }
}

/// An answer: status, headers and body. `Content-Length` is added unless set here, or
/// unless `Transfer-Encoding: chunked` is (then the body is sent in chunks).
#[derive(Debug, Clone)]
pub struct Response {
  pub status: u16,
  pub headers: Vec<(String, String)>,
  pub body: Vec<u8>,
}

impl Response {
  pub fn new(status: u16) -> Self {
    Response {
      status,
      headers: Vec::new(),
      body: Vec::new(),
    }
  }

  pub fn json(status: u16, body: impl ToString) -> Self {
    Response::new(status)
      .header("Content-Type", "application/json")
      .body(body.to_string())
  }

  pub fn header(mut self, name: &str, value: impl ToString) -> Self {
    self.headers.push((name.to_string(), value.to_string()));
    self
  }

  pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
    self.body = body.into();
    self
  }
}

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
  Answer(Response),
  /// Answers after a wait (tokio's clock).
  After(Duration, Response),
  /// Closes the connection without answering.
  Drop,
  /// Never answers (until the server stops).
  Hang,
}

impl From<Response> for Reply {
  fn from(response: Response) -> Self {
    Reply::Answer(response)
  }
}

type Handler = Box<dyn FnMut(&Request) -> Reply + Send>;

/// The server. Dropping it stops it and closes its connections.
pub struct Server {
  port: u16,
  log: Arc<Mutex<Vec<Request>>>,
  task: JoinHandle<()>,
}

impl Drop for Server {
  fn drop(&mut self) {
    // Aborting the accept loop drops its JoinSet, which aborts every connection task.
    self.task.abort();
  }
}

impl Server {
  /// A server answering each request with what `handler` returns for it.
  pub async fn start(handler: impl FnMut(&Request) -> Reply + Send + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let handler: Arc<Mutex<Handler>> = Arc::new(Mutex::new(Box::new(handler)));
    let task = tokio::spawn({
      let log = log.clone();
      async move {
        let mut connections = JoinSet::new();
        loop {
          let Ok((stream, _)) = listener.accept().await else {
            break;
          };
          connections.spawn(serve(stream, log.clone(), handler.clone()));
          // Finished connections are reaped as new ones come.
          while connections.try_join_next().is_some() {}
        }
      }
    });
    Server { port, log, task }
  }

  /// A server answering the requests, in order of arrival, with `replies`; a request
  /// past the end of the script gets a 599 the tests never expect.
  pub async fn script(replies: Vec<Reply>) -> Server {
    let mut replies = replies.into_iter();
    Server::start(move |_| {
      replies
        .next()
        .unwrap_or_else(|| Response::new(599).body("not in the script").into())
    })
    .await
  }

  /// A server answering every request the same way.
  pub async fn always(reply: impl Into<Reply>) -> Server {
    let reply = reply.into();
    Server::start(move |_| reply.clone()).await
  }

  /// `http://127.0.0.1:port`
  pub fn url(&self) -> String {
    format!("http://127.0.0.1:{}", self.port)
  }

  /// The requests received so far, in order of arrival.
  pub fn requests(&self) -> Vec<Request> {
    self.log.lock().unwrap().clone()
  }

  /// `METHOD target` of each request received so far.
  pub fn lines(&self) -> Vec<String> {
    self.requests().iter().map(Request::line).collect()
  }
}

/// Serves one connection: requests one after the other (keep-alive) until the client
/// closes it, a reply drops it, or the server stops.
async fn serve(mut stream: TcpStream, log: Arc<Mutex<Vec<Request>>>, handler: Arc<Mutex<Handler>>) {
  let mut buffer = Vec::new();
  loop {
    let Some(request) = read_request(&mut stream, &mut buffer).await else {
      return;
    };
    let reply = {
      let mut log = log.lock().unwrap();
      log.push(request.clone());
      if log.len() > MAX_REQUESTS {
        Reply::Answer(Response::new(599).body("too many requests for one test"))
      } else {
        drop(log);
        (handler.lock().unwrap())(&request)
      }
    };
    let response = match reply {
      Reply::Answer(response) => response,
      Reply::After(wait, response) => {
        tokio::time::sleep(wait).await;
        response
      }
      Reply::Drop => return,
      Reply::Hang => std::future::pending().await,
    };
    if stream.write_all(&encode(&response)).await.is_err() {
      return;
    }
  }
}

/// Reads one request, leaving what follows it in `buffer`; `None` when the connection
/// ends first.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Request> {
  let head_end = loop {
    if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
      break at;
    }
    assert!(buffer.len() <= MAX_HEAD_BYTES, "request head too large");
    if !fill(stream, buffer).await {
      return None;
    }
  };
  let at = Instant::now();
  let head = String::from_utf8(buffer[..head_end].to_vec()).expect("an ASCII request head");
  let mut lines = head.split("\r\n");
  let mut request_line = lines.next().unwrap().split(' ');
  let method = request_line.next().unwrap().to_string();
  let target = request_line.next().unwrap().to_string();
  assert_eq!(request_line.next(), Some("HTTP/1.1"), "{head}");
  let headers: Vec<(String, String)> = lines
    .map(|line| {
      let (name, value) = line.split_once(':').expect("a header line");
      (name.to_string(), value.trim().to_string())
    })
    .collect();
  assert!(
    !headers
      .iter()
      .any(|(n, _)| n.eq_ignore_ascii_case("transfer-encoding")),
    "bodies are sent with a Content-Length: {head}"
  );
  let length = headers
    .iter()
    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
    .map_or(0, |(_, v)| {
      v.parse::<usize>().expect("a numeric Content-Length")
    });
  assert!(length <= MAX_BODY_BYTES, "request body too large");
  buffer.drain(..head_end + 4);
  while buffer.len() < length {
    if !fill(stream, buffer).await {
      return None;
    }
  }
  let body = buffer.drain(..length).collect();
  Some(Request {
    method,
    target,
    headers,
    body,
    at,
  })
}

/// Reads what the connection has; `false` when it is closed.
async fn fill(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> bool {
  let mut chunk = [0u8; 8192];
  match stream.read(&mut chunk).await {
    Ok(0) | Err(_) => false,
    Ok(n) => {
      buffer.extend_from_slice(&chunk[..n]);
      true
    }
  }
}

/// The bytes of `response`: with a `Content-Length`, unless it sets its own length or
/// asks for `Transfer-Encoding: chunked` (then sent in chunks of 256 KiB).
fn encode(response: &Response) -> Vec<u8> {
  let mut out = format!(
    "HTTP/1.1 {} {}\r\n",
    response.status,
    reason(response.status)
  );
  let has = |name: &str| {
    response
      .headers
      .iter()
      .any(|(n, _)| n.eq_ignore_ascii_case(name))
  };
  let chunked = has("transfer-encoding");
  for (name, value) in &response.headers {
    out.push_str(&format!("{name}: {value}\r\n"));
  }
  if !chunked && !has("content-length") {
    out.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
  }
  out.push_str("\r\n");
  let mut bytes = out.into_bytes();
  if chunked {
    for chunk in response.body.chunks(256 * 1024) {
      bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
      bytes.extend_from_slice(chunk);
      bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
  } else {
    bytes.extend_from_slice(&response.body);
  }
  bytes
}

fn reason(status: u16) -> &'static str {
  match status {
    200 => "OK",
    204 => "No Content",
    302 => "Found",
    400 => "Bad Request",
    404 => "Not Found",
    429 => "Too Many Requests",
    503 => "Service Unavailable",
    _ => "Status",
  }
}
