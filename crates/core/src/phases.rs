//! Moving phases by index, by name or by id, on both kinds of release pipeline.
//!
//! - **Legacy pipelines** take a JSON Patch: `[{"op":"replace","path":"/phases/N/complete",
//!   "value":true}]` completes phase N, `false` reopens it.
//! - **New pipelines** refuse that PATCH. Their phases move only forward: starting phase
//!   N+1 (`PUT .../release/phases/{id}` with `{"status":"active"}`) completes phase N and
//!   every phase before it. A last phase cannot be completed, nor a phase reopened.
//!
//! The kind is known before any write: a completion or reopening reads the release, then
//! its pipeline's `_isLegacy` (`Client::pipeline_kind`, remembered per client and
//! pipeline), and sends only the write that kind takes. A new pipeline never gets the
//! PATCH; a pipeline that cannot be read (403, 404) or does not say gets it, and the
//! server's answer is reported.
//!
//! A phase named by name or id is looked up in the current release. On a legacy
//! pipeline the patch then carries a JSON Patch `test` that the phase at that index
//! still has that id, so a release that changed in between is never patched at the
//! wrong phase; on a new pipeline the next phase is started by its id.
//!
//! **A phase start is never resent blindly.** The start (`PUT .../release/phases/{id}`
//! with `{"status":"active"}`) sets a state, so applying it twice changes nothing more,
//! but LaunchDarkly refuses a repeat (400: the phase is already active or started), so a
//! blind retry of a start that was applied turns success into a failure. After a start
//! that may have reached the server and got no usable answer (a timeout, a dropped
//! connection, a 5xx), or a resend refused (400, 409) after such a start, the release is
//! read (`send_start`): the phase active means the start is applied, and the call
//! resolves with the release as read; the phase not started means it was not, and the
//! start is sent again while retries are left (else the call fails with the start's own
//! error); a release that cannot be read, has moved past the phase, or has no such phase
//! cannot tell, and the call fails with `ERR_LD_OUTCOME_UNKNOWN`. A start that certainly
//! did not arrive (no connection, a 429) is retried as any request is.

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use crate::client::{backoff_ms, with_jitter, Client, PreparedRequest};
use crate::config::RequestOptions;
use crate::error::{ErrorCode, LdError, Result};
use crate::patch::{phase_patch, PatchOperation};
use crate::release::{PipelineKind, Release, ReleaseView};

/// Which phase a call means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhaseRef {
  Index(u32),
  Name(String),
  Id(String),
}

/// What to do with a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseAction {
  /// Mark it complete (legacy), or start the next phase (new pipelines).
  Complete,
  /// Mark it incomplete (legacy pipelines only).
  Reopen,
  /// Set its status to `active`.
  Start,
}

/// A phase change, validated and ready to run.
#[derive(Debug, Clone)]
pub struct PhaseChange {
  pub project_key: String,
  pub flag_key: String,
  pub phase: PhaseRef,
  pub action: PhaseAction,
}

/// The only status a caller may give a phase of a new release pipeline.
pub const ACTIVE: &str = "active";

/// The index of the phase `phase` names in `release`.
pub fn find_phase(release: &ReleaseView, phase: &PhaseRef) -> Result<usize> {
  let (what, matches): (String, Vec<usize>) = match phase {
    PhaseRef::Index(index) => {
      let index = *index as usize;
      return if index < release.phases.len() {
        Ok(index)
      } else {
        Err(LdError::invalid(format!(
          "phase {index} does not exist: the release has {} phases",
          release.phases.len()
        )))
      };
    }
    PhaseRef::Name(name) => (
      format!("named {name:?}"),
      positions(release, |p| p.name == *name),
    ),
    PhaseRef::Id(id) => (
      format!("with id {id:?}"),
      positions(release, |p| p.id == *id),
    ),
  };
  match matches.as_slice() {
    [index] => Ok(*index),
    [] => Err(LdError::invalid(format!(
      "no phase {what}; the phases are {}",
      names(release)
    ))),
    several => Err(LdError::invalid(format!(
      "{} phases are {what} (indexes {}); name the phase by index or id",
      several.len(),
      listed(several)
    ))),
  }
}

/// `[0, 1, 2]`, or the first [`LISTED_PHASES`] of `indexes` and how many more.
fn listed(indexes: &[usize]) -> String {
  let shown = &indexes[..indexes.len().min(LISTED_PHASES)];
  let more = indexes.len() - shown.len();
  if more == 0 {
    format!("{shown:?}")
  } else {
    format!("{shown:?} and {more} more")
  }
}

