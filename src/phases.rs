//! Phases named by index, by name or by id.
//!
//! A name or id is looked up in the current release, and the patch that follows carries a
//! JSON Patch `test` that the phase at that index still has that id, so a release that
//! changed in between is never patched at the wrong phase.

use reqwest::Method;
use serde_json::Value;

use crate::client::{Client, PreparedRequest};
use crate::config::RequestOptions;
use crate::error::{ErrorCode, LdError, Result};
use crate::patch::{phase_patch, PatchOperation};
use crate::release::Release;

/// Which phase a call means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhaseRef {
  Index(u32),
  Name(String),
  Id(String),
}

/// A phase change, validated and ready to run.
#[derive(Debug, Clone)]
pub struct PhaseChange {
  pub project_key: String,
  pub flag_key: String,
  pub phase: PhaseRef,
  pub complete: bool,
}

/// The index of the phase `phase` names in `release`.
pub fn find_phase(release: &Release, phase: &PhaseRef) -> Result<usize> {
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
      "{} phases are {what} (indexes {several:?}); name the phase by index or id",
      several.len()
    ))),
  }
}

fn positions(
  release: &Release,
  keep: impl Fn(&crate::release::ReleasePhase) -> bool,
) -> Vec<usize> {
  (0..release.phases.len())
    .filter(|&i| keep(&release.phases[i]))
    .collect()
}

fn names(release: &Release) -> String {
  let names: Vec<String> = release
    .phases
    .iter()
    .enumerate()
    .map(|(i, p)| format!("{i}: {:?}", p.name))
    .collect();
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

impl Client {
  /// Marks a phase complete or incomplete. An index is patched directly; a name or id is
  /// looked up first and the patch is guarded (see the module documentation).
  pub async fn change_phase(
    &self,
    change: PhaseChange,
    options: RequestOptions,
  ) -> Result<Release> {
    let PhaseChange {
      project_key,
      flag_key,
      phase,
      complete,
    } = change;
    let config = self.config();
    let patch = |ops: &[PatchOperation]| {
      PreparedRequest::release(config, Method::PATCH, &project_key, &flag_key, Some(ops))
    };
    let get = || PreparedRequest::release(config, Method::GET, &project_key, &flag_key, None);
    if let PhaseRef::Index(index) = phase {
      return self
        .send_release(patch(&phase_patch(index, complete))?, options)
        .await;
    }
    let before = self.send_release(get()?, options).await?;
    let index = find_phase(&before, &phase)?;
    let id = before.phases[index].id.clone();
    let conflict = |now: &Release| {
      let held = now.phases.get(index).map(|p| p.name.as_str());
      LdError::new(
        ErrorCode::Conflict,
        format!(
          "The release of {project_key}/{flag_key} changed while phase {id:?} was being {}: index {index} now holds {}; nothing was changed",
          if complete { "completed" } else { "reopened" },
          held.map_or("no phase".to_string(), |name| format!("{name:?}")),
        ),
      )
    };
    let index32 = index as u32;
    match self
      .send_release(patch(&guarded_patch(index32, &id, complete))?, options)
      .await
    {
      Ok(after) => Ok(after),
      Err(error) if matches!(error.code, ErrorCode::BadRequest | ErrorCode::Conflict) => {
        // Refused: tell a release that moved (the guard failed) from any other refusal.
        match self.send_release(get()?, options).await {
          Ok(now) if now.phases.get(index).map(|p| p.id.as_str()) != Some(id.as_str()) => {
            Err(conflict(&now))
          }
          _ => Err(error),
        }
      }
      Err(error) => Err(error),
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn release(names: &[(&str, &str)]) -> Release {
    let phases: Vec<Value> = names
      .iter()
      .map(|(id, name)| {
        serde_json::json!({"_id": id, "_name": name, "complete": false, "_creationDate": 1, "_audiences": []})
      })
      .collect();
    let body = serde_json::json!({
      "name": "R", "releasePipelineKey": "k", "releasePipelineDescription": "", "_version": 1, "phases": phases
    });
    crate::release::decode_release(body.to_string().as_bytes(), 200).unwrap()
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

  #[test]
  fn the_guard_tests_the_phase_id_first() {
    let body = serde_json::to_string(&guarded_patch(1, "b", true)).unwrap();
    assert_eq!(
      body,
      r#"[{"op":"test","path":"/phases/1/_id","value":"b"},{"op":"replace","path":"/phases/1/complete","value":true}]"#
    );
  }
}
