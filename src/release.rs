//! The `Release` model, decoded from LaunchDarkly's answers.
//!
//! Field names are the wire names. Unknown fields are ignored, so a server that adds
//! fields never breaks a client. The structs are also the TypeScript types users read.

#![allow(clippy::struct_field_names)]

use std::collections::BTreeMap;

use napi_derive::napi;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::{ErrorCode, LdError, Result};

/// A link to a related resource.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Link {
  /// The URL of the link
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub href: Option<String>,
  /// The type of the link
  #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
  #[napi(js_name = "type")]
  pub kind: Option<String>,
}

pub type Links = BTreeMap<String, Link>;

/// A release: the state of a flag's release pipeline.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Release {
  /// The location and content type of related resources
  #[serde(rename = "_links", default, skip_serializing_if = "Option::is_none")]
  #[napi(js_name = "_links")]
  pub links: Option<Links>,
  /// The release pipeline name
  pub name: String,
  /// The release pipeline key
  pub release_pipeline_key: String,
  /// The release pipeline description
  pub release_pipeline_description: String,
  /// An ordered list of the release pipeline phases
  pub phases: Vec<ReleasePhase>,
  /// The release version
  #[serde(rename = "_version")]
  #[napi(js_name = "_version")]
  pub version: i64,
  /// The chosen release variation ID to use across all phases of a release
  #[serde(
    rename = "_releaseVariationId",
    default,
    deserialize_with = "nullable",
    skip_serializing_if = "Option::is_none"
  )]
  #[napi(js_name = "_releaseVariationId", ts_type = "string | null")]
  pub release_variation_id: Option<Option<String>>,
  /// Timestamp of when the release was canceled (Unix epoch milliseconds)
  #[serde(
    rename = "_canceledAt",
    default,
    deserialize_with = "nullable_millis",
    skip_serializing_if = "Option::is_none"
  )]
  #[napi(js_name = "_canceledAt", ts_type = "number | null")]
  pub canceled_at: Option<Option<i64>>,
}

/// One phase of a release.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleasePhase {
  /// The phase ID
  #[serde(rename = "_id")]
  #[napi(js_name = "_id")]
  pub id: String,
  /// The release phase name
  #[serde(rename = "_name")]
  #[napi(js_name = "_name")]
  pub name: String,
  /// Whether this phase is complete
  pub complete: bool,
  /// Timestamp of when the release phase was created (Unix epoch milliseconds)
  #[serde(rename = "_creationDate", deserialize_with = "millis")]
  #[napi(js_name = "_creationDate")]
  pub creation_date: i64,
  /// Timestamp of when the release phase was completed (Unix epoch milliseconds)
  #[serde(
    rename = "_completionDate",
    default,
    deserialize_with = "optional_millis",
    skip_serializing_if = "Option::is_none"
  )]
  #[napi(js_name = "_completionDate")]
  pub completion_date: Option<i64>,
  /// Details about how this phase was marked as complete
  #[serde(
    rename = "_completedBy",
    default,
    skip_serializing_if = "Option::is_none"
  )]
  #[napi(js_name = "_completedBy")]
  pub completed_by: Option<CompletedBy>,
  /// A logical grouping of one or more environments that share attributes for rolling out changes
  #[serde(rename = "_audiences")]
  #[napi(js_name = "_audiences")]
  pub audiences: Vec<ReleaseAudience>,
  /// Status of the phase: NotStarted, ReadyToStart, Started, Paused or Complete
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub status: Option<String>,
  /// Whether or not this phase has started
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub started: Option<bool>,
  /// Timestamp of when the release phase was started (Unix epoch milliseconds)
  #[serde(
    rename = "_startedDate",
    default,
    deserialize_with = "optional_millis",
    skip_serializing_if = "Option::is_none"
  )]
  #[napi(js_name = "_startedDate")]
  pub started_date: Option<i64>,
  /// The phase configuration, a free-form object
  #[serde(default, skip_serializing_if = "Option::is_none")]
  #[napi(ts_type = "Record<string, unknown>")]
  pub configuration: Option<Map<String, Value>>,
}

/// Who marked a phase complete: a member or a token.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletedBy {
  /// The LaunchDarkly member who marked this phase as complete
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub member: Option<MemberSummary>,
  /// The service token used to mark this phase as complete
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub token: Option<TokenSummary>,
}

