//! Environment releases (beta) and release policies (beta), LaunchDarkly's successors
//! of release pipelines (spec v25): requests, the checks a start passes before it is
//! sent, and a start that is never sent twice.
//!
//! An environment release is a release of one flag in one environment: phases (each a
//! flag rule) whose steps move traffic to the target variation. Every request carries
//! the client's one `LD-API-Version: beta`.
//!
//! **A start is not idempotent.** It is sent once; it is resent only when it certainly
//! did not reach the server (a connection that could not be made, a 429). When it may
//! have reached the server and no answer came (a timeout after sending, a dropped
//! connection, a 5xx), the flag's releases in the environment are listed (one page of
//! 100, newest first): a release created since the start was sent (less
//! `CLOCK_SKEW_MS`) that matches the request resolves the call; otherwise it fails with
//! `ERR_LD_OUTCOME_UNKNOWN`, which says how to check.

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::{Map, Value};

use crate::client::{Client, PreparedRequest};
use crate::config::{validate_key, ClientConfig, RequestOptions};
use crate::error::{ErrorCode, LdError, Result};
use crate::release::{decode_error, Release};

/// The four ways to stop a release.
pub const RESOLUTIONS: [&str; 4] = [
  "roll_forward_all_phases",
  "roll_forward_current_phase_and_remove_pending_phases",
  "roll_back_all_phases_and_remove_pending_phases",
  "roll_back_current_phase_and_remove_pending_phases",
];

/// The `code` of a start refused because a release of the flag is already running.
pub const RELEASE_ALREADY_ACTIVE: &str = "release_already_active";
/// The `code` of a start refused by its health checks.
pub const HEALTH_CHECKS_FAILED: &str = "health_checks_failed";
/// The health check kinds LaunchDarkly documents.
pub const HEALTH_CHECK_KINDS: [&str; 4] = [
  "flag_evaluations_any",
  "flag_evaluations_with_context",
  "metric_events_any",
  "metric_events_with_context",
];

/// How far LaunchDarkly's clock may be behind this machine's when a start that got no
/// answer is looked for: a release whose `createdAt` is at most this much before the
/// start was sent still counts as made by it. Two minutes covers clocks kept by NTP
/// with room to spare, and is short enough that a release someone else started with the
/// same variations and phases just before is not mistaken for this one.
pub const CLOCK_SKEW_MS: u64 = 120_000;
/// Releases read when looking for a start that got no answer (LaunchDarkly's maximum).
pub const RECOVERY_PAGE_SIZE: u32 = 100;
/// The largest allocation a guarded release may reach: 50%, in thousandths of a percent.
pub const MAX_GUARDED_ALLOCATION: u64 = 50_000;
/// 100%, in thousandths of a percent.
pub const MAX_ALLOCATION: u64 = 100_000;

/// `/api/v2/projects/{projectKey}/flags/{flagKey}/environments/{environmentKey}/releases`
fn releases_path<'a>(project: &'a str, flag: &'a str, environment: &'a str) -> Vec<&'a str> {
  vec![
    "api",
    "v2",
    "projects",
    project,
    "flags",
    flag,
    "environments",
    environment,
    "releases",
  ]
}

/// `/api/v2/projects/{projectKey}/release-policies`
fn policies_path(project: &str) -> Vec<&str> {
  vec!["api", "v2", "projects", project, "release-policies"]
}

/// The flag and environment of a release, each key checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseTarget {
  pub project_key: String,
  pub flag_key: String,
  pub environment_key: String,
}

impl ReleaseTarget {
  pub fn new(project_key: &str, flag_key: &str, environment_key: &str) -> Result<Self> {
    validate_key("projectKey", project_key)?;
    validate_key("flagKey", flag_key)?;
    validate_key("environmentKey", environment_key)?;
    Ok(ReleaseTarget {
      project_key: project_key.to_string(),
      flag_key: flag_key.to_string(),
      environment_key: environment_key.to_string(),
    })
  }

  fn path(&self) -> Vec<&str> {
    releases_path(&self.project_key, &self.flag_key, &self.environment_key)
  }

  /// `project/flag` in `environment`, for messages.
  fn describe(&self) -> String {
    format!(
      "{}/{} in {}",
      self.project_key, self.flag_key, self.environment_key
    )
  }
}

fn json_body(value: &Value) -> Result<Vec<u8>> {
  serde_json::to_vec(value)
    .map_err(|e| LdError::invalid(format!("the request body could not be encoded: {e}")))
}

impl PreparedRequest {
  /// `GET …/environments/{environmentKey}/releases/{releaseId}`, with `expand=metrics`
  /// when `expand_metrics`.
  pub fn environment_release(
    config: &ClientConfig,
    target: &ReleaseTarget,
    release_id: &str,
    expand_metrics: bool,
  ) -> Result<Self> {
    validate_key("releaseId", release_id)?;
    let mut segments = target.path();
    segments.push(release_id);
    let mut url = config.url_for(&segments);
    if expand_metrics {
      url.set_query(Some("expand=metrics"));
    }
    Ok(PreparedRequest {
      method: Method::GET,
      url,
      body: None,
    })
  }

  /// `PUT …/releases/{releaseId}/stop` with `{ resolution, comment? }`; the resolution
  /// must be one of `RESOLUTIONS`.
  pub fn stop_environment_release(
    config: &ClientConfig,
    target: &ReleaseTarget,
    release_id: &str,
    resolution: &str,
    comment: Option<&str>,
  ) -> Result<Self> {
    validate_key("releaseId", release_id)?;
    if !RESOLUTIONS.contains(&resolution) {
      return Err(LdError::invalid(format!(
        "resolution must be one of {}, got {resolution:?}",
        RESOLUTIONS.join(", ")
      )));
    }
    let mut body = Map::new();
    body.insert("resolution".into(), resolution.into());
    if let Some(comment) = comment {
      body.insert("comment".into(), comment.into());
    }
    let mut segments = target.path();
    segments.extend([release_id, "stop"]);
    Ok(PreparedRequest {
      method: Method::PUT,
      url: config.url_for(&segments),
      body: Some(json_body(&Value::Object(body))?),
    })
  }

  /// `GET …/releases?limit=100`: the newest releases of the flag in the environment,
  /// as read to find a start that got no answer.
  pub fn recent_environment_releases(config: &ClientConfig, target: &ReleaseTarget) -> Self {
    let mut url = config.url_for(&target.path());
    url.set_query(Some(&format!("limit={RECOVERY_PAGE_SIZE}")));
    PreparedRequest {
      method: Method::GET,
      url,
      body: None,
    }
  }

  /// `GET /api/v2/projects/{projectKey}/release-policies`.
  pub fn release_policies(config: &ClientConfig, project_key: &str) -> Result<Self> {
    validate_key("projectKey", project_key)?;
    Ok(PreparedRequest {
      method: Method::GET,
      url: config.url_for(&policies_path(project_key)),
      body: None,
    })
  }

  /// `POST /api/v2/projects/{projectKey}/release-policies` with `input` (an object
  /// with a non-empty `key`).
  pub fn create_release_policy(
    config: &ClientConfig,
    project_key: &str,
    input: &Value,
  ) -> Result<Self> {
    validate_key("projectKey", project_key)?;
    policy_input("input", input, true)?;
    Ok(PreparedRequest {
      method: Method::POST,
      url: config.url_for(&policies_path(project_key)),
      body: Some(json_body(input)?),
    })
  }

  /// `GET`, `PUT` (with `input`) or `DELETE` on
  /// `/api/v2/projects/{projectKey}/release-policies/{policyKey}`.
  pub fn release_policy(
    config: &ClientConfig,
    method: Method,
    project_key: &str,
    policy_key: &str,
    input: Option<&Value>,
  ) -> Result<Self> {
    validate_key("projectKey", project_key)?;
    validate_key("policyKey", policy_key)?;
    if let Some(input) = input {
      policy_input("input", input, false)?;
    }
    let mut segments = policies_path(project_key);
    segments.push(policy_key);
    Ok(PreparedRequest {
      method,
      url: config.url_for(&segments),
      body: input.map(json_body).transpose()?,
    })
  }