/// The id of phase `index` of `release`, to start it by: an error (`ERR_LD_DECODE`,
/// nothing sent) when another phase has the same id, since the server could start
/// either (the phase already active, say).
pub fn unambiguous_id(release: &ReleaseView, index: usize) -> Result<&str> {
  let id = release.phases[index].id.as_str();
  let holders = positions(release, |p| p.id == id);
  if holders.len() > 1 {
    return Err(LdError::new(
      ErrorCode::Decode,
      format!(
        "the release's phases {} all have id {id:?}: phase {index} cannot be started by its id, which could start another. Nothing was changed",
        listed(&holders)
      ),
    ));
  }
  Ok(id)
}

fn positions(
  release: &ReleaseView,
  keep: impl Fn(&crate::release::PhaseView) -> bool,
) -> Vec<usize> {
  (0..release.phases.len())
    .filter(|&i| keep(&release.phases[i]))
    .collect()
}

/// How many phases an error lists, and how many characters of each name it quotes: a
/// release of thousands of phases must not make a message of megabytes.
const LISTED_PHASES: usize = 20;
const QUOTED_NAME_CHARS: usize = 60;

fn names(release: &ReleaseView) -> String {
  let mut names: Vec<String> = release
    .phases
    .iter()
    .take(LISTED_PHASES)
    .enumerate()
    .map(|(i, p)| {
      let name: String = p.name.chars().take(QUOTED_NAME_CHARS).collect();
      let cut = if name.len() < p.name.len() { "…" } else { "" };
      format!("{i}: {name:?}{cut}")
    })
    .collect();
  let more = release.phases.len().saturating_sub(LISTED_PHASES);
  if more > 0 {
    names.push(format!("and {more} more"));
  }
  if names.is_empty() {
    "none".to_string()
  } else {
    names.join(", ")
  }
}

/// The patch for phase `index`, guarded by a test that it still has id `id`.
pub fn guarded_patch(index: u32, id: &str, complete: bool) -> Vec<PatchOperation> {
  let mut ops = vec![PatchOperation {
    op: "test".to_string(),
    path: format!("/phases/{index}/_id"),
    value: Some(Value::String(id.to_string())),
    from: None,
  }];
  ops.extend(phase_patch(index, complete));
  ops
}

/// The body that starts a phase: `{"status":"active"}`.
pub fn start_input() -> Value {
  serde_json::json!({ "status": ACTIVE })
}

/// What a phase change did, or on a dry run would do.
#[derive(Debug, Clone, PartialEq)]
pub enum PhaseOutcome {
  /// The release after the write, or as read when no write was needed (a phase of a
  /// new pipeline that is already complete).
  Done(Release),
  /// A dry run: the release as read (none when nothing needed reading, as for the start
  /// of a phase given by id) and the one write the change would send (none when it needs
  /// no write).
  Planned {
    release: Option<Release>,
    request: Option<PreparedRequest>,
    /// The kind of the release's pipeline, when the change read it (to complete or
    /// reopen); `Unknown` when it could not be read or does not say.
    kind: Option<PipelineKind>,
  },
}

/// The write a phase change needs, decided after its reads.
#[derive(Debug)]
struct Plan {
  /// The release as read, if it was.
  release: Option<Release>,
  write: Option<PlannedWrite>,
  /// The kind of the release's pipeline, if it was needed.
  kind: Option<PipelineKind>,
}

#[derive(Debug)]
struct PlannedWrite {
  request: PreparedRequest,
  /// For a guarded PATCH: the index and id the guard tests, to tell a release that
  /// moved from any other refusal.
  guard: Option<(usize, String)>,
  /// For a phase start: the id of the phase it starts (see `send_start`).
  starts: Option<String>,
}

impl Client {
  /// Completes, reopens or starts a phase. The release is read first (except to start a
  /// phase given by id), then, to complete or reopen, the kind of its pipeline
  /// (`pipeline_kind`, remembered per client); only then is the one write that kind
  /// takes sent. A phase the release does not have fails with `ERR_LD_INVALID_ARGUMENT`
  /// and a write a new pipeline cannot take with `ERR_LD_UNSUPPORTED`, before any write.
  pub async fn change_phase(
    &self,
    change: PhaseChange,
    options: RequestOptions,
  ) -> Result<Release> {
    match self.phase_outcome(change, false, options).await? {
      PhaseOutcome::Done(release) => Ok(release),
      PhaseOutcome::Planned { .. } => unreachable!("only a dry run plans"),
    }
  }

