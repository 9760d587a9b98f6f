//! Release pipelines and release progressions: lists read a page at a time, the
//! pipeline's own reads and writes, and moving every flag at a phase forward.
//!
//! Lists are `{ "items": [...], "totalCount": n }` pages, asked for with `limit` and
//! `offset`; each item is handed on as the server sent it. Progressions are filtered
//! the way LaunchDarkly's own tools write it:
//! `filter=status equals "active",activePhaseId equals "<phase id>"`.

use std::sync::Arc;

use reqwest::Method;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::client::{Client, PreparedRequest};
use crate::config::{encode_segment, validate_key, ClientConfig, RequestOptions};
use crate::error::{ErrorCode, LdError, Result};
use crate::patch::PatchOperation;
use crate::phases::{find_phase, guarded_patch, start_input, PhaseRef};
use crate::release::{decode_error, PhaseView, PipelineKind, Release, ReleaseView};

/// Items asked for per page. LaunchDarkly's default is 20; a server that sends fewer per
/// page is still read to the end (the next offset counts what came).
pub const PAGE_SIZE: u32 = 50;

/// One page of a list: its items as JSON texts, and the total the server reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
  pub items: Vec<String>,
  pub total_count: Option<u64>,
}

impl Page {
  /// Checks a 2xx list body: an object whose `items` is an array of objects.
  pub fn from_body(body: &[u8], status: u16) -> Result<Page> {
    #[derive(Deserialize)]
    struct Repr<'a> {
      #[serde(borrow)]
      items: Vec<&'a RawValue>,
      #[serde(rename = "totalCount", default)]
      total_count: Option<Value>,
    }
    let text = String::from_utf8_lossy(body);
    let repr: Repr = serde_json::from_str(&text).map_err(|e| {
      decode_error(
        status,
        &format!("its answer is not a list page with an items array ({e})"),
        &text,
      )
    })?;
    if let Some(index) = repr
      .items
      .iter()
      .position(|item| !item.get().starts_with('{'))
    {
      return Err(decode_error(
        status,
        &format!("its answer has no usable items[{index}] (not an object)"),
        &text,
      ));
    }
    Ok(Page {
      items: repr
        .items
        .iter()
        .map(|item| item.get().to_string())
        .collect(),
      total_count: repr.total_count.and_then(|v| v.as_u64()),
    })
  }
}

/// Which progressions to list: `status` `active` or `completed`, and the active phase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProgressionFilter {
  pub status: Option<String>,
  pub active_phase_id: Option<String>,
}

impl ProgressionFilter {
  /// Checks the combination LaunchDarkly accepts.
  pub fn validate(&self) -> Result<()> {
    if let Some(status) = &self.status {
      if status != "active" && status != "completed" {
        return Err(LdError::invalid(format!(
          "status must be 'active' or 'completed', got {status:?}"
        )));
      }
      if status == "completed" && self.active_phase_id.is_some() {
        return Err(LdError::invalid(
          "status 'completed' cannot be combined with a phase: a completed release has no active phase",
        ));
      }
    }
    Ok(())
  }

  /// The `filter` query value, e.g. `status equals "active",activePhaseId equals "p1"`.
  pub fn query(&self) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(status) = &self.status {
      parts.push(format!("status equals {}", quoted(status)));
    }
    if let Some(id) = &self.active_phase_id {
      parts.push(format!("activePhaseId equals {}", quoted(id)));
    }
    (!parts.is_empty()).then(|| parts.join(","))
  }
}

/// `value` as a quoted string of the filter syntax: between double quotes, a `"` or `\`
/// in it preceded by `\`, every other character as it is (the whole filter is
/// percent-encoded in the URL). Not Rust's debug form, whose `\u{308}` and `\n` nothing
/// reads back.
fn quoted(value: &str) -> String {
  let mut out = String::with_capacity(value.len() + 2);
  out.push('"');
  for c in value.chars() {
    if c == '"' || c == '\\' {
      out.push('\\');
    }
    out.push(c);
  }
  out.push('"');
  out
}

fn pipelines_path(project_key: &str) -> Vec<&str> {
  vec!["api", "v2", "projects", project_key, "release-pipelines"]
}

