//! What each kind of request puts on the wire: method, path, headers and body.

use http::Method;
use ld_release_core::client::PreparedRequest;
use ld_release_core::config::{ClientOptions, Secret};
use ld_release_core::error::ErrorCode;
use ld_release_core::phases::{PhaseAction, PhaseRef};
use ld_release_core::release::PipelineKind;
use serde_json::json;

use crate::server::{Reply, Response, Server};
use crate::support::*;

#[tokio::test]
async fn a_read_carries_the_raw_token_and_the_beta_header_once_and_no_body() {
  bounded(async {
    let server = Server::always(Response::json(200, three_phases("standard", [false; 3]))).await;
    let client = client(&server);
    let request =
      PreparedRequest::release(client.config(), Method::GET, "web", "checkout", None).unwrap();
    let release = client.send_release(request, NONE).await.unwrap();
    assert_eq!(release.pipeline_key(), Some("standard"));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let get = &requests[0];
    assert_eq!(get.line(), "GET /api/v2/flags/web/checkout/release");
    assert_common_headers(get);
    assert_eq!(
      get.all("authorization"),
      [TOKEN],
      "no Bearer, no second value"
    );
    assert!(get.body.is_empty());
    assert!(get.all("content-length").is_empty(), "{:?}", get.headers);
    assert!(get.all("x-http-method-override").is_empty());
  })
  .await;
}

#[tokio::test]
async fn completing_a_phase_by_index_sends_the_documented_patch_after_its_reads() {
  bounded(async {
    let server = Server::start(|request| {
      let body = if request.path().contains("/release-pipelines/") {
        pipeline("standard", true)
      } else {
        three_phases("standard", [true, false, false])
      };
      Reply::Answer(Response::json(200, body))
    })
    .await;
    let client = client(&server);
    let after = change_checkout(&client, PhaseRef::Index(0), PhaseAction::Complete)
      .await
      .unwrap();
    assert_eq!(after.pipeline_key(), Some("standard"));
    let requests = server.requests();
    assert_eq!(
      server.lines(),
      [
        "GET /api/v2/flags/web/checkout/release",
        "GET /api/v2/projects/web/release-pipelines/standard",
        "PATCH /api/v2/flags/web/checkout/release",
      ]
    );
    for request in &requests {
      assert_common_headers(request);
    }
    assert_eq!(
      requests[2].body_text(),
      r#"[{"op":"replace","path":"/phases/0/complete","value":true}]"#
    );
    assert_eq!(
      client.remembered_pipeline("web", "checkout").as_deref(),
      Some("standard")
    );
    assert_eq!(
      client.remembered_kind("web", "standard"),
      Some(PipelineKind::Legacy)
    );

    // The kind is known now: the release is read, then patched.
    change_checkout(&client, PhaseRef::Index(2), PhaseAction::Reopen)
      .await
      .unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 5, "{:?}", server.lines());
    assert_eq!(requests[3].line(), "GET /api/v2/flags/web/checkout/release");
    assert_eq!(
      requests[4].line(),
      "PATCH /api/v2/flags/web/checkout/release"
    );
    assert_eq!(
      requests[4].body_text(),
      r#"[{"op":"replace","path":"/phases/2/complete","value":false}]"#
    );
  })
  .await;
}

#[tokio::test]
async fn method_override_sends_a_patch_as_a_post_and_nothing_else() {
  bounded(async {
    let server = Server::always(Response::json(200, three_phases("standard", [false; 3]))).await;
    let client = client_for(&ClientOptions {
      method_override: Some(true),
      ..options(&server)
    });
    change_checkout(&client, PhaseRef::Index(1), PhaseAction::Complete)
      .await
      .unwrap();
    let read =
      PreparedRequest::release(client.config(), Method::GET, "web", "checkout", None).unwrap();
    client.send_release(read, NONE).await.unwrap();
    let requests = server.requests();
    assert_eq!(
      server.lines(),
      [
        "GET /api/v2/flags/web/checkout/release",
        "GET /api/v2/projects/web/release-pipelines/standard",
        "POST /api/v2/flags/web/checkout/release",
        "GET /api/v2/flags/web/checkout/release"
      ]
    );
    assert_common_headers(&requests[2]);
    assert_eq!(requests[2].one("x-http-method-override"), "PATCH");
    assert_eq!(
      requests[2].body_text(),
      r#"[{"op":"replace","path":"/phases/1/complete","value":true}]"#
    );
    for read in [&requests[0], &requests[1], &requests[3]] {
      assert_common_headers(read);
      assert!(read.all("x-http-method-override").is_empty());
    }
  })
  .await;
}