/// A LaunchDarkly account member.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberSummary {
  /// The location and content type of related resources
  #[serde(rename = "_links")]
  #[napi(js_name = "_links")]
  pub links: Links,
  /// The member's ID
  #[serde(rename = "_id")]
  #[napi(js_name = "_id")]
  pub id: String,
  /// The member's first name
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub first_name: Option<String>,
  /// The member's last name
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub last_name: Option<String>,
  /// The member's base role. If the member has no additional roles, this role will be in effect.
  pub role: String,
  /// The member's email address
  pub email: String,
}

/// An access token.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenSummary {
  /// The location and content type of related resources
  #[serde(rename = "_links", default, skip_serializing_if = "Option::is_none")]
  #[napi(js_name = "_links")]
  pub links: Option<Links>,
  /// The token's ID
  #[serde(rename = "_id", default, skip_serializing_if = "Option::is_none")]
  #[napi(js_name = "_id")]
  pub id: Option<String>,
  /// The name of the token
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub name: Option<String>,
  /// The last few characters of the token
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub ending: Option<String>,
  /// Whether this is a service token
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub service_token: Option<bool>,
}

/// An audience of a release phase: one environment and how it is rolled out.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseAudience {
  /// The audience ID
  #[serde(rename = "_id")]
  #[napi(js_name = "_id")]
  pub id: String,
  /// The location and content type of related resources
  #[serde(rename = "_links", default, skip_serializing_if = "Option::is_none")]
  #[napi(js_name = "_links")]
  pub links: Option<Links>,
  /// Details about the environment. If the environment is deleted, this field will be omitted.
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub environment: Option<EnvironmentSummary>,
  /// The release phase name
  pub name: String,
  /// The audience configuration
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub configuration: Option<AudienceConfiguration>,
  /// A list of segment keys
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub segment_keys: Option<Vec<String>>,
  /// The audience status
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub status: Option<String>,
  /// The rules IDs added or updated by this audience
  #[serde(rename = "_ruleIds", default, skip_serializing_if = "Option::is_none")]
  #[napi(js_name = "_ruleIds")]
  pub rule_ids: Option<Vec<String>>,
}

/// How an audience is released.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudienceConfiguration {
  /// The release strategy
  pub release_strategy: String,
  /// Whether or not the audience requires approval
  pub require_approval: bool,
  /// An array of member IDs. These members are notified to review the approval request.
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub notify_member_ids: Option<Vec<String>>,
  /// An array of team keys. The members of these teams are notified to review the approval request.
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub notify_team_keys: Option<Vec<String>>,
  /// The configuration for the release guardian.
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub release_guardian_configuration: Option<ReleaseGuardianConfiguration>,
}

/// Release guardian settings of an audience.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseGuardianConfiguration {
  /// The monitoring window in milliseconds
  pub monitoring_window_milliseconds: i64,
  /// The rollout weight percentage
  pub rollout_weight: i64,
  /// Whether or not to roll back on regression
  pub rollback_on_regression: bool,
  /// The randomization unit for the measured rollout
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub randomization_unit: Option<String>,
}

/// An environment, as summarised in a release.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvironmentSummary {
  /// The location and content type of related resources
  #[serde(rename = "_links")]
  #[napi(js_name = "_links")]
  pub links: Links,
  /// A project-unique key for the environment
  pub key: String,
  /// A human-friendly name for the environment
  pub name: String,
  /// The color used to indicate this environment in the UI
  pub color: String,
}

/// The body of `createRelease`: which release pipeline to attach the flag to.
#[napi(object, object_to_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateReleaseInput {
  /// The key of the release pipeline to attach the flag to
  pub release_pipeline_key: String,
  /// The variation id to release to across all phases
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub release_variation_id: Option<String>,
}

/// The body of `updatePhaseStatus` (release pipelines of the newer kind).
#[napi(object, object_to_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdatePhaseStatusInput {
  /// Status of the phase: NotStarted, ReadyToStart, Started, Paused or Complete
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub status: Option<String>,
  /// Extra configuration for audiences required upon phase initialization.
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub audiences: Option<Vec<ReleaserAudienceConfigInput>>,
}

/// Settings of one audience when a phase starts.
#[napi(object, object_to_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReleaserAudienceConfigInput {
  /// UUID of the audience.
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub audience_id: Option<String>,
  /// Optional configuration details for the specified audience. Will default to the
  /// release pipeline's audience configuration if omitted.
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub release_guardian_configuration: Option<ReleaseGuardianConfigurationInput>,
  /// An array of member IDs. These members are notified to review the approval request.
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub notify_member_ids: Option<Vec<String>>,
  /// An array of team keys. The members of these teams are notified to review the approval request.
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub notify_team_keys: Option<Vec<String>>,
}