/// `url` with `filter`, `limit` and `offset` set, each percent-encoded.
fn with_page(mut request: PreparedRequest, filter: Option<&str>, offset: u64) -> PreparedRequest {
  let mut query = String::new();
  if let Some(filter) = filter {
    query.push_str("filter=");
    query.push_str(&encode_segment(filter));
    query.push('&');
  }
  query.push_str(&format!("limit={PAGE_SIZE}&offset={offset}"));
  request.url.set_query(Some(&query));
  request
}

impl PreparedRequest {
  /// `GET /api/v2/projects/{projectKey}/release-pipelines?limit=..&offset=..`
  pub fn release_pipelines_page(
    config: &ClientConfig,
    project_key: &str,
    offset: u64,
  ) -> Result<Self> {
    validate_key("projectKey", project_key)?;
    let request = PreparedRequest {
      method: Method::GET,
      url: config.url_for(&pipelines_path(project_key)),
      body: None,
    };
    Ok(with_page(request, None, offset))
  }

  /// `POST /api/v2/projects/{projectKey}/release-pipelines`
  pub fn create_release_pipeline(
    config: &ClientConfig,
    project_key: &str,
    input: &Value,
  ) -> Result<Self> {
    validate_key("projectKey", project_key)?;
    Ok(PreparedRequest {
      method: Method::POST,
      url: config.url_for(&pipelines_path(project_key)),
      body: Some(encode_body(input)?),
    })
  }

  /// `GET`, `PUT` (with `input`) or `DELETE` on
  /// `/api/v2/projects/{projectKey}/release-pipelines/{pipelineKey}`.
  pub fn release_pipeline_with(
    config: &ClientConfig,
    method: Method,
    project_key: &str,
    pipeline_key: &str,
    input: Option<&Value>,
  ) -> Result<Self> {
    validate_key("projectKey", project_key)?;
    validate_key("pipelineKey", pipeline_key)?;
    let mut segments = pipelines_path(project_key);
    segments.push(pipeline_key);
    Ok(PreparedRequest {
      method,
      url: config.url_for(&segments),
      body: input.map(encode_body).transpose()?,
    })
  }

  /// `GET /api/v2/projects/{projectKey}/release-pipelines/{pipelineKey}/releases?...`
  pub fn release_progressions_page(
    config: &ClientConfig,
    project_key: &str,
    pipeline_key: &str,
    filter: &ProgressionFilter,
    offset: u64,
  ) -> Result<Self> {
    validate_key("projectKey", project_key)?;
    validate_key("pipelineKey", pipeline_key)?;
    filter.validate()?;
    let mut segments = pipelines_path(project_key);
    segments.extend([pipeline_key, "releases"]);
    let request = PreparedRequest {
      method: Method::GET,
      url: config.url_for(&segments),
      body: None,
    };
    Ok(with_page(request, filter.query().as_deref(), offset))
  }
}

fn encode_body(input: &Value) -> Result<Vec<u8>> {
  if !input.is_object() {
    return Err(LdError::invalid("input must be an object"));
  }
  serde_json::to_vec(input)
    .map_err(|e| LdError::invalid(format!("input could not be encoded: {e}")))
}

/// A list read page by page: the next page is fetched only when asked for.
#[derive(Debug, Clone)]
pub struct Pager {
  /// The request of a page at an offset.
  kind: PagerKind,
  offset: u64,
  done: bool,
}

#[derive(Debug, Clone)]
enum PagerKind {
  Pipelines {
    project_key: String,
  },
  Progressions {
    project_key: String,
    pipeline_key: String,
    filter: ProgressionFilter,
    /// A phase still to be looked up in the pipeline (its id goes into `filter`).
    phase: Option<PhaseRef>,
  },
}

impl Pager {
  /// Every release pipeline of a project.
  pub fn pipelines(project_key: &str) -> Result<Self> {
    validate_key("projectKey", project_key)?;
    Ok(Pager {
      kind: PagerKind::Pipelines {
        project_key: project_key.to_string(),
      },
      offset: 0,
      done: false,
    })
  }

  /// The release progressions of a pipeline that pass `filter`.
  pub fn progressions(
    project_key: &str,
    pipeline_key: &str,
    filter: ProgressionFilter,
  ) -> Result<Self> {
    Pager::progressions_at(project_key, pipeline_key, filter, None)
  }