  /// `POST /api/v2/projects/{projectKey}/release-policies/order` with the keys, in rank
  /// order (every scoped policy of the project), each non-empty and named once.
  pub fn reorder_release_policies(
    config: &ClientConfig,
    project_key: &str,
    keys: &[String],
  ) -> Result<Self> {
    validate_key("projectKey", project_key)?;
    for (index, key) in keys.iter().enumerate() {
      validate_key(&format!("keys[{index}]"), key)?;
      if keys[..index].contains(key) {
        return Err(LdError::invalid(format!(
          "keys[{index}]: {key:?} is named twice"
        )));
      }
    }
    let mut segments = policies_path(project_key);
    segments.push("order");
    Ok(PreparedRequest {
      method: Method::POST,
      url: config.url_for(&segments),
      body: Some(json_body(&Value::from(keys.to_vec()))?),
    })
  }
}

/// Checks the body of a policy create (`with_key`) or update: an object whose `name`
/// and `releaseMethod` (and for a create, `key`) are non-empty strings. The rest is
/// LaunchDarkly's to judge.
fn policy_input(name: &str, input: &Value, with_key: bool) -> Result<()> {
  let Some(map) = input.as_object() else {
    return Err(LdError::invalid(format!("{name} must be an object")));
  };
  let required: &[&str] = if with_key {
    &["key", "name", "releaseMethod"]
  } else {
    &["name", "releaseMethod"]
  };
  for field in required {
    match map.get(*field) {
      Some(Value::String(s)) if !s.is_empty() => {}
      Some(_) => {
        return Err(LdError::invalid(format!(
          "{name}.{field} must be a non-empty string"
        )))
      }
      None => return Err(LdError::invalid(format!("{name}.{field} is required"))),
    }
  }
  if !with_key && map.contains_key("key") {
    return Err(LdError::invalid(format!(
      "{name}.key cannot be changed: the policy's key is in the path"
    )));
  }
  Ok(())
}

// ---------------------------------------------------------------------------------------
// Starting a release
// ---------------------------------------------------------------------------------------

/// The fields of `StartEnvironmentReleaseRequest`.
const START_FIELDS: [&str; 11] = [
  "originalVariationId",
  "targetVariationId",
  "beforeRuleId",
  "releasePlanKey",
  "randomizationUnit",
  "advancementMode",
  "phases",
  "metrics",
  "bypassHealthChecks",
  "cleanupBehavior",
  "comment",
];
/// The fields a release plan supplies: a start from a plan sets none of them.
const PLAN_FIELDS: [&str; 5] = [
  "randomizationUnit",
  "phases",
  "metrics",
  "advancementMode",
  "cleanupBehavior",
];
const PHASE_FIELDS: [&str; 4] = ["ruleId", "clauses", "description", "steps"];
const CLAUSE_FIELDS: [&str; 5] = ["contextKind", "attribute", "op", "values", "negate"];
const STEP_FIELDS: [&str; 2] = ["allocation", "durationMillis"];
const METRIC_FIELDS: [&str; 2] = ["metricKey", "autoRollback"];

/// What a start asked for, to recognise the release it made among the flag's releases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
  original_variation_id: String,
  target_variation_id: String,
  /// Unset for a start from a release plan, which supplies the rest.
  inline: Option<ExpectedInline>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ExpectedInline {
  randomization_unit: String,
  phases: Vec<ExpectedPhase>,
  /// Metric keys, sorted.
  metrics: Vec<String>,
  /// Only for a multi-phase release (a single-phase one ignores it).
  advancement_mode: Option<String>,
  cleanup_behavior: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct ExpectedPhase {
  rule_id: Option<String>,
  description: Option<String>,
  /// (allocation, durationMillis) of each step.
  steps: Vec<(u64, u64)>,
}

/// A start, checked and ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct StartRelease {
  pub target: ReleaseTarget,
  pub request: PreparedRequest,
  expected: Expected,
}

impl StartRelease {
  /// Checks `input` (named `name` in errors, e.g. `input.phases[1].steps[0].allocation`)
  /// and builds the `POST …/releases`. Every new-rule phase that lacks the clause
  /// limiting it to the randomization unit's context kind gets it, first among its
  /// clauses (see `kind_clause`).
  pub fn new(
    config: &ClientConfig,
    target: ReleaseTarget,
    name: &str,
    input: &Value,
  ) -> Result<Self> {
    let (body, expected) = start_body(name, input)?;
    let request = PreparedRequest {
      method: Method::POST,
      url: config.url_for(&target.path()),
      body: Some(json_body(&body)?),
    };
    Ok(StartRelease {
      target,
      request,
      expected,
    })
  }

  /// Whether `release` (an item of the flag's releases) is what this start made, were
  /// it created at or after `since_ms` (Unix milliseconds).
  pub fn matches(&self, release: &Value, since_ms: u64) -> bool {
    let created = release.get("createdAt").and_then(millis);
    if created.is_none_or(|created| created < since_ms) {
      return false;
    }
    let text = |field: &str| release.get(field).and_then(Value::as_str);
    let expected = &self.expected;
    if text("originalVariationId") != Some(expected.original_variation_id.as_str())
      || text("targetVariationId") != Some(expected.target_variation_id.as_str())
    {
      return false;
    }
    let Some(inline) = &expected.inline else {
      return true;
    };
    if text("randomizationUnit") != Some(inline.randomization_unit.as_str()) {
      return false;
    }
    if let Some(mode) = &inline.advancement_mode {
      if text("advancementMode") != Some(mode.as_str()) {
        return false;
      }
    }
    if text("cleanupBehavior").is_some_and(|c| c != inline.cleanup_behavior) {
      return false;
    }
    let mut metrics: Vec<&str> = release
      .get("metrics")
      .and_then(Value::as_array)
      .map(|m| {
        m.iter()
          .filter_map(|m| m.get("metricKey")?.as_str())
          .collect()
      })
      .unwrap_or_default();
    metrics.sort_unstable();
    if metrics != inline.metrics {
      return false;
    }
    let Some(phases) = release.get("phases").and_then(Value::as_array) else {
      return false;
    };
    phases.len() == inline.phases.len()
      && phases
        .iter()
        .zip(&inline.phases)
        .all(|(phase, expected)| phase_matches(phase, expected))
  }
}

fn phase_matches(phase: &Value, expected: &ExpectedPhase) -> bool {
  if let Some(rule) = &expected.rule_id {
    if phase.get("ruleId").and_then(Value::as_str) != Some(rule.as_str()) {
      return false;
    }
  }
  if let Some(description) = &expected.description {
    let sent = phase.get("description").and_then(Value::as_str);
    if sent.is_some_and(|sent| sent != description) {
      return false;
    }
  }
  let Some(steps) = phase.get("steps").and_then(Value::as_array) else {
    return false;
  };
  steps.len() == expected.steps.len()
    && steps.iter().zip(&expected.steps).all(|(step, (a, d))| {
      step.get("allocation").and_then(millis) == Some(*a)
        && step.get("durationMillis").and_then(millis) == Some(*d)
    })
}

/// A number of milliseconds (or thousandths): an integer, or a string of one.
fn millis(value: &Value) -> Option<u64> {
  match value {
    Value::Number(n) => n.as_u64(),
    Value::String(s) => s.trim().parse().ok(),
    _ => None,
  }
}

/// The clause that limits a rule to contexts of kind `unit`.
pub fn kind_clause(unit: &str) -> Value {
  serde_json::json!({
    "contextKind": unit,
    "attribute": "kind",
    "op": "in",
    "values": [unit],
  })
}

/// Whether `clause` is exactly the kind clause of `unit` (not negated, no other value).
fn is_kind_clause(clause: &Map<String, Value>, unit: &str) -> bool {
  clause.get("contextKind").and_then(Value::as_str) == Some(unit)
    && clause.get("attribute").and_then(Value::as_str) == Some("kind")
    && clause.get("op").and_then(Value::as_str) == Some("in")
    && clause.get("values") == Some(&Value::from(vec![unit]))
    && !clause
      .get("negate")
      .and_then(Value::as_bool)
      .unwrap_or(false)
}

