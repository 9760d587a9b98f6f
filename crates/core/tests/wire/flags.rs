//! The read of a flag: its exact request (keys encoded, the one beta header), its answer
//! as sent, and keys refused before anything is sent.

use ld_release_core::client::PreparedRequest;
use ld_release_core::error::ErrorCode;
use serde_json::{json, Value};

use crate::server::{Request, Response, Server};
use crate::support::*;

#[tokio::test]
async fn a_flag_is_one_get_with_its_keys_encoded() {
  let flag = json!({"key": "new checkout", "variations": [{"_id": "a", "value": true}, {"_id": "b", "value": false}],
    "environments": {"production": {"on": true, "fallthrough": {"variation": 1}, "offVariation": 1}}});
  let server = Server::start({
    let flag = flag.clone();
    move |_: &Request| Response::json(200, flag.clone()).into()
  })
  .await;
  let client = client(&server);
  let request = PreparedRequest::flag(client.config(), "web/app", "new checkout").unwrap();
  assert_eq!(request.method.as_str(), "GET");
  assert!(request.body.is_none());
  let answer = client.send_release(request, NONE).await.unwrap();
  assert_eq!(serde_json::from_str::<Value>(answer.json()).unwrap(), flag);
  let requests = server.requests();
  assert_eq!(requests.len(), 1);
  assert_common_headers(&requests[0]);
  assert_eq!(requests[0].target, "/api/v2/flags/web%2Fapp/new%20checkout");
}

#[tokio::test]
async fn empty_keys_are_refused_unsent() {
  let server = Server::start(|_: &Request| Response::json(200, json!({})).into()).await;
  let client = client(&server);
  for (project, flag, named) in [("", "f", "projectKey"), ("p", "", "flagKey")] {
    let error = PreparedRequest::flag(client.config(), project, flag).unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidArgument);
    assert!(error.message.contains(named), "{}", error.message);
  }
  assert!(server.requests().is_empty());
}