  /// The release progressions of a pipeline that pass `filter` and, with `phase`, whose
  /// active phase is that phase of the pipeline (a phase by index or name is looked up
  /// by the first page's fetch; the status is then `active`).
  pub fn progressions_at(
    project_key: &str,
    pipeline_key: &str,
    mut filter: ProgressionFilter,
    phase: Option<PhaseRef>,
  ) -> Result<Self> {
    validate_key("projectKey", project_key)?;
    validate_key("pipelineKey", pipeline_key)?;
    if phase.is_some() {
      // A phase means releases active at it; only the status can say otherwise.
      filter.validate()?;
      if filter.status.as_deref() == Some("completed") {
        return Err(LdError::invalid(
          "status 'completed' cannot be combined with a phase: a completed release has no active phase",
        ));
      }
      filter.status = Some("active".to_string());
    }
    filter.validate()?;
    // A phase given by id is in the filter from the first request; one given by index
    // or name is looked up then.
    let phase = match phase {
      Some(PhaseRef::Id(id)) => {
        filter.active_phase_id = Some(id);
        None
      }
      phase => phase,
    };
    Ok(Pager {
      kind: PagerKind::Progressions {
        project_key: project_key.to_string(),
        pipeline_key: pipeline_key.to_string(),
        filter,
        phase,
      },
      offset: 0,
      done: false,
    })
  }

  /// Ends the list: no more pages are fetched.
  pub fn finish(&mut self) {
    self.done = true;
  }

  pub fn is_done(&self) -> bool {
    self.done
  }

  /// The request for the next page.
  pub fn request(&self, config: &ClientConfig) -> Result<PreparedRequest> {
    match &self.kind {
      PagerKind::Pipelines { project_key } => {
        PreparedRequest::release_pipelines_page(config, project_key, self.offset)
      }
      PagerKind::Progressions {
        project_key,
        pipeline_key,
        filter,
        ..
      } => PreparedRequest::release_progressions_page(
        config,
        project_key,
        pipeline_key,
        filter,
        self.offset,
      ),
    }
  }

  /// The first request reading this list sends: the read of the pipeline when a phase
  /// given by index or name is still to be looked up, else the next page.
  pub fn first_request(&self, config: &ClientConfig) -> Result<PreparedRequest> {
    match &self.kind {
      PagerKind::Progressions {
        project_key,
        pipeline_key,
        phase: Some(_),
        ..
      } => {
        PreparedRequest::release_pipeline_with(config, Method::GET, project_key, pipeline_key, None)
      }
      _ => self.request(config),
    }
  }

  /// Moves past `page`: the list ends on an empty page, or once the reported total is
  /// reached.
  pub fn advance(&mut self, page: &Page) {
    self.offset += page.items.len() as u64;
    self.done = page.items.is_empty() || page.total_count.is_some_and(|t| self.offset >= t);
  }
}

/// What the client reads of a pipeline to move flags through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineView {
  pub kind: PipelineKind,
  /// The phases as a release of this pipeline has them (`_id`, `_name`).
  pub phases: ReleaseView,
}

impl PipelineView {
  /// Reads `phases` (`id`, `name`) and `_isLegacy` of a pipeline answer.
  pub fn from_answer(answer: &Release) -> Result<PipelineView> {
    #[derive(Deserialize)]
    struct Repr {
      phases: Vec<PhaseRepr>,
    }
    #[derive(Deserialize)]
    struct PhaseRepr {
      id: String,
      name: String,
    }
    let repr: Repr = answer.parse("pipeline")?;
    Ok(PipelineView {
      kind: PipelineKind::from_pipeline_body(answer.json().as_bytes()),
      phases: ReleaseView {
        release_pipeline_key: None,
        phases: repr
          .phases
          .into_iter()
          .map(|p| PhaseView {
            id: p.id,
            name: p.name,
            complete: false,
            status: None,
          })
          .collect(),
      },
    })
  }
}

/// The one write that moves a flag at phase `index` of a pipeline past it: on a legacy
/// pipeline the guarded PATCH (the phase at that index must still have that id), on a
/// new one the start of the next phase. `None` for the last phase of a new pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum AdvanceWrite {
  Patch(Vec<PatchOperation>),
  Start { phase_id: String },
}