/// An object's members, with `null` members dropped (LaunchDarkly reads them as
/// absent), every member checked to be one of `known`.
fn object(path: &str, value: &Value, known: &[&str]) -> Result<Map<String, Value>> {
  let Some(map) = value.as_object() else {
    return Err(LdError::invalid(format!(
      "{path} must be an object, got {}",
      json_type(value)
    )));
  };
  let mut out = Map::new();
  for (key, member) in map {
    if !known.contains(&key.as_str()) {
      let shown: String = key.chars().take(40).collect();
      return Err(LdError::invalid(format!(
        "{path}.{shown} is not a field here; the fields are {}",
        known.join(", ")
      )));
    }
    if !member.is_null() {
      out.insert(key.clone(), member.clone());
    }
  }
  Ok(out)
}

fn json_type(value: &Value) -> &'static str {
  match value {
    Value::Null => "null",
    Value::Bool(_) => "a boolean",
    Value::Number(_) => "a number",
    Value::String(_) => "a string",
    Value::Array(_) => "an array",
    Value::Object(_) => "an object",
  }
}

/// A member that must be a non-empty string, when present.
fn text_member<'a>(map: &'a Map<String, Value>, path: &str, key: &str) -> Result<Option<&'a str>> {
  match map.get(key) {
    None => Ok(None),
    Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s)),
    Some(other) => Err(LdError::invalid(format!(
      "{path}.{key} must be a non-empty string, got {}",
      match other {
        Value::String(_) => "an empty string",
        other => json_type(other),
      }
    ))),
  }
}

fn required_text<'a>(map: &'a Map<String, Value>, path: &str, key: &str) -> Result<&'a str> {
  text_member(map, path, key)?.ok_or_else(|| LdError::invalid(format!("{path}.{key} is required")))
}

/// A member that must be an array, when present.
fn array_member<'a>(
  map: &'a Map<String, Value>,
  path: &str,
  key: &str,
) -> Result<Option<&'a Vec<Value>>> {
  match map.get(key) {
    None => Ok(None),
    Some(Value::Array(items)) => Ok(Some(items)),
    Some(other) => Err(LdError::invalid(format!(
      "{path}.{key} must be an array, got {}",
      json_type(other)
    ))),
  }
}

/// A member that must be one of `words`, when present.
fn word_member<'a>(
  map: &'a Map<String, Value>,
  path: &str,
  key: &str,
  words: &[&str],
) -> Result<Option<&'a str>> {
  let Some(value) = text_member(map, path, key)? else {
    return Ok(None);
  };
  if words.contains(&value) {
    Ok(Some(value))
  } else {
    Err(LdError::invalid(format!(
      "{path}.{key} must be one of {}, got {value:?}",
      words.join(", ")
    )))
  }
}

/// A whole number in `min..=max`.
fn integer_in(value: &Value, path: &str, min: u64, max: u64) -> Result<u64> {
  match value.as_u64() {
    Some(n) if (min..=max).contains(&n) => Ok(n),
    _ => Err(LdError::invalid(format!(
      "{path} must be a whole number from {min} to {max}, got {value}"
    ))),
  }
}

/// Checks a start's body and returns it as it is sent (null members dropped, kind
/// clauses added), with what the start expects to make.
fn start_body(name: &str, input: &Value) -> Result<(Value, Expected)> {
  let mut body = object(name, input, &START_FIELDS)?;
  let original = required_text(&body, name, "originalVariationId")?.to_string();
  let target = required_text(&body, name, "targetVariationId")?.to_string();
  if original == target {
    return Err(LdError::invalid(format!(
      "{name}.targetVariationId must differ from originalVariationId: a release moves traffic from one variation to another"
    )));
  }
  text_member(&body, name, "beforeRuleId")?;
  text_member(&body, name, "releasePlanKey")?;
  if let Some(comment) = body.get("comment") {
    if !comment.is_string() {
      return Err(LdError::invalid(format!(
        "{name}.comment must be a string, got {}",
        json_type(comment)
      )));
    }
  }
  if let Some(checks) = array_member(&body, name, "bypassHealthChecks")? {
    for (index, check) in checks.iter().enumerate() {
      if check.as_str().is_none_or(|c| c.trim().is_empty()) {
        return Err(LdError::invalid(format!(
          "{name}.bypassHealthChecks[{index}] must be a health check kind ({}), got {}",
          HEALTH_CHECK_KINDS.join(", "),
          json_type(check)
        )));
      }
    }
  }
  if body.contains_key("releasePlanKey") {
    if let Some(field) = PLAN_FIELDS.iter().find(|f| body.contains_key(**f)) {
      return Err(LdError::invalid(format!(
        "{name}.{field} cannot be set with releasePlanKey: the release plan supplies it (LaunchDarkly refuses the start)"
      )));
    }
    let expected = Expected {
      original_variation_id: original,
      target_variation_id: target,
      inline: None,
    };
    return Ok((Value::Object(body), expected));
  }
  let unit = text_member(&body, name, "randomizationUnit")?
    .ok_or_else(|| {
      LdError::invalid(format!(
        "{name}.randomizationUnit is required (the context kind the release randomizes on, e.g. 'user'), unless releasePlanKey is set"
      ))
    })?
    .to_string();
  let mode = word_member(&body, name, "advancementMode", &["manual", "automatic"])?;
  let cleanup = word_member(
    &body,
    name,
    "cleanupBehavior",
    &[
      "remove_rules_and_update_default_rule",
      "leave_rules_in_place",
    ],
  )?
  .unwrap_or("leave_rules_in_place")
  .to_string();
  let metrics = metric_keys(&body, name)?;
  let guarded = !metrics.is_empty();
  let Some(phases) = array_member(&body, name, "phases")? else {
    return Err(LdError::invalid(format!(
      "{name}.phases is required (at least one phase), unless releasePlanKey is set"
    )));
  };
  if phases.is_empty() {
    return Err(LdError::invalid(format!(
      "{name}.phases must have at least one phase"
    )));
  }
  let many = phases.len() > 1;
  if many && mode.is_none() {
    return Err(LdError::invalid(format!(
      "{name}.advancementMode is required with more than one phase: 'automatic' or 'manual'"
    )));
  }
  let advancement_mode = mode.filter(|_| many).map(str::to_string);
  let mut sent = Vec::with_capacity(phases.len());
  let mut expected_phases = Vec::with_capacity(phases.len());
  for (index, phase) in phases.iter().enumerate() {
    let path = format!("{name}.phases[{index}]");
    let (phase, expected) = start_phase(&path, phase, &unit, guarded, many)?;
    sent.push(phase);
    expected_phases.push(expected);
  }
  body.insert("phases".into(), Value::Array(sent));
  let expected = Expected {
    original_variation_id: original,
    target_variation_id: target,
    inline: Some(ExpectedInline {
      randomization_unit: unit,
      phases: expected_phases,
      metrics,
      advancement_mode,
      cleanup_behavior: cleanup,
    }),
  };
  Ok((Value::Object(body), expected))
}

/// The metric keys of a start, sorted; each metric checked.
fn metric_keys(body: &Map<String, Value>, name: &str) -> Result<Vec<String>> {
  let Some(metrics) = array_member(body, name, "metrics")? else {
    return Ok(Vec::new());
  };
  let mut keys = Vec::with_capacity(metrics.len());
  for (index, metric) in metrics.iter().enumerate() {
    let path = format!("{name}.metrics[{index}]");
    let metric = object(&path, metric, &METRIC_FIELDS)?;
    let key = required_text(&metric, &path, "metricKey")?.to_string();
    if let Some(rollback) = metric.get("autoRollback") {
      if !rollback.is_boolean() {
        return Err(LdError::invalid(format!(
          "{path}.autoRollback must be a boolean, got {}",
          json_type(rollback)
        )));
      }
    }
    if keys.contains(&key) {
      return Err(LdError::invalid(format!(
        "{path}.metricKey: {key:?} is listed twice"
      )));
    }
    keys.push(key);
  }
  keys.sort_unstable();
  Ok(keys)
}