  /// `change_phase`, or with `dry_run` its reads and the write it would send.
  pub async fn phase_outcome(
    &self,
    change: PhaseChange,
    dry_run: bool,
    options: RequestOptions,
  ) -> Result<PhaseOutcome> {
    let outcome = async {
      let plan = self.plan(&change, options.clone()).await?;
      if dry_run {
        return Ok(PhaseOutcome::Planned {
          release: plan.release,
          request: plan.write.map(|w| w.request),
          kind: plan.kind,
        });
      }
      match (plan.write, plan.release) {
        (Some(write), _) => self.write(&change, write, options).await,
        (None, Some(release)) => Ok(release),
        (None, None) => unreachable!("a plan without a write has read the release"),
      }
      .map(PhaseOutcome::Done)
    };
    // Errors made here quote the server's phase names: masked like every echo.
    outcome.await.map_err(|e| self.mask_error(e))
  }

  fn release_request(
    &self,
    change: &PhaseChange,
    patch: Option<&[PatchOperation]>,
  ) -> Result<PreparedRequest> {
    let method = if patch.is_some() {
      Method::PATCH
    } else {
      Method::GET
    };
    PreparedRequest::release(
      self.config(),
      method,
      &change.project_key,
      &change.flag_key,
      patch,
    )
  }

  fn start_request(&self, change: &PhaseChange, phase_id: &str) -> Result<PreparedRequest> {
    PreparedRequest::update_phase_status(
      self.config(),
      &change.project_key,
      &change.flag_key,
      phase_id,
      &start_input(),
    )
  }

  /// The start of phase `phase_id`, as a planned write.
  fn start_write(&self, change: &PhaseChange, phase_id: &str) -> Result<PlannedWrite> {
    Ok(PlannedWrite {
      request: self.start_request(change, phase_id)?,
      guard: None,
      starts: Some(phase_id.to_string()),
    })
  }

  /// The reads of a phase change, and the write they lead to.
  async fn plan(&self, change: &PhaseChange, options: RequestOptions) -> Result<Plan> {
    if let (PhaseRef::Id(id), PhaseAction::Start) = (&change.phase, change.action) {
      return Ok(Plan {
        release: None,
        write: Some(self.start_write(change, id)?),
        kind: None,
      });
    }
    let before = self
      .send_release(self.release_request(change, None)?, options.clone())
      .await?;
    let view = before.view()?;
    let index = find_phase(&view, &change.phase)?;
    let complete = match change.action {
      PhaseAction::Start => {
        let start = self.start_write(change, unambiguous_id(&view, index)?)?;
        return Ok(Plan {
          write: Some(start),
          release: Some(before),
          kind: None,
        });
      }
      PhaseAction::Complete => true,
      PhaseAction::Reopen => false,
    };
    let (project, flag) = (&change.project_key, &change.flag_key);
    let kind = match view.release_pipeline_key.as_deref() {
      Some(pipeline) => {
        self.remember_pipeline(project, flag, Some(pipeline));
        self.pipeline_kind(project, pipeline, options).await?
      }
      None => PipelineKind::Unknown,
    };
    let write = if kind == PipelineKind::New {
      self.new_pipeline_write(change, &view, index, complete)?
    } else {
      Some(self.patch_write(change, &view, index, complete)?)
    };
    Ok(Plan {
      release: Some(before),
      write,
      kind: Some(kind),
    })
  }