impl PipelineView {
  /// The phase `from` names, and the write that moves a flag past it.
  pub fn advance_write(&self, from: &PhaseRef) -> Result<(usize, AdvanceWrite)> {
    let index = find_phase(&self.phases, from)?;
    let phase = &self.phases.phases[index];
    if self.kind != PipelineKind::New {
      return Ok((
        index,
        AdvanceWrite::Patch(guarded_patch(index as u32, &phase.id, true)),
      ));
    }
    match self.phases.phases.get(index + 1) {
      Some(next) => Ok((
        index,
        AdvanceWrite::Start {
          phase_id: next.id.clone(),
        },
      )),
      None => Err(LdError::new(
        ErrorCode::Unsupported,
        format!(
          "Phase {index} ({:?}) is the last phase of a release pipeline of the new kind: LaunchDarkly has no call that completes it. Nothing was changed",
          phase.name
        ),
      )),
    }
  }
}

impl Client {
  /// Sends a request whose answer is a JSON object (a pipeline), checked as a release is.
  pub async fn send_object(
    &self,
    request: PreparedRequest,
    options: RequestOptions,
  ) -> Result<Release> {
    self.send_release(request, options).await
  }

  /// Fetches the next page of `pager` and moves it on (the first page of progressions
  /// at a phase given by index or name first reads the pipeline to learn its id).
  pub async fn next_page(&self, pager: &mut Pager, options: RequestOptions) -> Result<Page> {
    if let PagerKind::Progressions {
      project_key,
      pipeline_key,
      filter,
      phase,
    } = &mut pager.kind
    {
      if let Some(phase) = phase.take() {
        let view = self
          .read_pipeline(project_key, pipeline_key, options.clone())
          .await?;
        let index = find_phase(&view.phases, &phase)?;
        filter.active_phase_id = Some(view.phases.phases[index].id.clone());
      }
    }
    let request = pager.request(self.config())?;
    let (body, status) = self.send_raw(&request, options).await?;
    let page = Page::from_body(&body, status)?;
    pager.advance(&page);
    Ok(page)
  }

  /// Reads a pipeline's phases and kind, and remembers the kind.
  pub async fn read_pipeline(
    &self,
    project_key: &str,
    pipeline_key: &str,
    options: RequestOptions,
  ) -> Result<PipelineView> {
    let request = PreparedRequest::release_pipeline_with(
      self.config(),
      Method::GET,
      project_key,
      pipeline_key,
      None,
    )?;
    let view = PipelineView::from_answer(&self.send_release(request, options).await?)?;
    self.remember_kind(project_key, pipeline_key, view.kind);
    Ok(view)
  }

  /// Moves every flag whose active phase is `from` past it, one write each (see
  /// `AdvanceWrite`): reads the pipeline, lists the flags at that phase (every page),
  /// then writes at most `concurrency` at a time. A last phase of a new pipeline fails
  /// the call before anything is written. With `dry_run`, nothing is written and each
  /// flag gets the request it would be sent, or the error the real run would give it.
  pub async fn advance_pipeline(
    self: &Arc<Self>,
    project_key: &str,
    pipeline_key: &str,
    from: &PhaseRef,
    settings: AdvanceSettings,
    options: RequestOptions,
  ) -> Result<Vec<Advance>> {
    let view = self
      .read_pipeline(project_key, pipeline_key, options.clone())
      .await?;
    let (index, write) = view.advance_write(from)?;
    let filter = ProgressionFilter {
      status: Some("active".to_string()),
      active_phase_id: Some(view.phases.phases[index].id.clone()),
    };
    let mut pager = Pager::progressions(project_key, pipeline_key, filter)?;
    let mut flags = Vec::new();
    while !pager.is_done() {
      let page = self.next_page(&mut pager, options.clone()).await?;
      for item in &page.items {
        flags.push(flag_key_of(item)?);
      }
    }
    if settings.dry_run {
      // A flag whose request cannot be made fails alone, as in the real run, which
      // writes the others: the dry run shows the same.
      return Ok(
        flags
          .into_iter()
          .map(|flag_key| {
            let outcome = match advance_request(self.config(), project_key, &flag_key, &write) {
              Ok(request) => AdvanceOutcome::Planned(request),
              Err(error) => AdvanceOutcome::Done(Err(error)),
            };
            Advance { flag_key, outcome }
          })
          .collect(),
      );
    }
    let project = project_key.to_string();
    let write = Arc::new(write);
    let items = flags.iter().cloned().map(Ok).collect();
    let results = crate::bulk::run_each(
      self.clone(),
      items,
      settings.concurrency,
      settings.progress,
      move |client, flag_key: String| {
        let (project, write, options) = (project.clone(), write.clone(), options.clone());
        Box::pin(async move {
          client
            .advance_flag(&project, &flag_key, &write, options)
            .await
        })
      },
    )
    .await;
    Ok(
      flags
        .into_iter()
        .zip(results)
        .map(|(flag_key, result)| Advance {
          flag_key,
          outcome: AdvanceOutcome::Done(result),
        })
        .collect(),
    )
  }