/// Release guardian settings given when a phase starts.
#[napi(object, object_to_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReleaseGuardianConfigurationInput {
  /// The monitoring window in milliseconds
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub monitoring_window_milliseconds: Option<i64>,
  /// The rollout weight
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub rollout_weight: Option<i64>,
  /// Whether or not to rollback on regression
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub rollback_on_regression: Option<bool>,
  /// The randomization unit for the measured rollout
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub randomization_unit: Option<String>,
}

/// Decodes a 2xx body into a `Release`. The error names the field path that failed.
pub fn decode_release(body: &[u8], status: u16) -> Result<Release> {
  let fail = |what: String| LdError {
    status: Some(status),
    ..LdError::new(
      ErrorCode::Decode,
      format!("The server accepted the request (HTTP {status}) but {what}"),
    )
  };
  // The common case decodes without tracking the path; only a body that fails is
  // decoded again through serde_path_to_error, to say where it went wrong.
  if let Ok(release) = serde_json::from_slice::<Release>(body) {
    return Ok(release);
  }
  let mut de = serde_json::Deserializer::from_slice(body);
  let release: Release = serde_path_to_error::deserialize(&mut de).map_err(|err| {
    let mut path = err.path().to_string();
    let inner = err.into_inner();
    // A missing field is reported at its parent: name the field itself.
    let text = inner.to_string();
    if let Some(field) = text
      .strip_prefix("missing field `")
      .and_then(|rest| rest.split_once('`'))
      .map(|(field, _)| field)
    {
      path = if path == "." || path.is_empty() {
        field.to_string()
      } else {
        format!("{path}.{field}")
      };
    }
    if inner.is_syntax() || inner.is_eof() {
      fail(format!("its body is not valid JSON ({inner})"))
    } else if path == "." || path.is_empty() {
      fail(format!(
        "its body does not match the Release schema: {inner}"
      ))
    } else {
      fail(format!(
        "its body does not match the Release schema at {path}: {inner}"
      ))
    }
  })?;
  de.end()
    .map_err(|e| fail(format!("its body is not valid JSON ({e})")))?;
  Ok(release)
}

fn nullable<'de, D, T>(de: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
  D: Deserializer<'de>,
  T: Deserialize<'de>,
{
  Option::<T>::deserialize(de).map(Some)
}

/// An epoch-millisecond value: an integer, or an integer in a string (as the API's own
/// examples show them).
#[derive(Deserialize)]
#[serde(untagged)]
enum MillisRepr {
  Int(i64),
  Float(f64),
  Text(String),
}

impl MillisRepr {
  fn into_millis<E: serde::de::Error>(self) -> std::result::Result<i64, E> {
    match self {
      MillisRepr::Int(n) => Ok(n),
      MillisRepr::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
      MillisRepr::Float(f) => Err(E::custom(format!("expected epoch milliseconds, got {f}"))),
      MillisRepr::Text(s) => s
        .trim()
        .parse::<i64>()
        .map_err(|_| E::custom(format!("expected epoch milliseconds, got {s:?}"))),
    }
  }
}

fn millis<'de, D: Deserializer<'de>>(de: D) -> std::result::Result<i64, D::Error> {
  MillisRepr::deserialize(de)?.into_millis()
}

fn optional_millis<'de, D: Deserializer<'de>>(de: D) -> std::result::Result<Option<i64>, D::Error> {
  Option::<MillisRepr>::deserialize(de)?
    .map(MillisRepr::into_millis)
    .transpose()
}

fn nullable_millis<'de, D: Deserializer<'de>>(
  de: D,
) -> std::result::Result<Option<Option<i64>>, D::Error> {
  optional_millis(de).map(Some)
}

#[cfg(test)]
mod tests {
  use super::*;
  use serde_json::json;