/// Checks one phase; returns it as sent and what the release's phase should show.
fn start_phase(
  path: &str,
  phase: &Value,
  unit: &str,
  guarded: bool,
  many: bool,
) -> Result<(Value, ExpectedPhase)> {
  let mut phase = object(path, phase, &PHASE_FIELDS)?;
  let rule_id = text_member(&phase, path, "ruleId")?.map(str::to_string);
  let description = match phase.get("description") {
    None => None,
    Some(Value::String(s)) => Some(s.clone()),
    Some(other) => {
      return Err(LdError::invalid(format!(
        "{path}.description must be a string, got {}",
        json_type(other)
      )))
    }
  };
  let clauses = array_member(&phase, path, "clauses")?.cloned();
  if rule_id.is_some() && clauses.is_none() && description.is_some() {
    return Err(LdError::invalid(format!(
      "{path}.description is for a new rule (clauses); a phase on an existing rule (ruleId) keeps that rule's description"
    )));
  }
  match (&rule_id, &clauses) {
    (Some(_), Some(_)) => {
      return Err(LdError::invalid(format!(
        "{path} sets both ruleId (an existing rule) and clauses (a new rule): set exactly one"
      )));
    }
    (None, None) => {
      return Err(LdError::invalid(format!(
        "{path} needs clauses (a new rule) or ruleId (an existing rule): LaunchDarkly does not release on the flag's default rule"
      )));
    }
    (Some(_), None) if many => {
      return Err(LdError::invalid(format!(
        "{path}.ruleId: only a single-phase release can use an existing rule; give each phase clauses instead"
      )));
    }
    _ => {}
  }
  if let Some(clauses) = clauses {
    let clauses = start_clauses(path, &clauses, unit)?;
    phase.insert("clauses".into(), Value::Array(clauses));
  }
  let steps = start_steps(path, &phase, guarded)?;
  Ok((
    Value::Object(phase),
    ExpectedPhase {
      rule_id,
      description,
      steps,
    },
  ))
}

/// Checks a new rule's clauses and adds the kind clause of `unit` first when it is
/// missing. A clause on the `kind` attribute of that context kind that is negated
/// would exclude every context the release is for: refused.
fn start_clauses(path: &str, clauses: &[Value], unit: &str) -> Result<Vec<Value>> {
  let mut sent = Vec::with_capacity(clauses.len() + 1);
  let mut has_kind_clause = false;
  for (index, clause) in clauses.iter().enumerate() {
    let at = format!("{path}.clauses[{index}]");
    let clause = object(&at, clause, &CLAUSE_FIELDS)?;
    required_text(&clause, &at, "attribute")?;
    required_text(&clause, &at, "op")?;
    text_member(&clause, &at, "contextKind")?;
    let Some(values) = array_member(&clause, &at, "values")? else {
      return Err(LdError::invalid(format!("{at}.values is required")));
    };
    if let Some(bad) = values
      .iter()
      .position(|v| !(v.is_string() || v.is_number() || v.is_boolean()))
    {
      return Err(LdError::invalid(format!(
        "{at}.values[{bad}] must be a string, number or boolean, got {}",
        json_type(&values[bad])
      )));
    }
    let negate = match clause.get("negate") {
      None => false,
      Some(Value::Bool(b)) => *b,
      Some(other) => {
        return Err(LdError::invalid(format!(
          "{at}.negate must be a boolean, got {}",
          json_type(other)
        )))
      }
    };
    let on_unit_kind = clause.get("contextKind").and_then(Value::as_str) == Some(unit)
      && clause.get("attribute").and_then(Value::as_str) == Some("kind");
    if on_unit_kind && negate {
      return Err(LdError::invalid(format!(
        "{at} excludes contexts of kind {unit:?}, the randomization unit: the release would reach no one"
      )));
    }
    has_kind_clause |= is_kind_clause(&clause, unit);
    sent.push(Value::Object(clause));
  }
  if !has_kind_clause {
    sent.insert(0, kind_clause(unit));
  }
  Ok(sent)
}

/// Checks a phase's steps: at least one, each allocation in 1..=100000 (50000 in a
/// guarded release) and above the one before, each duration at least 1 ms.
fn start_steps(path: &str, phase: &Map<String, Value>, guarded: bool) -> Result<Vec<(u64, u64)>> {
  let Some(steps) = array_member(phase, path, "steps")? else {
    return Err(LdError::invalid(format!(
      "{path}.steps is required (at least one step)"
    )));
  };
  if steps.is_empty() {
    return Err(LdError::invalid(format!(
      "{path}.steps must have at least one step"
    )));
  }
  let max = if guarded {
    MAX_GUARDED_ALLOCATION
  } else {
    MAX_ALLOCATION
  };
  let mut out: Vec<(u64, u64)> = Vec::with_capacity(steps.len());
  for (index, step) in steps.iter().enumerate() {
    let at = format!("{path}.steps[{index}]");
    let step = object(&at, step, &STEP_FIELDS)?;
    let allocation = step
      .get("allocation")
      .ok_or_else(|| LdError::invalid(format!("{at}.allocation is required")))?;
    let allocation = integer_in(allocation, &format!("{at}.allocation"), 1, MAX_ALLOCATION)?;
    if allocation > max {
      return Err(LdError::invalid(format!(
        "{at}.allocation: a guarded release (one with metrics) allocates at most {MAX_GUARDED_ALLOCATION} (50%), keeping a control group; got {allocation}"
      )));
    }
    if let Some((previous, _)) = out.last() {
      if allocation <= *previous {
        return Err(LdError::invalid(format!(
          "{at}.allocation must be greater than the step before's ({previous}), got {allocation}"
        )));
      }
    }
    let duration = step
      .get("durationMillis")
      .ok_or_else(|| LdError::invalid(format!("{at}.durationMillis is required")))?;
    let duration = integer_in(duration, &format!("{at}.durationMillis"), 1, u64::MAX >> 11)?;
    out.push((allocation, duration));
  }
  Ok(out)
}

// ---------------------------------------------------------------------------------------
// Refusals and answers
// ---------------------------------------------------------------------------------------

/// The health checks a `health_checks_failed` body names: under a member whose name
/// mentions checks (`failedChecks`, `healthChecks`, ...), the strings of its arrays and
/// the `kind`, `check` or `name` of objects in them, and a documented kind given as the
/// member's value; in the order found, each once, each a word of at most 64 letters,
/// digits, `_`, `-` or `.`. `None` when the body is not JSON or names none.
pub fn failed_health_checks(body: &[u8]) -> Option<Vec<String>> {
  let value: Value = serde_json::from_slice(body).ok()?;
  if value.get("code").and_then(Value::as_str) != Some(HEALTH_CHECKS_FAILED) {
    return None;
  }
  let mut found = Vec::new();
  collect_checks(&value, false, 0, &mut found);
  (!found.is_empty()).then_some(found)
}

/// Adds `word` to `found` when it reads as a check's kind and is not there yet.
fn push_check(found: &mut Vec<String>, word: &str) {
  let word: String = word.chars().take(64).collect();
  let plausible = !word.is_empty()
    && word
      .chars()
      .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
  if plausible && !found.contains(&word) {
    found.push(word);
  }
}

fn collect_checks(value: &Value, under_checks: bool, depth: usize, found: &mut Vec<String>) {
  if depth > 8 {
    return;
  }
  match value {
    Value::Object(map) => {
      for (key, member) in map {
        let lower = key.to_ascii_lowercase();
        let checks = under_checks || lower.contains("check");
        match member {
          Value::String(s) if under_checks && matches!(key.as_str(), "kind" | "check" | "name") => {
            push_check(found, s)
          }
          Value::String(s) if HEALTH_CHECK_KINDS.contains(&s.as_str()) && checks => {
            push_check(found, s)
          }
          _ => collect_checks(member, checks, depth + 1, found),
        }
      }
    }
    Value::Array(items) if under_checks => {
      for item in items {
        match item {
          Value::String(s) => push_check(found, s),
          other => collect_checks(other, true, depth + 1, found),
        }
      }
    }
    _ => {}
  }
}

