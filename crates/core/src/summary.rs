//! A release pipeline's progressions counted in one request.
//!
//! A page of `GET /api/v2/projects/{projectKey}/release-pipelines/{pipelineKey}/releases`
//! carries, besides its items, the counts of the whole list: `totalCount`, `activeCount`,
//! `completedCount`, and per phase of the pipeline `phases[].releaseCount` (releases
//! active at it). A page of one item (`limit=1`) is enough to read them.

use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::{Client, PreparedRequest};
use crate::config::{validate_key, ClientConfig, RequestOptions};
use crate::error::Result;
use crate::release::Release;

/// The counts of a pipeline's progressions, as JavaScript receives them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ProgressionSummary {
  #[serde(rename = "totalCount")]
  pub total_count: u64,
  #[serde(rename = "activeCount")]
  pub active_count: u64,
  #[serde(rename = "completedCount")]
  pub completed_count: u64,
  pub phases: Vec<PhaseCount>,
}

/// How many releases are active at one phase of the pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct PhaseCount {
  #[serde(rename = "_id")]
  pub id: String,
  pub name: String,
  #[serde(rename = "releaseCount")]
  pub release_count: u64,
}

impl PreparedRequest {
  /// `GET …/release-pipelines/{pipelineKey}/releases?limit=1&offset=0`: the one page whose
  /// counts make the summary.
  pub fn progression_summary(
    config: &ClientConfig,
    project_key: &str,
    pipeline_key: &str,
  ) -> Result<Self> {
    validate_key("projectKey", project_key)?;
    validate_key("pipelineKey", pipeline_key)?;
    let mut url = config.url_for(&[
      "api",
      "v2",
      "projects",
      project_key,
      "release-pipelines",
      pipeline_key,
      "releases",
    ]);
    url.set_query(Some("limit=1&offset=0"));
    Ok(PreparedRequest {
      method: Method::GET,
      url,
      body: None,
    })
  }
}

impl ProgressionSummary {
  /// The counts of a progressions page. Fails with `ERR_LD_DECODE` naming the field the
  /// page lacks (`activeCount`, `phases[1].releaseCount`).
  pub fn from_page(page: &Release) -> Result<Self> {
    page.parse("progressions page")
  }
}

impl Client {
  /// The counts of a pipeline's progressions, from one request (see the module
  /// documentation).
  pub async fn progression_summary(
    &self,
    project_key: &str,
    pipeline_key: &str,
    options: RequestOptions,
  ) -> Result<ProgressionSummary> {
    let request = PreparedRequest::progression_summary(self.config(), project_key, pipeline_key)?;
    let page = self.send_release(request, options).await?;
    ProgressionSummary::from_page(&page).map_err(|e| self.mask_error(e))
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::error::ErrorCode;

  fn page(body: serde_json::Value) -> Release {
    Release::from_body(body.to_string().into_bytes(), 200).unwrap()
  }

  #[test]
  fn the_counts_come_from_the_page() {
    let summary = ProgressionSummary::from_page(&page(serde_json::json!({
      "items": [{"flagKey": "a"}], "totalCount": 5, "activeCount": 3, "completedCount": 2,
      "phases": [{"_id": "p1", "name": "QA", "releaseCount": 1, "new": true},
                 {"_id": "p2", "name": "Prod", "releaseCount": 2}],
      "_links": {}
    })))
    .unwrap();
    assert_eq!(
      summary,
      ProgressionSummary {
        total_count: 5,
        active_count: 3,
        completed_count: 2,
        phases: vec![
          PhaseCount {
            id: "p1".into(),
            name: "QA".into(),
            release_count: 1
          },
          PhaseCount {
            id: "p2".into(),
            name: "Prod".into(),
            release_count: 2
          },
        ],
      }
    );
    assert_eq!(
      serde_json::to_string(&summary.phases[0]).unwrap(),
      r#"{"_id":"p1","name":"QA","releaseCount":1}"#
    );
  }

  #[test]
  fn a_page_without_the_counts_is_a_decode_error_naming_the_field() {
    let error = ProgressionSummary::from_page(&page(serde_json::json!({
      "items": [], "totalCount": 0, "completedCount": 0, "phases": []
    })))
    .unwrap_err();
    assert_eq!(error.code, ErrorCode::Decode);
    assert!(error.message.contains("activeCount"), "{}", error.message);
    let error = ProgressionSummary::from_page(&page(serde_json::json!({
      "items": [], "totalCount": 0, "activeCount": 0, "completedCount": 0,
      "phases": [{"_id": "p1", "name": "QA"}]
    })))
    .unwrap_err();
    assert!(
      error.message.contains("phases[0].releaseCount"),
      "{}",
      error.message
    );
  }
}