  /// On a new pipeline: the start of the next phase, or nothing for a phase already
  /// complete; a reopening or a last phase is `ERR_LD_UNSUPPORTED`.
  fn new_pipeline_write(
    &self,
    change: &PhaseChange,
    view: &ReleaseView,
    index: usize,
    complete: bool,
  ) -> Result<Option<PlannedWrite>> {
    let (project, flag) = (&change.project_key, &change.flag_key);
    let pipeline = view.release_pipeline_key.as_deref().unwrap_or_default();
    if !complete {
      return Err(LdError::new(
        ErrorCode::Unsupported,
        format!(
          "The release of {project}/{flag} is in release pipeline {pipeline:?}, of the new kind, whose phases only move forward: a phase cannot be reopened. Nothing was changed"
        ),
      ));
    }
    let phase = &view.phases[index];
    if phase.complete {
      return Ok(None);
    }
    if index + 1 >= view.phases.len() {
      return Err(LdError::new(
        ErrorCode::Unsupported,
        format!(
          "Phase {index} ({:?}) is the last phase of the release of {project}/{flag}, in release pipeline {pipeline:?} of the new kind: LaunchDarkly has no call that completes a last phase (a release is finished once its last phase is active; use startPhase). Nothing was changed",
          phase.name
        ),
      ));
    }
    let next_id = unambiguous_id(view, index + 1)?;
    Ok(Some(self.start_write(change, next_id)?))
  }

  /// The PATCH of a legacy pipeline (or one whose kind could not be read): plain for an
  /// index, guarded by a `test` of the phase's id for a name or id.
  fn patch_write(
    &self,
    change: &PhaseChange,
    view: &ReleaseView,
    index: usize,
    complete: bool,
  ) -> Result<PlannedWrite> {
    let index32 = index as u32;
    if let PhaseRef::Index(_) = change.phase {
      let patch = phase_patch(index32, complete);
      return Ok(PlannedWrite {
        request: self.release_request(change, Some(&patch))?,
        guard: None,
        starts: None,
      });
    }
    let id = view.phases[index].id.clone();
    let patch = guarded_patch(index32, &id, complete);
    Ok(PlannedWrite {
      request: self.release_request(change, Some(&patch))?,
      guard: Some((index, id)),
      starts: None,
    })
  }

  /// The first request `change_phase` sends for `change`, without sending it: the start
  /// of a phase given by id, else the read of the release.
  pub fn first_request(&self, change: &PhaseChange) -> Result<PreparedRequest> {
    match (&change.phase, change.action) {
      (PhaseRef::Id(id), PhaseAction::Start) => self.start_request(change, id),
      _ => self.release_request(change, None),
    }
  }

  /// Sends the planned write. A phase start is sent by `send_start`. A guarded PATCH
  /// that is refused is followed by a read of the release, to tell a release that
  /// moved (`ERR_LD_CONFLICT`) from any other refusal (reported as it came).
  async fn write(
    &self,
    change: &PhaseChange,
    write: PlannedWrite,
    options: RequestOptions,
  ) -> Result<Release> {
    if let Some(phase_id) = &write.starts {
      let target = StartTarget {
        project_key: &change.project_key,
        flag_key: &change.flag_key,
        phase_id,
      };
      return self.send_start(&target, &write.request, options).await;
    }
    let result = self.send_release(write.request, options.clone()).await;
    let (Some((index, id)), Err(error)) = (write.guard, &result) else {
      return result;
    };
    if !matches!(error.code, ErrorCode::BadRequest | ErrorCode::Conflict) {
      return result;
    }
    let now = self
      .send_release(self.release_request(change, None)?, options)
      .await
      .and_then(|now| now.view());
    match now {
      Ok(now) if now.phases.get(index).map(|p| p.id.as_str()) != Some(id.as_str()) => {
        let held = now.phases.get(index).map(|p| p.name.as_str());
        Err(LdError::new(
          ErrorCode::Conflict,
          format!(
            "The release of {}/{} changed while phase {id:?} was being {}: index {index} now holds {}; nothing was changed",
            change.project_key,
            change.flag_key,
            if change.action == PhaseAction::Complete {
              "completed"
            } else {
              "reopened"
            },
            held.map_or("no phase".to_string(), |name| format!("{name:?}")),
          ),
        ))
      }
      _ => result,
    }
  }
}

/// The phase a start starts, and whose release it is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StartTarget<'a> {
  pub project_key: &'a str,
  pub flag_key: &'a str,
  pub phase_id: &'a str,
}

/// What a release, read after a phase start that may have been applied, says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum StartSeen {
  /// The phase is active (or started): the start is applied.
  Applied,
  /// The phase has not started: the start was not applied.
  NotApplied,
  /// The release cannot tell: why.
  Unknown(String),
}

