//! Lists on the wire, for every list: `_links.next` followed with its query, `offset`
//! when there is none, a page size the server refuses lowered once, and lists that end
//! with an error when the server's pages do not move on.

use ld_release_core::client::Client;
use ld_release_core::config::ClientOptions;
use ld_release_core::error::{ErrorCode, LdError};
use ld_release_core::pipelines::{Page, Pager};
use serde_json::{json, Value};

use crate::server::{Reply, Response, Server};
use crate::support::*;

const LIST: &str = "/api/v2/projects/web/release-pipelines";

/// A page of items with keys `keys`, with `totalCount` and `_links.next` when given.
fn page(keys: &[&str], total: Option<u64>, next: Option<&str>) -> Reply {
  let mut body = json!({ "items": keys.iter().map(|k| json!({ "key": k })).collect::<Vec<_>>() });
  if let Some(total) = total {
    body["totalCount"] = json!(total);
  }
  let mut links = json!({ "self": { "href": LIST, "type": "application/json" } });
  if let Some(next) = next {
    links["next"] = json!({ "href": next, "type": "application/json" });
  }
  body["_links"] = links;
  Reply::Answer(Response::json(200, body))
}

/// Reads `pager` until it ends or fails (at most 20 pages): the keys read, and the error.
async fn read(client: &Client, pager: &mut Pager) -> (Vec<String>, Option<LdError>) {
  let mut keys = Vec::new();
  for _ in 0..20 {
    if pager.is_done() {
      return (keys, None);
    }
    match client.next_page(pager, NONE).await {
      Ok(Page { items, .. }) => keys.extend(items.iter().map(|item| {
        let item: Value = serde_json::from_str(item).unwrap();
        item["key"].as_str().unwrap().to_string()
      })),
      Err(error) => return (keys, Some(error)),
    }
  }
  panic!("the list did not end: {keys:?}");
}

#[tokio::test]
async fn next_links_are_followed_with_their_query() {
  bounded(async {
    let next = format!("{LIST}?limit=2&offset=2&_snapshot=1733000000000000000&filter=x%20y");
    let server = Server::script(vec![
      page(&["a", "b"], Some(3), Some(&next)),
      page(&["c"], Some(3), None),
    ])
    .await;
    let client = client_for(&options(&server));
    let (keys, error) = read(&client, &mut Pager::pipelines("web").unwrap()).await;
    assert_eq!(
      (keys, error),
      (vec!["a".into(), "b".into(), "c".into()], None)
    );
    assert_eq!(
      server.lines(),
      [
        format!("GET {LIST}?limit=50&offset=0"),
        format!("GET {next}")
      ]
    );
    for request in &server.requests() {
      assert_common_headers(request);
    }
  })
  .await;
}

#[tokio::test]
async fn next_links_go_under_the_base_path_and_an_absolute_one_on_the_same_origin_is_followed() {
  bounded(async {
    let server = Server::start(|request| match request.target.as_str() {
      t if t.contains("offset=0") => {
        page(&["a"], None, Some(&format!("{LIST}?offset=1&_snapshot=9")))
      }
      t if t.contains("offset=1") => page(&["b"], None, Some("ZZZ")),
      _ => page(&[], None, None),
    })
    .await;
    // The link's path is put under the base URL's prefix; a relative link ("ZZZ") is
    // resolved against the page it came from.
    let client = client_for(&ClientOptions {
      base_url: Some(format!("{}/ld/", server.url())),
      ..options(&server)
    });
    let (keys, error) = read(&client, &mut Pager::pipelines("web").unwrap()).await;
    assert_eq!((keys, error), (vec!["a".into(), "b".into()], None));
    assert_eq!(
      server.lines(),
      [
        format!("GET /ld{LIST}?limit=50&offset=0"),
        format!("GET /ld{LIST}?offset=1&_snapshot=9"),
        "GET /ld/api/v2/projects/web/ZZZ".to_string(),
      ]
    );
    // An absolute link on the list's own origin is followed as it is.
    let server = Server::start(|request| {
      if request.target.contains("page=2") {
        page(&["b"], Some(2), None)
      } else {
        let host = request.one("host").to_string();
        page(
          &["a"],
          Some(2),
          Some(&format!("http://{host}{LIST}?page=2")),
        )
      }
    })
    .await;
    let client = client_for(&options(&server));
    let (keys, error) = read(&client, &mut Pager::pipelines("web").unwrap()).await;
    assert_eq!((keys, error), (vec!["a".into(), "b".into()], None));
    assert_eq!(server.lines()[1], format!("GET {LIST}?page=2"));
  })
  .await;
}