  /// The write that moves `flag_key` past phase `index` (see `AdvanceWrite`).
  pub async fn advance_flag(
    &self,
    project_key: &str,
    flag_key: &str,
    write: &AdvanceWrite,
    options: RequestOptions,
  ) -> Result<Release> {
    let request = advance_request(self.config(), project_key, flag_key, write)?;
    self.send_release(request, options).await
  }
}

/// The request `write` makes for one flag.
pub fn advance_request(
  config: &ClientConfig,
  project_key: &str,
  flag_key: &str,
  write: &AdvanceWrite,
) -> Result<PreparedRequest> {
  match write {
    AdvanceWrite::Patch(patch) => {
      PreparedRequest::release(config, Method::PATCH, project_key, flag_key, Some(patch))
    }
    AdvanceWrite::Start { phase_id } => {
      PreparedRequest::update_phase_status(config, project_key, flag_key, phase_id, &start_input())
    }
  }
}

/// The `flagKey` of a progression item.
fn flag_key_of(item: &str) -> Result<String> {
  #[derive(Deserialize)]
  struct Repr {
    #[serde(rename = "flagKey")]
    flag_key: String,
  }
  serde_json::from_str::<Repr>(item)
    .map(|r| r.flag_key)
    .map_err(|e| {
      decode_error(
        200,
        &format!("a progression has no usable flagKey ({e})"),
        item,
      )
    })
}

/// How `advance_pipeline` runs.
#[derive(Clone, Default)]
pub struct AdvanceSettings {
  pub concurrency: usize,
  pub progress: Option<crate::bulk::Progress>,
  pub dry_run: bool,
}

/// What became of one flag of `advance_pipeline`.
#[derive(Debug)]
pub struct Advance {
  pub flag_key: String,
  pub outcome: AdvanceOutcome,
}

#[derive(Debug)]
pub enum AdvanceOutcome {
  /// The write's answer (or error).
  Done(Result<Release>),
  /// A dry run: the request that would be sent.
  Planned(PreparedRequest),
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::config::ClientOptions;

  fn config() -> ClientConfig {
    ClientConfig::resolve(&ClientOptions::default(), |_| None).unwrap()
  }