/// One phase as a start's read-back looks at it.
#[derive(Debug, Deserialize)]
struct PhaseState {
  #[serde(rename = "_id")]
  id: String,
  #[serde(default)]
  complete: bool,
  #[serde(default)]
  status: Option<Value>,
  #[serde(default)]
  started: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct PhasesState {
  phases: Vec<PhaseState>,
}

/// Whether phase `phase_id` of a release with `phases` has been started: active (its
/// `status` `active` or `started`, any case; or, with no `status`, `started: true`) and
/// not complete. A phase complete (the release moved past it), or a release without
/// exactly one phase of that id, cannot tell.
fn start_seen(phases: &[PhaseState], phase_id: &str) -> StartSeen {
  let holders: Vec<&PhaseState> = phases.iter().filter(|p| p.id == phase_id).collect();
  let [phase] = holders.as_slice() else {
    return StartSeen::Unknown(format!(
      "the release, read to check, has {} phases with id {phase_id:?}",
      holders.len()
    ));
  };
  let status = phase.status.as_ref().and_then(Value::as_str);
  let is = |word: &str| status.is_some_and(|s| s.eq_ignore_ascii_case(word));
  if phase.complete || is("completed") || is("complete") {
    return StartSeen::Unknown(format!(
      "the release, read to check, has moved past phase {phase_id:?} (it is complete)"
    ));
  }
  let started = match status {
    Some(_) => is("active") || is("started"),
    None => phase.started == Some(Value::Bool(true)),
  };
  if started {
    StartSeen::Applied
  } else {
    StartSeen::NotApplied
  }
}

/// `error` counting `attempts` requests in all, its message's ` [n attempts]` too.
fn with_attempts(mut error: LdError, attempts: u32) -> LdError {
  if let Some(at) = error.message.rfind(" [") {
    let tail = &error.message[at..];
    if tail.ends_with(" attempt]") || tail.ends_with(" attempts]") {
      error.message.truncate(at);
      let plural = if attempts == 1 { "" } else { "s" };
      error.message = format!("{} [{attempts} attempt{plural}]", error.message);
    }
  }
  error.attempts = attempts;
  error
}

impl Client {
  /// Sends a phase start (`request`, `{"status":"active"}` to phase `target.phase_id`),
  /// never resending it blindly (see the module's notes). A start that may have been
  /// applied and got no usable answer, or a resend of one that is refused (400, 409),
  /// is followed by a read of the release (after the backoff a retry would wait): the
  /// phase active resolves the call with the release as read; the phase not started
  /// sends the start again while retries are left (`maxRetries`, counting every
  /// start sent), else fails with the start's error; a release that cannot tell fails
  /// with `ERR_LD_OUTCOME_UNKNOWN`. Errors have the token masked.
  pub(crate) async fn send_start(
    &self,
    target: &StartTarget<'_>,
    request: &PreparedRequest,
    options: RequestOptions,
  ) -> Result<Release> {
    let retries = options.max_retries.unwrap_or(self.config().max_retries);
    let mut attempts = 0;
    let mut unanswered = false;
    loop {
      let once = RequestOptions {
        max_retries: Some(retries.saturating_sub(attempts)),
        ..options.clone()
      };
      let (error, reached) = match self.send_once(request, once).await {
        Ok((body, status, sent)) => {
          let attempts = attempts + sent;
          return Release::from_body(body, status)
            .map(|release| release.with_attempts(attempts))
            .map_err(|e| self.mask_error(LdError { attempts, ..e }));
        }
        Err(failed) => failed,
      };
      attempts += error.attempts;
      let error = with_attempts(error, attempts);
      let refused_resend = unanswered && matches!(error.status, Some(400 | 409));
      if !reached && !refused_resend {
        return Err(error);
      }
      unanswered = true;
      tokio::time::sleep(std::time::Duration::from_millis(with_jitter(backoff_ms(
        attempts,
      ))))
      .await;
      let read = PreparedRequest::release(
        self.config(),
        Method::GET,
        target.project_key,
        target.flag_key,
        None,
      )?;
      let seen = self
        .send_release(read, options.clone())
        .await
        .and_then(|release| {
          let state: PhasesState = release.parse("release")?;
          Ok((start_seen(&state.phases, target.phase_id), release))
        });
      let why = match seen {
        Ok((StartSeen::Applied, release)) => return Ok(release.with_attempts(attempts)),
        Ok((StartSeen::NotApplied, _)) if !refused_resend && attempts <= retries => continue,
        Ok((StartSeen::NotApplied, _)) => return Err(error),
        Ok((StartSeen::Unknown(why), _)) => why,
        Err(read) => format!("the release could not be read to check ({})", read.message),
      };
      return Err(self.mask_error(LdError {
        code: ErrorCode::OutcomeUnknown,
        message: format!(
          "The start of phase {:?} of the release of {}/{} may or may not have been applied: {}; {why}. Check with getRelease('{}', '{}') before starting it again",
          target.phase_id,
          target.project_key,
          target.flag_key,
          error.message,
          target.project_key,
          target.flag_key
        ),
        ..error
      }));
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn release(names: &[(&str, &str)]) -> ReleaseView {
    let phases: Vec<Value> = names
      .iter()
      .map(|(id, name)| {
        serde_json::json!({"_id": id, "_name": name, "complete": false, "_creationDate": 1, "_audiences": []})
      })
      .collect();
    let body = serde_json::json!({
      "name": "R", "releasePipelineKey": "k", "releasePipelineDescription": "", "_version": 1, "phases": phases
    });
    Release::from_body(body.to_string().into_bytes(), 200)
      .unwrap()
      .view()
      .unwrap()
  }

  #[test]
  fn finds_phases_by_index_name_and_id() {
    let r = release(&[("a", "Testing"), ("b", "QA"), ("c", "Production")]);
    assert_eq!(find_phase(&r, &PhaseRef::Index(2)).unwrap(), 2);
    assert_eq!(find_phase(&r, &PhaseRef::Name("QA".into())).unwrap(), 1);
    assert_eq!(find_phase(&r, &PhaseRef::Id("c".into())).unwrap(), 2);
  }

  #[test]
  fn unknown_names_list_the_phases() {
    let r = release(&[("a", "Testing"), ("b", "QA")]);
    let err = find_phase(&r, &PhaseRef::Name("Staging".into())).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    assert_eq!(
      err.message,
      r#"no phase named "Staging"; the phases are 0: "Testing", 1: "QA""#
    );
    let err = find_phase(&r, &PhaseRef::Index(2)).unwrap_err();
    assert!(
      err.message.contains("the release has 2 phases"),
      "{}",
      err.message
    );
  }

  #[test]
  fn a_release_of_thousands_of_phases_makes_a_short_message() {
    let long = "N".repeat(500);
    let phases: Vec<(String, String)> = (0..20_000)
      .map(|i| {
        (
          format!("id-{i}"),
          if i == 3 {
            long.clone()
          } else {
            format!("Phase {i}")
          },
        )
      })
      .collect();
    let refs: Vec<(&str, &str)> = phases
      .iter()
      .map(|(a, b)| (a.as_str(), b.as_str()))
      .collect();
    let r = release(&refs);
    let err = find_phase(&r, &PhaseRef::Name("Nope".into())).unwrap_err();
    assert!(err.message.len() < 2_000, "{} bytes", err.message.len());
    assert!(
      err.message.contains(r#"0: "Phase 0", 1: "Phase 1""#),
      "{}",
      err.message
    );
    assert!(
      err.message.contains(&format!("3: \"{}\"…", "N".repeat(60))),
      "{}",
      err.message
    );
    assert!(
      err.message.contains(r#"19: "Phase 19", and 19980 more"#),
      "{}",
      err.message
    );
    assert!(!err.message.contains("Phase 20\""), "{}", err.message);
    // Exactly LISTED_PHASES phases: all listed, no "more".
    let twenty: Vec<(&str, &str)> = refs[..20].to_vec();
    let err = find_phase(&release(&twenty), &PhaseRef::Name("Nope".into())).unwrap_err();
    assert!(
      err.message.ends_with(r#"19: "Phase 19""#),
      "{}",
      err.message
    );
    // A name shared by thousands: the first indexes, and how many more.
    let same: Vec<(String, &str)> = (0..5_000).map(|i| (format!("s{i}"), "QA")).collect();
    let same: Vec<(&str, &str)> = same.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    let err = find_phase(&release(&same), &PhaseRef::Name("QA".into())).unwrap_err();
    assert!(err.message.len() < 500, "{}", err.message);
    assert!(
      err.message.contains(
        "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19] and 4980 more"
      ),
      "{}",
      err.message
    );
    assert_eq!(listed(&[1, 2]), "[1, 2]");
  }

  #[test]
  fn ambiguous_names_are_refused() {
    let r = release(&[("a", "QA"), ("b", "QA")]);
    let err = find_phase(&r, &PhaseRef::Name("QA".into())).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
    assert!(
      err
        .message
        .starts_with("2 phases are named \"QA\" (indexes [0, 1])"),
      "{}",
      err.message
    );
  }

  fn states(phases: Value) -> Vec<PhaseState> {
    serde_json::from_value(phases).unwrap()
  }

  #[test]
  fn a_start_is_seen_applied_only_when_its_phase_is_active() {
    let seen = |phase: Value| {
      let mut all = vec![serde_json::json!({"_id": "a", "complete": true, "status": "completed"})];
      all.push(phase);
      start_seen(&states(Value::Array(all)), "b")
    };
    use serde_json::json;
    assert_eq!(
      seen(json!({"_id": "b", "status": "active"})),
      StartSeen::Applied
    );
    assert_eq!(
      seen(json!({"_id": "b", "status": "Started"})),
      StartSeen::Applied
    );
    assert_eq!(
      seen(json!({"_id": "b", "status": "ACTIVE", "started": false})),
      StartSeen::Applied
    );
    // With no status, `started` says.
    assert_eq!(
      seen(json!({"_id": "b", "started": true})),
      StartSeen::Applied
    );
    assert_eq!(
      seen(json!({"_id": "b", "started": false})),
      StartSeen::NotApplied
    );
    assert_eq!(
      seen(json!({"_id": "b", "started": "yes"})),
      StartSeen::NotApplied
    );
    assert_eq!(seen(json!({"_id": "b"})), StartSeen::NotApplied);
    // A status says more than `started`.
    for status in ["not-started", "ready-to-start", "Paused", "inactive"] {
      assert_eq!(
        seen(json!({"_id": "b", "status": status, "started": true})),
        StartSeen::NotApplied,
        "{status}"
      );
    }
    // A status that is not a string is none.
    assert_eq!(
      seen(json!({"_id": "b", "status": 1, "started": true})),
      StartSeen::Applied
    );
    assert_eq!(
      seen(json!({"_id": "b", "status": 1})),
      StartSeen::NotApplied
    );
    // Complete: moved past it, whatever else it says.
    for phase in [
      json!({"_id": "b", "complete": true, "status": "active"}),
      json!({"_id": "b", "status": "completed"}),
      json!({"_id": "b", "status": "Complete", "started": true}),
    ] {
      let StartSeen::Unknown(why) = seen(phase.clone()) else {
        panic!("{phase}")
      };
      assert_eq!(
        why,
        "the release, read to check, has moved past phase \"b\" (it is complete)"
      );
    }
    // Not exactly one phase of that id.
    assert_eq!(
      start_seen(&states(json!([{"_id": "a"}])), "b"),
      StartSeen::Unknown("the release, read to check, has 0 phases with id \"b\"".into())
    );
    assert_eq!(
      start_seen(
        &states(json!([{"_id": "b", "status": "active"}, {"_id": "b"}])),
        "b"
      ),
      StartSeen::Unknown("the release, read to check, has 2 phases with id \"b\"".into())
    );
  }

  #[test]
  fn an_error_is_told_the_attempts_of_every_start_sent() {
    let error = |message: &str| LdError {
      attempts: 1,
      ..LdError::new(ErrorCode::Timeout, message)
    };
    let told = with_attempts(error("PUT /x timed out after 1000 ms [1 attempt]"), 3);
    assert_eq!(told.message, "PUT /x timed out after 1000 ms [3 attempts]");
    assert_eq!(told.attempts, 3);
    assert_eq!(
      with_attempts(error("PUT /x failed [2 attempts]"), 1).message,
      "PUT /x failed [1 attempt]"
    );
    // A message without the count is kept; only the trailing count is replaced.
    assert_eq!(with_attempts(error("no count"), 2).message, "no count");
    assert_eq!(
      with_attempts(error("a [note] here"), 2).message,
      "a [note] here"
    );
    assert_eq!(
      with_attempts(error("x [note] [1 attempt]"), 2).message,
      "x [note] [2 attempts]"
    );
  }

  #[test]
  fn the_guard_tests_the_phase_id_first() {
    let body = serde_json::to_string(&guarded_patch(1, "b", true)).unwrap();
    assert_eq!(
      body,
      r#"[{"op":"test","path":"/phases/1/_id","value":"b"},{"op":"replace","path":"/phases/1/complete","value":true}]"#
    );
  }
}