#[tokio::test]
async fn without_a_next_link_offsets_go_up_to_the_total() {
  bounded(async {
    let server = Server::script(vec![
      page(&["a", "b"], Some(4), None),
      page(&["c"], Some(4), None),
      page(&["d"], Some(4), None),
    ])
    .await;
    let client = client_for(&options(&server));
    let (keys, error) = read(&client, &mut Pager::pipelines("web").unwrap()).await;
    assert_eq!((keys.len(), error), (4, None));
    assert_eq!(
      server.lines(),
      [0, 2, 3].map(|offset| format!("GET {LIST}?limit=50&offset={offset}"))
    );
  })
  .await;
}

#[tokio::test]
async fn a_next_link_to_another_origin_is_refused_after_its_page() {
  bounded(async {
    let elsewhere = Server::always(Response::new(599)).await;
    for href in [
      format!(
        "{}/api/v2/steal",
        elsewhere.url().replace("127.0.0.1", "localhost")
      ),
      "https://evil.example/api/v2/projects/web/release-pipelines?offset=1".to_string(),
      "//evil.example/x".to_string(),
    ] {
      let server = Server::script(vec![page(&["a"], Some(5), Some(&href))]).await;
      let client = client_for(&options(&server));
      let (keys, error) = read(&client, &mut Pager::pipelines("web").unwrap()).await;
      assert_eq!(keys, ["a"], "the page that named it is read");
      let error = error.expect("the list fails");
      assert_eq!(error.code, ErrorCode::Decode, "{href}");
      assert!(
        error.message.contains("points to another origin"),
        "{}",
        error.message
      );
      assert!(
        error
          .message
          .contains(&format!("lists follow links only on {}", server.url())),
        "{}",
        error.message
      );
      assert_eq!(server.requests().len(), 1, "{href}");
    }
    assert!(elsewhere.requests().is_empty());
  })
  .await;
}

fn limit_refused(max: u32) -> Reply {
  Reply::Answer(Response::json(
    400,
    json!({"code": "invalid_request", "message": format!("limit must be at most {max}")}),
  ))
}

#[tokio::test]
async fn a_page_size_the_server_refuses_is_asked_for_again_once_at_its_limit() {
  bounded(async {
    let server = Server::script(vec![
      limit_refused(20),
      page(&["a"], Some(2), None),
      page(&["b"], Some(2), None),
    ])
    .await;
    let client = client_for(&options(&server));
    let (keys, error) = read(&client, &mut Pager::pipelines("web").unwrap()).await;
    assert_eq!((keys.len(), error), (2, None));
    assert_eq!(
      server.lines(),
      [
        format!("GET {LIST}?limit=50&offset=0"),
        format!("GET {LIST}?limit=20&offset=0"),
        format!("GET {LIST}?limit=20&offset=1"),
      ]
    );
    // Not twice: a second refusal is the list's error.
    let server = Server::script(vec![limit_refused(20), limit_refused(10)]).await;
    let client = client_for(&options(&server));
    let (keys, error) = read(&client, &mut Pager::pipelines("web").unwrap()).await;
    let error = error.unwrap();
    assert!(keys.is_empty());
    assert_eq!(error.code, ErrorCode::BadRequest);
    assert_eq!(
      error.api_message.as_deref(),
      Some("limit must be at most 10")
    );
    assert_eq!(server.requests().len(), 2);
    // Nor for a later page: the limit is lowered once per list.
    let server = Server::script(vec![
      limit_refused(20),
      page(&["a"], Some(2), None),
      limit_refused(5),
    ])
    .await;
    let client = client_for(&options(&server));
    let (keys, error) = read(&client, &mut Pager::pipelines("web").unwrap()).await;
    assert_eq!(keys, ["a"]);
    assert_eq!(error.unwrap().status, Some(400));
    assert_eq!(server.requests().len(), 3);
    // Another 400 is not retried.
    let server = Server::script(vec![Reply::Answer(Response::json(
      400,
      json!({"code": "invalid_request", "message": "filter is invalid"}),
    ))])
    .await;
    let client = client_for(&options(&server));
    let (_, error) = read(&client, &mut Pager::pipelines("web").unwrap()).await;
    assert_eq!(error.unwrap().code, ErrorCode::BadRequest);
    assert_eq!(server.requests().len(), 1);
  })
  .await;
}