  #[test]
  fn filter_values_are_quoted_as_the_filter_syntax_reads_them() {
    let filter = |id: &str| ProgressionFilter {
      status: Some("active".to_string()),
      active_phase_id: Some(id.to_string()),
    };
    assert_eq!(
      filter("p1").query().as_deref(),
      Some(r#"status equals "active",activePhaseId equals "p1""#)
    );
    // Quotes and backslashes escaped; anything else as it is, combining marks, newlines
    // and commas included (no Rust debug escapes such as `\u{308}`).
    assert_eq!(
      filter("a\"b\\c e\u{308}\n,x").query().as_deref(),
      Some("status equals \"active\",activePhaseId equals \"a\\\"b\\\\c e\u{308}\n,x\"")
    );
    assert_eq!(quoted(""), "\"\"");
    assert_eq!(quoted("\\"), "\"\\\\\"");
  }

  #[test]
  fn pages_keep_each_item_as_sent() {
    let body = br#"{"items":[{"key":"a","new":[1]},{"key":"b"}],"totalCount":7,"extra":true}"#;
    let page = Page::from_body(body, 200).unwrap();
    assert_eq!(page.items, [r#"{"key":"a","new":[1]}"#, r#"{"key":"b"}"#]);
    assert_eq!(page.total_count, Some(7));
    let sparse = Page::from_body(br#"{"items":[]}"#, 200).unwrap();
    assert_eq!(sparse.total_count, None);
    for bad in [
      &br#"{"totalCount":1}"#[..],
      b"[]",
      br#"{"items":[1]}"#,
      b"<html>",
    ] {
      let err = Page::from_body(bad, 200).unwrap_err();
      assert_eq!(err.code, ErrorCode::Decode, "{bad:?}");
    }
    let err = Page::from_body(br#"{"items":[{},"x"]}"#, 200).unwrap_err();
    assert!(err.message.contains("items[1]"), "{}", err.message);
  }

  #[test]
  fn the_pager_stops_at_the_total_or_an_empty_page() {
    let mut pager = Pager::pipelines("web").unwrap();
    let page = |n: usize, total: Option<u64>| Page {
      items: vec!["{}".to_string(); n],
      total_count: total,
    };
    pager.advance(&page(50, Some(120)));
    assert!(!pager.is_done());
    assert_eq!(
      pager.request(&config()).unwrap().url.query(),
      Some("limit=50&offset=50")
    );
    pager.advance(&page(20, Some(120)));
    assert!(
      !pager.is_done(),
      "a short page is not the end while the total is ahead"
    );
    pager.advance(&page(50, Some(120)));
    assert!(pager.is_done());
    let mut no_total = Pager::pipelines("web").unwrap();
    no_total.advance(&page(3, None));
    assert!(!no_total.is_done());
    no_total.advance(&page(0, None));
    assert!(no_total.is_done());
  }

  #[test]
  fn progressions_are_filtered_as_launchdarkly_writes_it() {
    let filter = ProgressionFilter {
      status: Some("active".into()),
      active_phase_id: Some("p 1".into()),
    };
    let request =
      PreparedRequest::release_progressions_page(&config(), "web", "rollout", &filter, 0).unwrap();
    assert_eq!(
      request.url.path(),
      "/api/v2/projects/web/release-pipelines/rollout/releases"
    );
    assert_eq!(
      request.url.query(),
      Some("filter=status%20equals%20%22active%22%2CactivePhaseId%20equals%20%22p%201%22&limit=50&offset=0")
    );
    let bad = ProgressionFilter {
      status: Some("completed".into()),
      active_phase_id: Some("p1".into()),
    };
    assert_eq!(bad.validate().unwrap_err().code, ErrorCode::InvalidArgument);
    let odd = ProgressionFilter {
      status: Some("paused".into()),
      active_phase_id: None,
    };
    assert!(odd.validate().is_err());
    assert_eq!(ProgressionFilter::default().query(), None);
  }

  fn pipeline(legacy: bool) -> PipelineView {
    let body = serde_json::json!({
      "key": "p", "_isLegacy": legacy, "createdAt": "2025-09-16T22:01:04.602697Z",
      "phases": [{"id": "a", "name": "QA"}, {"id": "b", "name": "Beta"}]
    });
    let answer = Release::from_body(body.to_string().into_bytes(), 200).unwrap();
    PipelineView::from_answer(&answer).unwrap()
  }

  #[test]
  fn advancing_writes_the_guarded_patch_or_starts_the_next_phase() {
    let (index, write) = pipeline(true)
      .advance_write(&PhaseRef::Name("QA".into()))
      .unwrap();
    assert_eq!(index, 0);
    assert_eq!(write, AdvanceWrite::Patch(guarded_patch(0, "a", true)));
    let (_, write) = pipeline(false)
      .advance_write(&PhaseRef::Id("a".into()))
      .unwrap();
    assert_eq!(
      write,
      AdvanceWrite::Start {
        phase_id: "b".into()
      }
    );
    let last = pipeline(false)
      .advance_write(&PhaseRef::Index(1))
      .unwrap_err();
    assert_eq!(last.code, ErrorCode::Unsupported);
    let (_, legacy_last) = pipeline(true).advance_write(&PhaseRef::Index(1)).unwrap();
    assert!(matches!(legacy_last, AdvanceWrite::Patch(_)));
    let unknown = pipeline(true)
      .advance_write(&PhaseRef::Name("GA".into()))
      .unwrap_err();
    assert_eq!(unknown.code, ErrorCode::InvalidArgument);
  }
}
