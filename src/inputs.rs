//! The bodies callers send, as JavaScript types: each struct is the TypeScript type (with
//! its doc comments), and its serde derive is the validation (unknown members refused,
//! the path of a wrong one named). The core sends them as they are.

use napi_derive::napi;
use serde::{Deserialize, Serialize};

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
  /// The status to set. LaunchDarkly accepts only `active` (any case): it starts the
  /// phase and completes every phase before it. Sent as given.
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

/// The body of `createReleasePipeline`.
#[napi(object, object_to_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateReleasePipelineInput {
  /// The unique key of the release pipeline
  pub key: String,
  /// The name of the release pipeline
  pub name: String,
  /// The release pipeline description
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub description: Option<String>,
  /// The phases, in order: each a logical grouping of environments
  pub phases: Vec<CreatePhaseInput>,
  /// A list of tags for this release pipeline
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub tags: Option<Vec<String>>,
  /// Whether the new pipeline becomes the project's default
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub is_project_default: Option<bool>,
  /// `true` for a legacy pipeline (phases completed with the JSON Patch); new pipelines
  /// move phases by starting them
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub is_legacy: Option<bool>,
}

/// The body of `updateReleasePipeline`.
#[napi(object, object_to_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateReleasePipelineInput {
  /// The name of the release pipeline
  pub name: String,
  /// The release pipeline description
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub description: Option<String>,
  /// The phases, in order
  pub phases: Vec<CreatePhaseInput>,
  /// A list of tags for this release pipeline
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub tags: Option<Vec<String>>,
}

/// One phase of a pipeline being created or updated.
#[napi(object, object_to_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreatePhaseInput {
  /// The phase name
  pub name: String,
  /// The audiences of the phase, in order: one environment each
  pub audiences: Vec<AudienceInput>,
  /// The phase configuration, a free-form object
  #[serde(default, skip_serializing_if = "Option::is_none")]
  #[napi(ts_type = "Record<string, unknown>")]
  pub configuration: Option<serde_json::Value>,
}

/// One audience of a phase being created or updated.
#[napi(object, object_to_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AudienceInput {
  /// The key of the environment
  pub environment_key: String,
  /// The audience name
  pub name: String,
  /// Segments targeted by this audience
  #[serde(default, skip_serializing_if = "Option::is_none")]
  pub segment_keys: Option<Vec<String>>,
  /// How the audience is released (`releaseStrategy`, `requireApproval`, ...)
  #[serde(default, skip_serializing_if = "Option::is_none")]
  #[napi(ts_type = "Record<string, unknown>")]
  pub configuration: Option<serde_json::Value>,
}