#[tokio::test]
async fn a_server_that_ignores_the_offset_ends_the_list() {
  bounded(async {
    for total in [None, Some(1_000_000)] {
      let server = Server::always(Response::json(200, {
        let mut body = json!({"items": [{"key": "a"}, {"key": "b"}]});
        if let Some(total) = total {
          body["totalCount"] = json!(total);
        }
        body
      }))
      .await;
      let client = client_for(&options(&server));
      let (keys, error) = read(&client, &mut Pager::pipelines("web").unwrap()).await;
      assert_eq!(keys, ["a", "b"], "the repeated page is not handed on");
      let error = error.unwrap();
      assert_eq!(error.code, ErrorCode::Decode);
      assert_eq!(
        error.message,
        format!("The server's pages do not end: page 2 of the list (GET {LIST}) repeats a page already read: the server seems to ignore the offset or the next link (after 2 items); the list ends here")
      );
      assert_eq!(
        server.lines(),
        [0, 2].map(|offset| format!("GET {LIST}?limit=50&offset={offset}"))
      );
    }
    // Pages that come round again (a, b, a) end it too.
    let server = Server::script(vec![
      page(&["a"], None, None),
      page(&["b"], None, None),
      page(&["a"], None, None),
    ])
    .await;
    let (keys, error) = read(&client(&server), &mut Pager::pipelines("web").unwrap()).await;
    assert_eq!(keys, ["a", "b"]);
    assert!(error.unwrap().message.contains("page 3 of the list"));
  })
  .await;
}

#[tokio::test]
async fn a_next_link_that_repeats_one_already_followed_ends_the_list() {
  bounded(async {
    let b = format!("{LIST}?offset=1&_snapshot=5");
    let server = Server::script(vec![
      page(&["a"], None, Some(&b)),
      page(&["b"], None, Some(&b)),
    ])
    .await;
    let client = client_for(&options(&server));
    let (keys, error) = read(&client, &mut Pager::pipelines("web").unwrap()).await;
    assert_eq!(keys, ["a", "b"]);
    let error = error.unwrap();
    assert_eq!(error.code, ErrorCode::Decode);
    assert!(
      error.message.contains(&format!("the next link of page 2 of the list (GET {LIST}) names a page already read (GET {LIST}): the list ends here, after 2 items")),
      "{}",
      error.message
    );
    assert_eq!(server.requests().len(), 2);
    // A link back to the first page, asked for by offset, too.
    let first = format!("{LIST}?limit=50&offset=0");
    let server = Server::script(vec![page(&["a"], Some(9), Some(&first))]).await;
    let (keys, error) = read(&client_for(&options(&server)), &mut Pager::pipelines("web").unwrap()).await;
    assert_eq!(keys, ["a"]);
    assert!(error.unwrap().message.contains("names a page already read"));
    assert_eq!(server.requests().len(), 1);
  })
  .await;
}

#[tokio::test]
async fn a_list_past_its_page_cap_ends_with_an_error() {
  bounded(async {
    let mut n = 0;
    let server = Server::start(move |_| {
      n += 1;
      page(&[&format!("k{n}")], Some(1_000_000), None)
    })
    .await;
    let client = client_for(&options(&server));
    let mut pager = Pager::pipelines("web").unwrap().with_page_cap(3);
    let (keys, error) = read(&client, &mut pager).await;
    assert_eq!(keys, ["k1", "k2", "k3"]);
    let error = error.unwrap();
    assert_eq!(error.code, ErrorCode::Decode);
    assert!(
      error
        .message
        .contains("is still going after 3 pages (3 items), the most a list reads"),
      "{}",
      error.message
    );
    assert_eq!(server.requests().len(), 3);
    assert!(pager.is_done());
    // Ended: asking again sends nothing.
    let page = client.next_page(&mut pager, NONE).await.unwrap();
    assert!(page.items.is_empty());
    assert_eq!(server.requests().len(), 3);
  })
  .await;
}