  fn phase(id: &str) -> Value {
    json!({
      "_id": id, "_name": "Testing", "complete": false, "_creationDate": 1684262711507_i64,
      "_audiences": [{
        "_id": "aud1", "name": "Testing",
        "environment": {"_links": {"site": {"href": "/e", "type": "text/html"}}, "key": "test", "name": "Test", "color": "f5a623"},
        "configuration": {"releaseStrategy": "guarded-rollout", "requireApproval": true,
          "notifyMemberIds": ["m1"], "notifyTeamKeys": [],
          "releaseGuardianConfiguration": {"monitoringWindowMilliseconds": 3600000, "rolloutWeight": 50,
            "rollbackOnRegression": true, "randomizationUnit": "user"}},
        "segmentKeys": ["beta"], "status": "active", "_ruleIds": ["r1"]
      }]
    })
  }

  fn release(phases: Vec<Value>) -> Value {
    json!({
      "_links": {"self": {"href": "/api/v2/flags/p/f/release", "type": "application/json"}},
      "name": "Standard", "releasePipelineKey": "standard", "releasePipelineDescription": "",
      "phases": phases, "_version": 3, "_releaseVariationId": null
    })
  }

  fn decode(value: &Value) -> Result<Release> {
    decode_release(value.to_string().as_bytes(), 200)
  }

  #[test]
  fn decodes_a_full_release() {
    let mut p = phase("p1");
    p["_completionDate"] = json!("1684262711509");
    p["_completedBy"] = json!({
      "member": {"_links": {}, "_id": "m1", "firstName": "Ada", "role": "admin", "email": "ada@example.com"},
      "token": {"name": "CI", "ending": "2345", "serviceToken": true}
    });
    p["configuration"] = json!({"anything": [1, 2]});
    p["status"] = json!("Complete");
    let r = decode(&release(vec![p, phase("p2")])).unwrap();
    assert_eq!(r.version, 3);
    assert_eq!(r.release_variation_id, Some(None));
    assert_eq!(r.canceled_at, None);
    assert_eq!(r.phases[0].completion_date, Some(1_684_262_711_509));
    let by = r.phases[0].completed_by.as_ref().unwrap();
    assert_eq!(by.member.as_ref().unwrap().email, "ada@example.com");
    assert_eq!(by.token.as_ref().unwrap().service_token, Some(true));
    let guardian = r.phases[0].audiences[0]
      .configuration
      .as_ref()
      .unwrap()
      .release_guardian_configuration
      .as_ref()
      .unwrap();
    assert_eq!(guardian.monitoring_window_milliseconds, 3_600_000);
    assert_eq!(
      r.phases[0].configuration.as_ref().unwrap()["anything"],
      json!([1, 2])
    );
  }

  #[test]
  fn round_trips_wire_names_and_keeps_null() {
    let input = release(vec![phase("p1")]);
    let r = decode(&input).unwrap();
    let out = serde_json::to_value(&r).unwrap();
    assert_eq!(out["_releaseVariationId"], Value::Null);
    assert!(out.get("_canceledAt").is_none());
    assert_eq!(out["phases"][0]["_audiences"][0]["_ruleIds"], json!(["r1"]));
    assert_eq!(out, input);
  }

  #[test]
  fn ignores_unknown_fields() {
    let mut input = release(vec![phase("p1")]);
    input["brandNew"] = json!({"x": 1});
    input["phases"][0]["futureField"] = json!(true);
    assert!(decode(&input).is_ok());
  }

  #[test]
  fn names_the_field_that_fails() {
    let mut bad = phase("p2");
    bad.as_object_mut().unwrap().remove("_id");
    let err = decode(&release(vec![phase("p1"), bad])).unwrap_err();
    assert_eq!(err.code, ErrorCode::Decode);
    assert_eq!(err.status, Some(200));
    assert!(err.message.contains("at phases[1]._id:"), "{}", err.message);
    assert!(
      err.message.contains("accepted the request"),
      "{}",
      err.message
    );

    let mut wrong = release(vec![phase("p1")]);
    wrong["phases"][0]["_creationDate"] = json!("yesterday");
    let err = decode(&wrong).unwrap_err();
    assert!(
      err.message.contains("phases[0]._creationDate"),
      "{}",
      err.message
    );

    let mut missing = release(vec![]);
    missing.as_object_mut().unwrap().remove("name");
    let err = decode(&missing).unwrap_err();
    assert!(err.message.contains("at name:"), "{}", err.message);
  }

  #[test]
  fn rejects_non_json() {
    for body in [&b"<html>ok</html>"[..], b"", b"{\"name\":", b"{} trailing"] {
      let err = decode_release(body, 200).unwrap_err();
      assert_eq!(err.code, ErrorCode::Decode, "{body:?}");
    }
  }
}