/// An error of a start or stop, made stable to branch on: 405 is
/// `ERR_LD_APPROVAL_REQUIRED`; for a start, 422 (with `releasePlanKey`) is
/// `ERR_LD_UNSUPPORTED`, and 409 `release_already_active` and 400
/// `health_checks_failed` say what to do next.
fn refusal(error: LdError, target: &ReleaseTarget, start: bool, plan: bool) -> LdError {
  let with = |code: ErrorCode, hint: String| LdError {
    code,
    message: format!("{} ({hint})", error.message),
    ..error.clone()
  };
  match (error.status, error.api_code.as_deref()) {
    (Some(405), _) => with(
      ErrorCode::ApprovalRequired,
      format!(
        "the environment {} requires approvals for changes to this flag; request one in LaunchDarkly, or use a token granted bypassRequiredApproval",
        target.environment_key
      ),
    ),
    (Some(422), _) if start && plan => with(
      ErrorCode::Unsupported,
      "environment release plans are not available for this account yet; configure the release inline instead of with releasePlanKey".to_string(),
    ),
    (Some(409), Some(RELEASE_ALREADY_ACTIVE)) if start => with(
      error.code,
      format!(
        "a release of {} is already running; nothing was started. Find it with listEnvironmentReleases, and stop it or wait for it to end",
        target.describe()
      ),
    ),
    (Some(400), Some(HEALTH_CHECKS_FAILED)) if start => {
      let checks = error
        .failed_health_checks
        .as_ref()
        .filter(|c| !c.is_empty())
        .map(|c| format!("[{}]", c.iter().map(|c| format!("'{c}'")).collect::<Vec<_>>().join(", ")))
        .unwrap_or_else(|| "the failing kinds".to_string());
      with(
        error.code,
        format!("nothing was started; to start anyway, pass bypassHealthChecks: {checks}"),
      )
    }
    _ => error,
  }
}

fn now_ms() -> u64 {
  SystemTime::now()
    .duration_since(UNIX_EPOCH)
    .map_or(0, |d| d.as_millis() as u64)
}

impl Client {
  /// Starts a release, sending the `POST` at most once (see the module's notes); a
  /// refusal is made stable to branch on (see `refusal`).
  pub async fn start_environment_release(
    &self,
    start: &StartRelease,
    options: RequestOptions,
  ) -> Result<Release> {
    let sent_at = now_ms();
    let plan = start.expected.inline.is_none();
    match self.send_once(&start.request, options.clone()).await {
      Ok((body, status, attempts)) => Release::from_body(body, status)
        .map(|release| release.with_attempts(attempts))
        .map_err(|e| LdError { attempts, ..e }),
      Err((error, false)) => Err(refusal(error, &start.target, true, plan)),
      Err((error, true)) => self.find_start(start, sent_at, error, options).await,
    }
  }

  /// After a start that may have reached the server got no answer (`unanswered`):
  /// the release it made, if the flag's newest releases show one; else
  /// `ERR_LD_OUTCOME_UNKNOWN`.
  async fn find_start(
    &self,
    start: &StartRelease,
    sent_at: u64,
    unanswered: LdError,
    options: RequestOptions,
  ) -> Result<Release> {
    let request = PreparedRequest::recent_environment_releases(self.config(), &start.target);
    let since = sent_at.saturating_sub(CLOCK_SKEW_MS);
    let listed = self
      .send_raw(&request, options)
      .await
      .and_then(|(body, status)| crate::pipelines::Page::from_body(&body, status));
    let why = match listed {
      Ok(page) => {
        let found = page.items.iter().find(|item| {
          serde_json::from_str::<Value>(item).is_ok_and(|release| start.matches(&release, since))
        });
        if let Some(item) = found {
          return Release::from_body(item.clone().into_bytes(), 200)
            .map(|release| release.with_attempts(unanswered.attempts));
        }
        "no release of the flag in that environment created since matches it".to_string()
      }
      Err(error) => format!(
        "its releases could not be listed to check ({})",
        error.message
      ),
    };
    Err(LdError {
      code: ErrorCode::OutcomeUnknown,
      message: format!(
        "The start of a release of {} may or may not have been applied: {}; {why}. It was not sent again (a start is not idempotent). Check with listEnvironmentReleases('{}', '{}', '{}') before starting again",
        start.target.describe(),
        unanswered.message,
        start.target.project_key,
        start.target.flag_key,
        start.target.environment_key
      ),
      ..unanswered
    })
  }

  /// Sends a read or a stop of an environment release; a stop's refusal is made
  /// stable to branch on (405: `ERR_LD_APPROVAL_REQUIRED`).
  pub async fn send_environment_release(
    &self,
    target: &ReleaseTarget,
    request: PreparedRequest,
    options: RequestOptions,
  ) -> Result<Release> {
    self
      .send_release(request, options)
      .await
      .map_err(|e| refusal(e, target, false, false))
  }