#[tokio::test]
async fn keys_are_percent_encoded_as_single_segments() {
  bounded(async {
    let server = Server::always(Response::json(200, three_phases("standard", [false; 3]))).await;
    let client = client(&server);
    let config = client.config();
    let odd = "a/b?c#d%e f.g~h_i-j";
    let requests = [
      PreparedRequest::release(config, Method::GET, "my proj", odd, None).unwrap(),
      PreparedRequest::create_release(
        config,
        "my proj",
        "café",
        &json!({ "releasePipelineKey": "std/2" }),
      )
      .unwrap(),
      PreparedRequest::update_phase_status(
        config,
        "web",
        "x",
        "ph/1?",
        &json!({"status": "active"}),
      )
      .unwrap(),
      PreparedRequest::release_pipeline(config, "web", "roll out").unwrap(),
    ];
    for request in requests {
      client.send_release(request, NONE).await.unwrap();
    }
    assert_eq!(
      server.lines(),
      [
        "GET /api/v2/flags/my%20proj/a%2Fb%3Fc%23d%25e%20f.g~h_i-j/release",
        "PUT /api/v2/projects/my%20proj/flags/caf%C3%A9/release",
        "PUT /api/v2/projects/web/flags/x/release/phases/ph%2F1%3F",
        "GET /api/v2/projects/web/release-pipelines/roll%20out",
      ]
    );
    let sent = server.requests();
    for request in &sent {
      assert_common_headers(request);
    }
    assert_eq!(sent[1].body_text(), r#"{"releasePipelineKey":"std/2"}"#);
    assert_eq!(sent[2].body_text(), r#"{"status":"active"}"#);
  })
  .await;
}

#[tokio::test]
async fn a_base_url_path_is_kept_before_the_api_path() {
  bounded(async {
    let server = Server::always(Response::json(200, three_phases("standard", [false; 3]))).await;
    let client = client_for(&ClientOptions {
      base_url: Some(format!("{}/ld/", server.url())),
      ..options(&server)
    });
    let request = PreparedRequest::release(client.config(), Method::GET, "p", "f", None).unwrap();
    client.send_release(request, NONE).await.unwrap();
    assert_eq!(server.lines(), ["GET /ld/api/v2/flags/p/f/release"]);
  })
  .await;
}

#[tokio::test]
async fn a_delete_sends_no_body_and_takes_no_content() {
  bounded(async {
    let server = Server::always(Response::new(204)).await;
    let client = client(&server);
    let request =
      PreparedRequest::release(client.config(), Method::DELETE, "web", "checkout", None).unwrap();
    client.send_no_content(request, NONE).await.unwrap();
    let requests = server.requests();
    assert_eq!(
      server.lines(),
      ["DELETE /api/v2/flags/web/checkout/release"]
    );
    assert_common_headers(&requests[0]);
    assert!(requests[0].body.is_empty());
  })
  .await;
}

#[tokio::test]
async fn bad_input_sends_nothing() {
  bounded(async {
    let server = Server::always(Response::json(200, three_phases("standard", [false; 3]))).await;
    let client = client(&server);
    for flag in ["", "..", ".", "a\nb"] {
      let error = client
        .change_phase(
          change(flag, PhaseRef::Index(0), PhaseAction::Complete),
          NONE,
        )
        .await
        .unwrap_err();
      assert_eq!(error.code, ErrorCode::InvalidArgument, "{flag:?}");
      assert!(error.message.starts_with("flagKey"), "{}", error.message);
      assert_eq!(error.attempts, 0);
    }
    // No token: nothing is sent either, and the error says where a token comes from.
    let anonymous = client_for(&ClientOptions {
      api_key: None,
      ..options(&server)
    });
    let request =
      PreparedRequest::release(anonymous.config(), Method::GET, "p", "f", None).unwrap();
    let error = anonymous.send_release(request, NONE).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::NoApiKey);
    assert!(
      error.message.contains("LD_ACCESS_TOKEN"),
      "{}",
      error.message
    );
    // A token that cannot be a header value.
    let broken = client_for(&ClientOptions {
      api_key: Some(Secret::new("api-1234\n5678")),
      ..options(&server)
    });
    let request = PreparedRequest::release(broken.config(), Method::GET, "p", "f", None).unwrap();
    let error = broken.send_release(request, NONE).await.unwrap_err();
    assert_eq!(error.code, ErrorCode::InvalidArgument);
    assert!(error.message.starts_with("apiKey"), "{}", error.message);
    assert!(server.requests().is_empty(), "{:?}", server.lines());
  })
  .await;
}

#[tokio::test]
async fn answers_are_handed_on_as_the_server_sent_them() {
  bounded(async {
    let mut body = three_phases("standard", [false; 3]);
    body["somethingNew"] = json!({"nested": [1, 2]});
    body["phases"][0]["_creationDate"] = json!("1766084905114");
    let server = Server::script(vec![Reply::Answer(Response::json(200, &body))]).await;
    let client = client(&server);
    let request = PreparedRequest::release(client.config(), Method::GET, "p", "f", None).unwrap();
    let release = client.send_release(request, NONE).await.unwrap();
    let back: serde_json::Value = serde_json::from_str(release.json()).unwrap();
    body["phases"][0]["_creationDate"] = json!(1766084905114_i64);
    assert_eq!(back, body);
  })
  .await;
}