  /// Sends a request whose answer is any JSON (an array, for the policies' order), or
  /// nothing: the text as sent, or `None` for an empty body.
  pub async fn send_json(
    &self,
    request: &PreparedRequest,
    options: RequestOptions,
  ) -> Result<Option<String>> {
    let (body, status) = self.send_raw(request, options).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
      return Ok(None);
    }
    let text = String::from_utf8_lossy(&body).into_owned();
    match serde_json::from_str::<serde::de::IgnoredAny>(&text) {
      Ok(_) => Ok(Some(text)),
      Err(e) => Err(decode_error(
        status,
        &format!("its body is not valid JSON ({e})"),
        &text,
      )),
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::config::ClientOptions;
  use serde_json::json;

  fn config() -> ClientConfig {
    ClientConfig::resolve(&ClientOptions::default(), |_| None).unwrap()
  }

  fn target() -> ReleaseTarget {
    ReleaseTarget::new("web", "checkout", "production").unwrap()
  }

  fn progressive() -> Value {
    json!({
      "originalVariationId": "off-id",
      "targetVariationId": "on-id",
      "randomizationUnit": "user",
      "phases": [{
        "clauses": [{"contextKind": "user", "attribute": "country", "op": "in", "values": ["nz"]}],
        "steps": [{"allocation": 10000, "durationMillis": 60000}, {"allocation": 100000, "durationMillis": 60000}]
      }]
    })
  }

  fn error_of(input: Value) -> String {
    StartRelease::new(&config(), target(), "input", &input)
      .unwrap_err()
      .message
  }

  fn sent(input: &Value) -> Value {
    let start = StartRelease::new(&config(), target(), "input", input).unwrap();
    serde_json::from_slice(start.request.body.as_deref().unwrap()).unwrap()
  }

  #[test]
  fn the_kind_clause_is_added_first_when_missing_and_kept_when_there() {
    let body = sent(&progressive());
    assert_eq!(
      body["phases"][0]["clauses"],
      json!([
        {"contextKind": "user", "attribute": "kind", "op": "in", "values": ["user"]},
        {"contextKind": "user", "attribute": "country", "op": "in", "values": ["nz"]}
      ])
    );
    let mut with = progressive();
    with["phases"][0]["clauses"] = json!([
      {"contextKind": "user", "attribute": "country", "op": "in", "values": ["nz"]},
      {"contextKind": "user", "attribute": "kind", "op": "in", "values": ["user"], "negate": false}
    ]);
    assert_eq!(
      sent(&with)["phases"][0]["clauses"],
      with["phases"][0]["clauses"]
    );
    // A kind clause with another value is not the one LaunchDarkly needs.
    let mut other = progressive();
    other["phases"][0]["clauses"] =
      json!([{"contextKind": "user", "attribute": "kind", "op": "in", "values": ["user", "org"]}]);
    assert_eq!(
      sent(&other)["phases"][0]["clauses"]
        .as_array()
        .unwrap()
        .len(),
      2
    );
    // Nor one of another kind, nor on another attribute, nor with another operator.
    for clause in [
      json!({"contextKind": "org", "attribute": "kind", "op": "in", "values": ["user"]}),
      json!({"contextKind": "user", "attribute": "key", "op": "in", "values": ["user"]}),
      json!({"contextKind": "user", "attribute": "kind", "op": "contains", "values": ["user"]}),
    ] {
      let mut input = progressive();
      input["phases"][0]["clauses"] = json!([clause.clone()]);
      let clauses = sent(&input)["phases"][0]["clauses"].clone();
      assert_eq!(clauses, json!([kind_clause("user"), clause]));
    }
    // Two exact kind clauses: there already, nothing added.
    let mut twice = progressive();
    twice["phases"][0]["clauses"] = json!([kind_clause("user"), kind_clause("user")]);
    assert_eq!(
      sent(&twice)["phases"][0]["clauses"],
      json!([kind_clause("user"), kind_clause("user")])
    );
    // A negated clause on another attribute is the caller's business.
    let mut negated = progressive();
    negated["phases"][0]["clauses"] = json!([{"contextKind": "user", "attribute": "country", "op": "in", "values": ["nz"], "negate": true}]);
    assert_eq!(
      sent(&negated)["phases"][0]["clauses"],
      json!([
        kind_clause("user"),
        negated["phases"][0]["clauses"][0].clone()
      ])
    );
    // Values may be strings, numbers and booleans.
    let mut typed = progressive();
    typed["phases"][0]["clauses"] =
      json!([{"contextKind": "user", "attribute": "age", "op": "in", "values": ["x", 30, true]}]);
    assert_eq!(
      sent(&typed)["phases"][0]["clauses"][1]["values"],
      json!(["x", 30, true])
    );
    // An empty list targets every context of the kind.
    let mut empty = progressive();
    empty["phases"][0]["clauses"] = json!([]);
    assert_eq!(
      sent(&empty)["phases"][0]["clauses"],
      json!([kind_clause("user")])
    );
  }

  #[test]
  fn the_request_is_the_documented_post() {
    let start = StartRelease::new(&config(), target(), "input", &progressive()).unwrap();
    assert_eq!(start.request.method, Method::POST);
    assert_eq!(
      start.request.url.path(),
      "/api/v2/projects/web/flags/checkout/environments/production/releases"
    );
    let mut with_nulls = progressive();
    with_nulls["comment"] = Value::Null;
    with_nulls["metrics"] = Value::Null;
    let body = sent(&with_nulls);
    assert!(body.get("comment").is_none() && body.get("metrics").is_none());
  }

  #[test]
  fn bad_starts_are_refused_naming_the_path() {
    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(Change, &str)> = vec![
      (
        Box::new(|v| v["phases"][0]["steps"][1]["allocation"] = json!(5000)),
        "input.phases[0].steps[1].allocation must be greater than the step before's (10000), got 5000",
      ),
      (
        Box::new(|v| v["phases"][0]["steps"][1]["allocation"] = json!(10000)),
        "input.phases[0].steps[1].allocation must be greater",
      ),
      (
        Box::new(|v| v["phases"][0]["steps"][0]["allocation"] = json!(0)),
        "input.phases[0].steps[0].allocation must be a whole number from 1 to 100000, got 0",
      ),
      (
        Box::new(|v| v["phases"][0]["steps"][1]["allocation"] = json!(100001)),
        "input.phases[0].steps[1].allocation must be a whole number from 1 to 100000",
      ),
      (
        Box::new(|v| v["phases"][0]["steps"][0]["allocation"] = json!(1.5)),
        "input.phases[0].steps[0].allocation must be a whole number",
      ),
      (
        Box::new(|v| v["phases"][0]["steps"][0]["durationMillis"] = json!(0)),
        "input.phases[0].steps[0].durationMillis must be a whole number from 1",
      ),
      (
        Box::new(|v| v["phases"][0]["steps"][0]["durationMillis"] = json!(9_007_199_254_740_992u64)),
        "input.phases[0].steps[0].durationMillis must be a whole number from 1 to 9007199254740991",
      ),
      (
        Box::new(|v| {
          v["phases"][0]["steps"][0].as_object_mut().unwrap().remove("durationMillis");
        }),
        "input.phases[0].steps[0].durationMillis is required",
      ),
      (
        Box::new(|v| {
          v["phases"][0]["steps"][0].as_object_mut().unwrap().remove("allocation");
        }),
        "input.phases[0].steps[0].allocation is required",
      ),
      (
        Box::new(|v| v["phases"][0]["steps"] = json!([])),
        "input.phases[0].steps must have at least one step",
      ),
      (
        Box::new(|v| {
          v["phases"][0].as_object_mut().unwrap().remove("steps");
        }),
        "input.phases[0].steps is required",
      ),
      (
        Box::new(|v| {
          v["metrics"] = json!([{"metricKey": "errors", "autoRollback": true}]);
        }),
        "input.phases[0].steps[1].allocation: a guarded release (one with metrics) allocates at most 50000",
      ),
      (
        Box::new(|v| {
          v.as_object_mut().unwrap().remove("randomizationUnit");
        }),
        "input.randomizationUnit is required",
      ),
      (
        Box::new(|v| v["releasePlanKey"] = json!("plan")),
        "input.randomizationUnit cannot be set with releasePlanKey",
      ),
      (
        Box::new(|v| {
          v.as_object_mut().unwrap().remove("phases");
        }),
        "input.phases is required",
      ),
      (
        Box::new(|v| v["phases"] = json!([])),
        "input.phases must have at least one phase",
      ),
      (
        Box::new(|v| {
          let phase = v["phases"][0].clone();
          v["phases"] = json!([phase.clone(), phase]);
        }),
        "input.advancementMode is required with more than one phase",
      ),
      (
        Box::new(|v| {
          v["advancementMode"] = json!("automatic");
          v["phases"] = json!([
            v["phases"][0].clone(),
            {"ruleId": "r1", "steps": [{"allocation": 1, "durationMillis": 1}]}
          ]);
        }),
        "input.phases[1].ruleId: only a single-phase release can use an existing rule",
      ),
      (
        Box::new(|v| v["phases"][0]["ruleId"] = json!("r1")),
        "input.phases[0] sets both ruleId (an existing rule) and clauses (a new rule)",
      ),
      (
        Box::new(|v| {
          v["phases"][0].as_object_mut().unwrap().remove("clauses");
        }),
        "input.phases[0] needs clauses (a new rule) or ruleId",
      ),
      (
        Box::new(|v| {
          v["phases"][0] = json!({"ruleId": "r1", "description": "d", "steps": [{"allocation": 1, "durationMillis": 1}]});
        }),
        "input.phases[0].description is for a new rule",
      ),
      (
        Box::new(|v| v["phases"][0]["clauses"][0]["values"] = json!([{"a": 1}])),
        "input.phases[0].clauses[0].values[0] must be a string, number or boolean, got an object",
      ),
      (
        Box::new(|v| {
          v["phases"][0]["clauses"][0].as_object_mut().unwrap().remove("values");
        }),
        "input.phases[0].clauses[0].values is required",
      ),
      (
        Box::new(|v| v["phases"][0]["clauses"][0]["attribute"] = json!("")),
        "input.phases[0].clauses[0].attribute must be a non-empty string, got an empty string",
      ),
      (
        Box::new(|v| v["phases"][0]["clauses"][0]["negate"] = json!("yes")),
        "input.phases[0].clauses[0].negate must be a boolean, got a string",
      ),
      (
        Box::new(|v| {
          v["phases"][0]["clauses"] =
            json!([{"contextKind": "user", "attribute": "kind", "op": "in", "values": ["user"], "negate": true}]);
        }),
        "input.phases[0].clauses[0] excludes contexts of kind \"user\"",
      ),
      (
        Box::new(|v| v["phases"][0]["clause"] = json!([])),
        "input.phases[0].clause is not a field here; the fields are ruleId, clauses, description, steps",
      ),
      (
        Box::new(|v| v["targetVariationId"] = json!("off-id")),
        "input.targetVariationId must differ from originalVariationId",
      ),
      (
        Box::new(|v| v["originalVariationId"] = json!(3)),
        "input.originalVariationId must be a non-empty string, got a number",
      ),
      (
        Box::new(|v| {
          v.as_object_mut().unwrap().remove("targetVariationId");
        }),
        "input.targetVariationId is required",
      ),
      (
        Box::new(|v| v["advancementMode"] = json!("auto")),
        "input.advancementMode must be one of manual, automatic, got \"auto\"",
      ),
      (
        Box::new(|v| v["cleanupBehavior"] = json!("remove")),
        "input.cleanupBehavior must be one of remove_rules_and_update_default_rule, leave_rules_in_place",
      ),
      (
        Box::new(|v| v["metrics"] = json!([{"metricKey": "a"}, {"metricKey": "a"}])),
        "input.metrics[1].metricKey: \"a\" is listed twice",
      ),
      (
        Box::new(|v| v["metrics"] = json!([{"metricKey": "a", "autoRollback": "no"}])),
        "input.metrics[0].autoRollback must be a boolean, got a string",
      ),
      (
        Box::new(|v| v["bypassHealthChecks"] = json!([""])),
        "input.bypassHealthChecks[0] must be a health check kind",
      ),
      (
        Box::new(|v| v["bypassHealthChecks"] = json!("flag_evaluations_any")),
        "input.bypassHealthChecks must be an array, got a string",
      ),
      (
        Box::new(|v| v["comment"] = json!(1)),
        "input.comment must be a string, got a number",
      ),
      (
        Box::new(|v| v["phases"][0]["description"] = json!(1)),
        "input.phases[0].description must be a string, got a number",
      ),
      (
        Box::new(|v| v["phases"][0]["steps"][0]["extra"] = json!(1)),
        "input.phases[0].steps[0].extra is not a field here",
      ),
      (
        Box::new(|v| *v = json!([])),
        "input must be an object, got an array",
      ),
    ];
    for (change, expected) in cases {
      let mut input = progressive();
      change(&mut input);
      let message = error_of(input);
      assert!(
        message.starts_with(expected),
        "{message}\n  expected {expected}"
      );
    }
  }

  #[test]
  fn a_start_from_a_plan_sends_only_what_the_plan_does_not_supply() {
    let input = json!({
      "originalVariationId": "a", "targetVariationId": "b", "releasePlanKey": "standard",
      "bypassHealthChecks": ["flag_evaluations_any"], "comment": "deploy 12"
    });
    assert_eq!(sent(&input), input);
    for field in PLAN_FIELDS {
      let mut both = input.clone();
      both[field] = json!("x");
      assert!(
        error_of(both).starts_with(&format!("input.{field} cannot be set with releasePlanKey"))
      );
    }
  }

  fn made(start: &Value) -> Value {
    // The release LaunchDarkly makes of `progressive()`.
    let mut release = json!({
      "id": "r1", "status": "in_progress", "createdAt": 1_000_000,
      "originalVariationId": "off-id", "targetVariationId": "on-id",
      "randomizationUnit": "user", "cleanupBehavior": "leave_rules_in_place",
      "advancementMode": "automatic", "metrics": [], "kind": "progressive",
      "phases": [{"id": "p", "ruleId": "rule", "steps": [
        {"stepIndex": 0, "allocation": 10000, "durationMillis": 60000},
        {"stepIndex": 1, "allocation": 100000, "durationMillis": 60000}
      ]}]
    });
    if let Some(metrics) = start.get("metrics") {
      release["metrics"] = metrics.clone();
    }
    release
  }

  #[test]
  fn a_release_matches_the_start_that_made_it_and_nothing_else() {
    let start = StartRelease::new(&config(), target(), "input", &progressive()).unwrap();
    let release = made(&progressive());
    assert!(start.matches(&release, 1_000_000));
    assert!(
      !start.matches(&release, 1_000_001),
      "created before the start"
    );
    let mut string_time = release.clone();
    string_time["createdAt"] = json!("1000000");
    assert!(start.matches(&string_time, 999_000));
    let changes: Vec<(&str, Value)> = vec![
      ("/createdAt", Value::Null),
      ("/originalVariationId", json!("x")),
      ("/targetVariationId", json!("x")),
      ("/randomizationUnit", json!("org")),
      (
        "/cleanupBehavior",
        json!("remove_rules_and_update_default_rule"),
      ),
      (
        "/metrics",
        json!([{"metricKey": "m", "autoRollback": false}]),
      ),
      ("/phases/0/steps/1/allocation", json!(50000)),
      ("/phases/0/steps/0/durationMillis", json!(1)),
      (
        "/phases/0/steps",
        json!([{"allocation": 10000, "durationMillis": 60000}]),
      ),
      ("/phases", json!([])),
      ("/phases", Value::Null),
    ];
    for (pointer, value) in changes {
      let mut other = release.clone();
      *other.pointer_mut(pointer).unwrap() = value;
      assert!(!start.matches(&other, 0), "{pointer}");
    }
    // A single-phase release ignores advancementMode; a multi-phase one must match.
    let mut single = release.clone();
    single["advancementMode"] = json!("manual");
    assert!(start.matches(&single, 0));
    let mut two = progressive();
    two["advancementMode"] = json!("manual");
    two["phases"] = json!([two["phases"][0].clone(), two["phases"][0].clone()]);
    let start_two = StartRelease::new(&config(), target(), "input", &two).unwrap();
    let mut release_two = release.clone();
    release_two["phases"] = json!([release["phases"][0].clone(), release["phases"][0].clone()]);
    release_two["advancementMode"] = json!("manual");
    assert!(start_two.matches(&release_two, 0));
    release_two["advancementMode"] = json!("automatic");
    assert!(!start_two.matches(&release_two, 0));
    // An existing rule must be that rule; a description, when the answer has one, that one.
    let mut on_rule = progressive();
    on_rule["phases"] = json!([{"ruleId": "rule", "steps": [
      {"allocation": 10000, "durationMillis": 60000}, {"allocation": 100000, "durationMillis": 60000}]}]);
    let start_rule = StartRelease::new(&config(), target(), "input", &on_rule).unwrap();
    assert!(start_rule.matches(&release, 0));
    let mut other_rule = release.clone();
    other_rule["phases"][0]["ruleId"] = json!("other");
    assert!(!start_rule.matches(&other_rule, 0));
    let mut described = progressive();
    described["phases"][0]["description"] = json!("NZ first");
    let start_described = StartRelease::new(&config(), target(), "input", &described).unwrap();
    assert!(
      start_described.matches(&release, 0),
      "no description in the answer"
    );
    let mut answer = release.clone();
    answer["phases"][0]["description"] = json!("NZ first");
    assert!(start_described.matches(&answer, 0));
    answer["phases"][0]["description"] = json!("other");
    assert!(!start_described.matches(&answer, 0));
    // Metrics match by key, in any order.
    let mut guarded = progressive();
    guarded["metrics"] = json!([{"metricKey": "b"}, {"metricKey": "a", "autoRollback": true}]);
    guarded["phases"][0]["steps"][1]["allocation"] = json!(50000);
    let start_guarded = StartRelease::new(&config(), target(), "input", &guarded).unwrap();
    let mut guarded_release = made(&guarded);
    guarded_release["phases"][0]["steps"][1]["allocation"] = json!(50000);
    assert!(start_guarded.matches(&guarded_release, 0));
    guarded_release["metrics"] = json!([{"metricKey": "a"}]);
    assert!(!start_guarded.matches(&guarded_release, 0));
    // From a plan: the variations and the time.
    let plan =
      json!({"originalVariationId": "off-id", "targetVariationId": "on-id", "releasePlanKey": "p"});
    let start_plan = StartRelease::new(&config(), target(), "input", &plan).unwrap();
    assert!(start_plan.matches(&release, 0));
    let mut swapped = release.clone();
    swapped["targetVariationId"] = json!("off-id");
    assert!(!start_plan.matches(&swapped, 0));
  }

  #[test]
  fn other_requests_use_their_documented_paths() {
    let t = target();
    let get = PreparedRequest::environment_release(&config(), &t, "r 1", false).unwrap();
    assert_eq!(get.method, Method::GET);
    assert_eq!(
      get.url.as_str(),
      "https://app.launchdarkly.com/api/v2/projects/web/flags/checkout/environments/production/releases/r%201"
    );
    let expanded = PreparedRequest::environment_release(&config(), &t, "r1", true).unwrap();
    assert_eq!(expanded.url.query(), Some("expand=metrics"));
    let stop = PreparedRequest::stop_environment_release(
      &config(),
      &t,
      "r1",
      RESOLUTIONS[2],
      Some("bad numbers"),
    )
    .unwrap();
    assert_eq!(stop.method, Method::PUT);
    assert!(stop.url.path().ends_with("/releases/r1/stop"));
    assert_eq!(
      stop.body.as_deref(),
      Some(&br#"{"comment":"bad numbers","resolution":"roll_back_all_phases_and_remove_pending_phases"}"#[..])
    );
    let bad = PreparedRequest::stop_environment_release(&config(), &t, "r1", "rollback", None);
    assert!(bad
      .unwrap_err()
      .message
      .starts_with("resolution must be one of roll_forward_all_phases"));
    let recent = PreparedRequest::recent_environment_releases(&config(), &t);
    assert_eq!(recent.url.query(), Some("limit=100"));
    assert!(recent
      .url
      .path()
      .ends_with("/environments/production/releases"));
    assert!(ReleaseTarget::new("web", "", "production").is_err());
    assert!(PreparedRequest::environment_release(&config(), &t, "", false).is_err());
  }

  #[test]
  fn policy_requests() {
    let list = PreparedRequest::release_policies(&config(), "web").unwrap();
    assert_eq!(list.url.path(), "/api/v2/projects/web/release-policies");
    let input = json!({"key": "k", "name": "N", "releaseMethod": "guarded-release"});
    let create = PreparedRequest::create_release_policy(&config(), "web", &input).unwrap();
    assert_eq!(create.method, Method::POST);
    assert_eq!(
      create.body.as_deref(),
      Some(serde_json::to_vec(&input).unwrap().as_slice())
    );
    let mut no_key = input.clone();
    no_key.as_object_mut().unwrap().remove("key");
    let err = PreparedRequest::create_release_policy(&config(), "web", &no_key).unwrap_err();
    assert_eq!(err.message, "input.key is required");
    let mut empty = input.clone();
    empty["name"] = json!("");
    let err = PreparedRequest::create_release_policy(&config(), "web", &empty).unwrap_err();
    assert_eq!(err.message, "input.name must be a non-empty string");
    let update = json!({"name": "N", "releaseMethod": "progressive-release"});
    let put =
      PreparedRequest::release_policy(&config(), Method::PUT, "web", "k", Some(&update)).unwrap();
    assert_eq!(put.url.path(), "/api/v2/projects/web/release-policies/k");
    let err = PreparedRequest::release_policy(&config(), Method::PUT, "web", "k", Some(&input))
      .unwrap_err();
    assert!(
      err.message.starts_with("input.key cannot be changed"),
      "{}",
      err.message
    );
    let err = PreparedRequest::release_policy(&config(), Method::PUT, "web", "k", Some(&json!([])))
      .unwrap_err();
    assert_eq!(err.message, "input must be an object");
    let delete =
      PreparedRequest::release_policy(&config(), Method::DELETE, "web", "k", None).unwrap();
    assert!(delete.body.is_none());
    let keys = vec!["b".to_string(), "a".to_string()];
    let order = PreparedRequest::reorder_release_policies(&config(), "web", &keys).unwrap();
    assert_eq!(
      order.url.path(),
      "/api/v2/projects/web/release-policies/order"
    );
    assert_eq!(order.body.as_deref(), Some(&br#"["b","a"]"#[..]));
    let twice = vec!["a".to_string(), "a".to_string()];
    let err = PreparedRequest::reorder_release_policies(&config(), "web", &twice).unwrap_err();
    assert_eq!(err.message, "keys[1]: \"a\" is named twice");
    let blank = vec!["".to_string()];
    assert!(PreparedRequest::reorder_release_policies(&config(), "web", &blank).is_err());
  }

  #[test]
  fn failing_health_checks_are_read_from_the_body() {
    let read = |body: Value| failed_health_checks(body.to_string().as_bytes());
    assert_eq!(
      read(
        json!({"code": "health_checks_failed", "message": "m", "failedChecks": ["flag_evaluations_any", "flag_evaluations_with_context"]})
      ),
      Some(vec![
        "flag_evaluations_any".into(),
        "flag_evaluations_with_context".into()
      ])
    );
    assert_eq!(
      read(
        json!({"code": "health_checks_failed", "healthChecks": [{"kind": "metric_events_any", "passed": false}]})
      ),
      Some(vec!["metric_events_any".into()])
    );
    assert_eq!(
      read(
        json!({"code": "health_checks_failed", "details": {"checks": ["metric_events_with_context", "metric_events_with_context"]}})
      ),
      Some(vec!["metric_events_with_context".into()])
    );
    assert_eq!(
      read(json!({"code": "health_checks_failed", "message": "flag_evaluations_any"})),
      None
    );
    assert_eq!(
      read(json!({"code": "invalid_request", "failedChecks": ["flag_evaluations_any"]})),
      None
    );
    assert_eq!(failed_health_checks(b"<html>"), None);
    assert_eq!(
      read(json!({"code": "health_checks_failed", "other": ["flag_evaluations_any"]})),
      None,
      "an array that is not under a checks member"
    );
    assert_eq!(
      read(
        json!({"code": "health_checks_failed", "failedCheck": "metric_events_any", "check": "words"})
      ),
      Some(vec!["metric_events_any".into()])
    );
    assert_eq!(
      read(json!({"code": "health_checks_failed", "checks": ["a-b.c_9", "x".repeat(70)]})),
      Some(vec!["a-b.c_9".into(), "x".repeat(64)])
    );
    // A check array 8 members deep is read (depth 8); deeper is not.
    let nested = |depth: usize| {
      let mut value = json!({"checks": ["flag_evaluations_any"]});
      for _ in 0..depth {
        value = json!({ "wrap": value });
      }
      value["code"] = json!("health_checks_failed");
      value
    };
    assert_eq!(read(nested(7)), Some(vec!["flag_evaluations_any".into()]));
    assert_eq!(read(nested(8)), None);
    // Through arrays too: 8 arrays in the checks member are read, 9 are not.
    let in_arrays = |depth: usize| {
      let mut value = json!("flag_evaluations_any");
      for _ in 0..depth {
        value = json!([value]);
      }
      json!({"code": "health_checks_failed", "checks": value})
    };
    assert_eq!(
      read(in_arrays(7)),
      Some(vec!["flag_evaluations_any".into()])
    );
    assert_eq!(read(in_arrays(9)), None);
    // An object's `kind` is read whatever the word, documented or new.
    assert_eq!(
      read(
        json!({"code": "health_checks_failed", "checks": [{"kind": "new_kind", "message": "words"}]})
      ),
      Some(vec!["new_kind".into()])
    );
    assert_eq!(
      read(json!({"code": "health_checks_failed", "failedChecks": ["bad word!", "new_kind"]})),
      Some(vec!["new_kind".into()])
    );
  }

  fn answered(status: u16, code: Option<&str>) -> LdError {
    LdError {
      status: Some(status),
      api_code: code.map(str::to_string),
      ..LdError::new(ErrorCode::for_status(status), "LaunchDarkly answered")
    }
  }

  #[test]
  fn refusals_become_stable_codes_with_hints() {
    let t = target();
    let approval = refusal(answered(405, None), &t, false, false);
    assert_eq!(approval.code, ErrorCode::ApprovalRequired);
    assert!(approval.message.contains("bypassRequiredApproval"));
    let plan = refusal(answered(422, None), &t, true, true);
    assert_eq!(plan.code, ErrorCode::Unsupported);
    assert_eq!(
      refusal(answered(422, None), &t, true, false).code,
      ErrorCode::BadRequest
    );
    assert_eq!(
      refusal(answered(422, None), &t, false, true).code,
      ErrorCode::BadRequest
    );
    let active = refusal(answered(409, Some(RELEASE_ALREADY_ACTIVE)), &t, true, false);
    assert_eq!(active.code, ErrorCode::Conflict);
    assert!(active
      .message
      .contains("web/checkout in production is already running"));
    let off = refusal(answered(409, Some("conflict")), &t, true, false);
    assert_eq!(off.message, "LaunchDarkly answered");
    let stop_conflict = refusal(
      answered(409, Some(RELEASE_ALREADY_ACTIVE)),
      &t,
      false,
      false,
    );
    assert_eq!(stop_conflict.message, "LaunchDarkly answered");
    let mut checks = answered(400, Some(HEALTH_CHECKS_FAILED));
    checks.failed_health_checks = Some(vec!["flag_evaluations_any".into()]);
    let failed = refusal(checks, &t, true, false);
    assert_eq!(failed.code, ErrorCode::BadRequest);
    assert!(
      failed.message.ends_with(
        "(nothing was started; to start anyway, pass bypassHealthChecks: ['flag_evaluations_any'])"
      ),
      "{}",
      failed.message
    );
    let unnamed = refusal(answered(400, Some(HEALTH_CHECKS_FAILED)), &t, true, false);
    assert!(unnamed
      .message
      .contains("bypassHealthChecks: the failing kinds"));
    assert_eq!(
      refusal(answered(400, Some("invalid_request")), &t, true, false).message,
      "LaunchDarkly answered"
    );
    let mut stop_checks = answered(400, Some(HEALTH_CHECKS_FAILED));
    stop_checks.failed_health_checks = Some(vec!["flag_evaluations_any".into()]);
    assert_eq!(
      refusal(stop_checks, &t, false, false).message,
      "LaunchDarkly answered"
    );
  }
}
