//! Release pipelines and release progressions: lists read a page at a time, the
//! pipeline's own reads and writes, and moving every flag at a phase forward.
//!
//! Lists are `{ "items": [...], "totalCount": n, "_links": {...} }` pages: the next
//! page is the one `_links.next.href` names when the answer has one, else the one at the
//! next `offset`, up to `totalCount`; each item is handed on as the server sent it.
//! Lists always end (see `Pager`). Progressions are filtered the way LaunchDarkly's
//! own tools write it:
//! `filter=status equals "active",activePhaseId equals "<phase id>"`.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use reqwest::{Method, Url};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::client::{Client, PreparedRequest};
use crate::config::{encode_segment, validate_key, ClientConfig, RequestOptions};
use crate::error::{ErrorCode, LdError, Result};
use crate::patch::PatchOperation;
use crate::phases::{find_phase, guarded_patch, start_input, PhaseRef, StartTarget};
use crate::release::{decode_error, PhaseView, PipelineKind, Release, ReleaseView};

/// Items asked for per page. LaunchDarkly's default is 20; a server that sends fewer per
/// page is still read to the end (the next offset counts what came).
pub const PAGE_SIZE: u32 = 50;

/// The most pages one list reads: a list still going after 10,000 pages (500,000
/// pipelines or progressions, 1,000,000 environment releases) ends with an error
/// rather than reading on.
pub const MAX_PAGES: u32 = 10_000;

/// One page of a list: its items as JSON texts, the total the server reported, and
/// `_links.next.href` as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
  pub items: Vec<String>,
  pub total_count: Option<u64>,
  pub next: Option<String>,
}

impl Page {
  /// Checks a 2xx list body: an object whose `items` is an array of objects. A
  /// `_links.next` that is not an object with a string `href` is no link.
  pub fn from_body(body: &[u8], status: u16) -> Result<Page> {
    #[derive(Deserialize)]
    struct Repr<'a> {
      #[serde(borrow)]
      items: Vec<&'a RawValue>,
      #[serde(rename = "totalCount", default)]
      total_count: Option<Value>,
      #[serde(rename = "_links", default)]
      links: Option<Value>,
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
      next: repr
        .links
        .as_ref()
        .and_then(|links| links.get("next")?.get("href")?.as_str())
        .map(str::to_string),
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
pub(crate) fn with_page(
  mut request: PreparedRequest,
  filter: Option<&str>,
  limit: u32,
  offset: u64,
) -> PreparedRequest {
  let mut query = String::new();
  if let Some(filter) = filter {
    query.push_str("filter=");
    query.push_str(&encode_segment(filter));
    query.push('&');
  }
  query.push_str(&format!("limit={limit}&offset={offset}"));
  request.url.set_query(Some(&query));
  request
}

/// `url` with its `limit` query parameter set to `limit` (the others kept as they are).
fn set_limit(url: &mut Url, limit: u32) {
  let query = url.query().unwrap_or_default();
  let query: Vec<String> = query
    .split('&')
    .map(|part| {
      if part.starts_with("limit=") {
        format!("limit={limit}")
      } else {
        part.to_string()
      }
    })
    .collect();
  url.set_query(Some(&query.join("&")));
}

impl PreparedRequest {
  /// `GET /api/v2/projects/{projectKey}/release-pipelines?limit=..&offset=..`, with
  /// `filter=query:<text>` when `query` is given.
  pub fn release_pipelines_page(
    config: &ClientConfig,
    project_key: &str,
    query: Option<&str>,
    offset: u64,
  ) -> Result<Self> {
    validate_key("projectKey", project_key)?;
    let request = PreparedRequest {
      method: Method::GET,
      url: config.url_for(&pipelines_path(project_key)),
      body: None,
    };
    let filter = query.map(|text| format!("query:{text}"));
    Ok(with_page(request, filter.as_deref(), PAGE_SIZE, offset))
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
    Ok(with_page(
      request,
      filter.query().as_deref(),
      PAGE_SIZE,
      offset,
    ))
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
///
/// The next page is the one the answer's `_links.next.href` names (its query, with
/// `_snapshot`, as given; resolved against the base URL, under its path prefix; a link
/// to another origin is refused), else the one at the next `offset` until the
/// `totalCount` is reached or a page is empty. Every list ends: a page that repeats one
/// already read (a server that ignores `offset`), a next link to a page already read,
/// and reading past `MAX_PAGES` end it with `ERR_LD_DECODE`, whose message says why.
#[derive(Debug, Clone)]
pub struct Pager {
  /// The request of a page at an offset.
  kind: PagerKind,
  offset: u64,
  /// Items asked for per page: the kind's page size, or the server's limit.
  limit: u32,
  /// Whether `limit` was lowered to the server's once already.
  limit_lowered: bool,
  /// The page `_links.next` named, to be read next.
  next: Option<Url>,
  /// Every URL read, and a fingerprint of every page's items.
  read: HashSet<String>,
  seen: HashSet<u64>,
  pages: u32,
  page_cap: u32,
  /// Why the list ends, told by the next `next_page` (the page in hand is kept).
  ending: Option<LdError>,
  done: bool,
}

#[derive(Debug, Clone)]
enum PagerKind {
  Pipelines {
    project_key: String,
    /// The text query (`filter=query:<text>`), if any.
    query: Option<String>,
  },
  Progressions {
    project_key: String,
    pipeline_key: String,
    filter: ProgressionFilter,
    /// A phase still to be looked up in the pipeline (its id goes into `filter`).
    phase: Option<PhaseRef>,
  },
  EnvironmentReleases {
    project_key: String,
    flag_key: String,
    environment_key: String,
    kind: Option<String>,
  },
}

impl Pager {
  fn new(kind: PagerKind) -> Self {
    let limit = match kind {
      PagerKind::EnvironmentReleases { .. } => crate::environment_releases::PAGE_SIZE,
      _ => PAGE_SIZE,
    };
    Pager {
      kind,
      offset: 0,
      limit,
      limit_lowered: false,
      next: None,
      read: HashSet::new(),
      seen: HashSet::new(),
      pages: 0,
      page_cap: MAX_PAGES,
      ending: None,
      done: false,
    }
  }

  /// Every release pipeline of a project.
  pub fn pipelines(project_key: &str) -> Result<Self> {
    Pager::pipelines_matching(project_key, None)
  }

  /// The release pipelines of a project that match the text `query`
  /// (`filter=query:<text>`), or all of them.
  pub fn pipelines_matching(project_key: &str, query: Option<String>) -> Result<Self> {
    validate_key("projectKey", project_key)?;
    Ok(Pager::new(PagerKind::Pipelines {
      project_key: project_key.to_string(),
      query,
    }))
  }

  /// The environment releases of a flag in an environment, newest first; with `kind`
  /// (`progressive` or `guarded`), only those of that kind.
  pub fn environment_releases(
    project_key: &str,
    flag_key: &str,
    environment_key: &str,
    kind: Option<&str>,
  ) -> Result<Self> {
    crate::environment_releases::validate_list(project_key, flag_key, environment_key, kind)?;
    Ok(Pager::new(PagerKind::EnvironmentReleases {
      project_key: project_key.to_string(),
      flag_key: flag_key.to_string(),
      environment_key: environment_key.to_string(),
      kind: kind.map(str::to_string),
    }))
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
    Ok(Pager::new(PagerKind::Progressions {
      project_key: project_key.to_string(),
      pipeline_key: pipeline_key.to_string(),
      filter,
      phase,
    }))
  }

  /// The same list, ending after `pages` pages instead of `MAX_PAGES`.
  pub fn with_page_cap(mut self, pages: u32) -> Self {
    self.page_cap = pages;
    self
  }

  /// Ends the list: no more pages are fetched.
  pub fn finish(&mut self) {
    self.done = true;
  }

  /// Whether the list has ended. A list that ends with an error is not done until
  /// `next_page` has told it.
  pub fn is_done(&self) -> bool {
    self.done && self.ending.is_none()
  }

  /// The request for the next page: the page `_links.next` named, or the page at the
  /// next offset.
  pub fn request(&self, config: &ClientConfig) -> Result<PreparedRequest> {
    if let Some(next) = &self.next {
      return Ok(PreparedRequest {
        method: Method::GET,
        url: next.clone(),
        body: None,
      });
    }
    let mut request = match &self.kind {
      PagerKind::Pipelines { project_key, query } => {
        PreparedRequest::release_pipelines_page(config, project_key, query.as_deref(), self.offset)
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
      PagerKind::EnvironmentReleases {
        project_key,
        flag_key,
        environment_key,
        kind,
      } => PreparedRequest::environment_releases_page(
        config,
        project_key,
        flag_key,
        environment_key,
        kind.as_deref(),
        self.offset,
      ),
    }?;
    set_limit(&mut request.url, self.limit);
    Ok(request)
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

  /// After a 400 to a page asked for by offset whose message says the limit must be at
  /// most N (below the limit asked for): the limit becomes N, once per list. Whether it
  /// did (then the page is asked for again).
  fn lower_limit(&mut self, error: &LdError) -> bool {
    if self.limit_lowered || self.next.is_some() || error.status != Some(400) {
      return false;
    }
    let cap = [error.api_message.as_deref(), Some(error.message.as_str())]
      .into_iter()
      .flatten()
      .find_map(limit_cap);
    match cap {
      Some(cap) if cap >= 1 && cap < self.limit => {
        self.limit = cap;
        self.limit_lowered = true;
        true
      }
      _ => false,
    }
  }

  /// Moves past `page`, read from `url`. The list ends on an empty page, or, with no
  /// next link, once the reported total is reached. A page that repeats one already
  /// read fails (its items are not handed on); a next link that cannot be followed, or
  /// reading past the page cap, ends the list with an error after this page's items.
  pub fn advance(&mut self, page: &Page, url: &Url, config: &ClientConfig) -> Result<()> {
    self.pages += 1;
    let at = self.offset;
    self.offset += page.items.len() as u64;
    if page.items.is_empty() {
      self.next = None;
      self.done = true;
      return Ok(());
    }
    let mut fingerprint = DefaultHasher::new();
    page.items.hash(&mut fingerprint);
    if !self.seen.insert(fingerprint.finish()) {
      self.done = true;
      return Err(endless(format!(
        "page {} of the list ({}) repeats a page already read: the server seems to ignore the offset or the next link (after {at} items); the list ends here",
        self.pages,
        describe(url)
      )));
    }
    self.next = None;
    self.done = match &page.next {
      Some(href) => {
        match resolve_next(config, url, href) {
          Ok(next) if self.read.contains(next.as_str()) => {
            self.ending = Some(endless(format!(
              "the next link of page {} of the list ({}) names a page already read ({}): the list ends here, after {} items",
              self.pages,
              describe(url),
              describe(&next),
              self.offset
            )));
          }
          Ok(next) => self.next = Some(next),
          Err(error) => self.ending = Some(error),
        }
        self.ending.is_some()
      }
      None => page.total_count.is_some_and(|t| self.offset >= t),
    };
    if !self.done && self.pages >= self.page_cap {
      self.ending = Some(endless(format!(
        "the list ({}) is still going after {} pages ({} items), the most a list reads; the list ends here",
        describe(url),
        self.pages,
        self.offset
      )));
      self.done = true;
    }
    Ok(())
  }
}

/// `GET /path`, how list errors name a page (its path only: the query is the server's).
fn describe(url: &Url) -> String {
  format!("GET {}", url.path())
}

/// The error that ends a list that does not move on.
fn endless(message: String) -> LdError {
  LdError {
    status: Some(200),
    ..LdError::new(
      ErrorCode::Decode,
      format!("The server's pages do not end: {message}"),
    )
  }
}

/// The limit a 400's message says a page may have: `limit must be at most 100`,
/// `... less than or equal to 100`, `... <= 100`, `maximum is 100`.
pub fn limit_cap(message: &str) -> Option<u32> {
  let text = message.to_ascii_lowercase();
  if !text.contains("limit") {
    return None;
  }
  [
    "at most",
    "less than or equal to",
    "<=",
    "maximum is",
    "maximum of",
  ]
  .iter()
  .find_map(|words| {
    let rest = &text[text.find(words)? + words.len()..];
    let rest = rest.trim_start_matches([' ', ':']);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
  })
}

/// The URL `_links.next.href` names: a path (`/api/v2/...`) goes under the base URL's
/// path prefix unless it already starts with it; anything else is resolved against
/// the page it came from. The query is kept as given. A link to another origin, or one
/// with credentials, is refused.
pub fn resolve_next(config: &ClientConfig, page: &Url, href: &str) -> Result<Url> {
  let base = &config.base_url;
  let joined = if href.starts_with('/') && !href.starts_with("//") {
    let prefix = base.path().trim_end_matches('/');
    let under_prefix = prefix.is_empty()
      || href
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']));
    if under_prefix {
      base.join(href)
    } else {
      base.join(&format!("{prefix}{href}"))
    }
  } else {
    page.join(href)
  };
  let unusable = |why: &str| {
    LdError {
      status: Some(200),
      ..LdError::new(
        ErrorCode::Decode,
        format!(
          "The server accepted the request (HTTP 200) but the next link of its page ({}) {why}; the list ends here",
          describe(page)
        ),
      )
    }
  };
  let mut url = joined.map_err(|_| unusable("is not a URL"))?;
  url.set_fragment(None);
  if url.origin() != base.origin() {
    let origin = url.origin().ascii_serialization();
    return Err(unusable(&format!(
      "points to another origin ({origin}): lists follow links only on {}",
      base.origin().ascii_serialization()
    )));
  }
  if !url.username().is_empty() || url.password().is_some() {
    return Err(unusable("carries credentials"));
  }
  Ok(url)
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
/// new one the start of the next phase, sent only once a read of the flag's release
/// shows its active phase is still `from` (see `Client::advance_flag`). There is none
/// for the last phase of a new pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum AdvanceWrite {
  Patch(Vec<PatchOperation>),
  Start {
    /// The id of the phase the flag must be at.
    from: String,
    /// The id of the phase to start.
    phase_id: String,
  },
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
          from: phase.id.clone(),
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
  /// at a phase given by index or name first reads the pipeline to learn its id). A
  /// page asked for with a `limit` the server refuses (a 400 saying the limit must be
  /// at most N) is asked for again once, at N. A list that does not end fails here
  /// (see `Pager`).
  pub async fn next_page(&self, pager: &mut Pager, options: RequestOptions) -> Result<Page> {
    if let Some(error) = pager.ending.take() {
      pager.done = true;
      return Err(error);
    }
    // An ended list sends nothing more.
    if pager.done {
      return Ok(Page {
        items: Vec::new(),
        total_count: None,
        next: None,
      });
    }
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
    let mut request = pager.request(self.config())?;
    let answer = match self.send_raw(&request, options.clone()).await {
      Err(error) if pager.lower_limit(&error) => {
        request = pager.request(self.config())?;
        self.send_raw(&request, options).await
      }
      answer => answer,
    };
    let (body, status) = answer?;
    pager.read.insert(request.url.to_string());
    let page = Page::from_body(&body, status)?;
    pager.advance(&page, &request.url, self.config())?;
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
  /// the call before anything is written.
  ///
  /// The listing is not trusted: a listed item whose `activePhaseId` is not the id of
  /// phase `from` (or whose `status`, when it has one, is not `active`) is not written
  /// and is reported `Skipped` (`SkipReason::Listed`); so is a flag of a new pipeline
  /// whose release, read just before its write, is no longer at `from`
  /// (`SkipReason::Moved`). A flag key listed more than once is written once, and
  /// appears once in the results, at the position of its first listing (whose item
  /// counts). With `dry_run`, nothing is written and each flag gets the request it
  /// would be sent, its skip, or the error the real run would give it (the same reads
  /// are made).
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
    let from_id = view.phases.phases[index].id.clone();
    let filter = ProgressionFilter {
      status: Some("active".to_string()),
      active_phase_id: Some(from_id.clone()),
    };
    let mut pager = Pager::progressions(project_key, pipeline_key, filter)?;
    let mut flags = Vec::new();
    let mut listed = HashSet::new();
    while !pager.is_done() {
      let page = self.next_page(&mut pager, options.clone()).await?;
      for item in &page.items {
        let item = Listed::of(item)?;
        if listed.insert(item.flag_key.clone()) {
          flags.push(item);
        }
      }
    }
    let keys: Vec<String> = flags.iter().map(|item| item.flag_key.clone()).collect();
    // A flag the listing shows elsewhere is skipped before anything is sent for it, so
    // it stays skipped (not "not sent") when a stopped run ends before its turn.
    let skips: Vec<Option<Skip>> = flags
      .iter()
      .map(|item| {
        item
          .elsewhere(&from_id)
          .map(|why| self.skip(SkipReason::Listed, &view, project_key, item, &from_id, why))
      })
      .collect();
    let items = keys
      .iter()
      .cloned()
      .zip(skips.iter().cloned())
      .map(Ok)
      .collect();
    let project = project_key.to_string();
    let (write, view) = (Arc::new(write), Arc::new(view));
    let dry_run = settings.dry_run;
    let results = crate::bulk::run_each(
      self.clone(),
      items,
      settings.concurrency,
      settings.progress,
      move |client, (flag_key, skip): (String, Option<Skip>)| {
        let (project, write, view, options) = (
          project.clone(),
          write.clone(),
          view.clone(),
          options.clone(),
        );
        Box::pin(async move {
          if let Some(skip) = skip {
            return Ok(AdvanceOutcome::Skipped(skip));
          }
          let to = AdvanceTo {
            project_key: &project,
            flag_key: &flag_key,
            write: &write,
            view: &view,
          };
          Ok(client.advance_flag(&to, dry_run, options).await)
        })
      },
    )
    .await;
    Ok(
      keys
        .into_iter()
        .zip(skips)
        .zip(results)
        .map(|((flag_key, skip), result)| Advance {
          flag_key,
          outcome: match skip {
            Some(skip) => AdvanceOutcome::Skipped(skip),
            None => result.unwrap_or_else(|error| AdvanceOutcome::Done(Err(error))),
          },
        })
        .collect(),
    )
  }

  /// The write that moves one flag past phase `from` (see `AdvanceWrite`), or with
  /// `dry_run` the request it would send. On a new pipeline the flag's release is read
  /// first: when its active phase (its first phase not complete) is not `from`, nothing
  /// is written and the flag is `Skipped` (`SkipReason::Moved`), as a legacy pipeline's
  /// `test` refuses the PATCH; the start is then sent as `send_start` sends one (never
  /// resent blindly).
  pub async fn advance_flag(
    &self,
    to: &AdvanceTo<'_>,
    dry_run: bool,
    options: RequestOptions,
  ) -> AdvanceOutcome {
    let request = match advance_request(self.config(), to.project_key, to.flag_key, to.write) {
      Ok(request) => request,
      Err(error) => return AdvanceOutcome::Done(Err(error)),
    };
    let AdvanceWrite::Start { from, phase_id } = to.write else {
      return if dry_run {
        AdvanceOutcome::Planned(request)
      } else {
        AdvanceOutcome::Done(self.send_release(request, options).await)
      };
    };
    let read = PreparedRequest::release(
      self.config(),
      Method::GET,
      to.project_key,
      to.flag_key,
      None,
    );
    let release = match read {
      Ok(read) => self.send_release(read, options.clone()).await,
      Err(error) => Err(error),
    };
    let view = match release.and_then(|release| release.view()) {
      Ok(view) => view,
      Err(error) => return AdvanceOutcome::Done(Err(self.mask_error(error))),
    };
    let active = view.phases.iter().find(|phase| !phase.complete);
    if active.map(|phase| phase.id.as_str()) != Some(from.as_str()) {
      let at = Listed {
        flag_key: to.flag_key.to_string(),
        active_phase_id: active.map(|phase| phase.id.clone()),
        status: None,
      };
      return AdvanceOutcome::Skipped(self.skip(
        SkipReason::Moved,
        to.view,
        to.project_key,
        &at,
        from,
        Elsewhere::Phase,
      ));
    }
    if dry_run {
      return AdvanceOutcome::Planned(request);
    }
    let target = StartTarget {
      project_key: to.project_key,
      flag_key: to.flag_key,
      phase_id,
    };
    AdvanceOutcome::Done(self.send_start(&target, &request, options).await)
  }

  /// The skip of a flag that `item` shows `why` not at phase `from`, its message naming
  /// the phases (by id, and by name when the pipeline has them) with the token masked.
  fn skip(
    &self,
    reason: SkipReason,
    view: &PipelineView,
    project_key: &str,
    item: &Listed,
    from: &str,
    why: Elsewhere,
  ) -> Skip {
    let named = |id: &str| match view.phases.phases.iter().find(|p| p.id == id) {
      Some(phase) => format!("phase {id:?} ({:?})", phase.name),
      None => format!("phase {id:?}"),
    };
    let shown = match reason {
      SkipReason::Listed => "the progressions listing shows",
      SkipReason::Moved => "read before its write, shows",
    };
    let at = match (why, &item.active_phase_id) {
      (Elsewhere::Status(status), _) => format!("with status {status:?}"),
      (Elsewhere::Phase, Some(id)) => format!("at {}", named(id)),
      (Elsewhere::Phase, None) => "with no active phase (finished)".to_string(),
    };
    let subject = match reason {
      SkipReason::Listed => format!("{shown} the release of {project_key}/{}", item.flag_key),
      SkipReason::Moved => format!("the release of {project_key}/{}, {shown} it", item.flag_key),
    };
    let message = format!(
      "{subject} {at}, not at {}: it was skipped, nothing was written",
      named(from)
    );
    let mask = |text: String| match &self.config().api_key {
      Some(key) => key.mask_in(&text),
      None => text,
    };
    Skip {
      reason,
      active_phase_id: item.active_phase_id.clone().map(mask),
      message: mask(message),
    }
  }
}

/// One flag of `advance_pipeline`: its key, the write that moves it, and the pipeline
/// (for the messages of a skip).
pub struct AdvanceTo<'a> {
  pub project_key: &'a str,
  pub flag_key: &'a str,
  pub write: &'a AdvanceWrite,
  pub view: &'a PipelineView,
}

/// A progression as listed: its flag and where it says the release is.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
  flag_key: String,
  /// `activePhaseId`, when a string.
  active_phase_id: Option<String>,
  /// `status`, when the item has one (any JSON, as sent).
  status: Option<Value>,
}

/// Why a listed flag is not at the phase asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Elsewhere {
  /// Its `status` is not `active`.
  Status(String),
  /// Its active phase is another one, or it has none.
  Phase,
}

impl Listed {
  /// Reads a progression item: `flagKey` must be a string (else the advance fails,
  /// before any write); `activePhaseId` and `status` are read when present.
  fn of(item: &str) -> Result<Listed> {
    #[derive(Deserialize)]
    struct Repr {
      #[serde(rename = "flagKey")]
      flag_key: String,
      #[serde(rename = "activePhaseId", default)]
      active_phase_id: Option<Value>,
      #[serde(default)]
      status: Option<Value>,
    }
    let repr = serde_json::from_str::<Repr>(item).map_err(|e| {
      decode_error(
        200,
        &format!("a progression has no usable flagKey ({e})"),
        item,
      )
    })?;
    Ok(Listed {
      flag_key: repr.flag_key,
      active_phase_id: repr
        .active_phase_id
        .and_then(|v| v.as_str().map(str::to_string)),
      status: repr.status,
    })
  }

  /// Why the release this item shows is not at phase `from` (`None`: it is): its
  /// `status`, when it has one, must be `active`, and its active phase `from`.
  fn elsewhere(&self, from: &str) -> Option<Elsewhere> {
    if let Some(status) = &self.status {
      if status.as_str() != Some("active") {
        let shown = status
          .as_str()
          .map_or_else(|| status.to_string(), str::to_string);
        return Some(Elsewhere::Status(shown));
      }
    }
    (self.active_phase_id.as_deref() != Some(from)).then_some(Elsewhere::Phase)
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
    AdvanceWrite::Start { phase_id, .. } => {
      PreparedRequest::update_phase_status(config, project_key, flag_key, phase_id, &start_input())
    }
  }
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
  /// The flag's release is not at the phase: nothing was written (nor, on a dry run,
  /// would be).
  Skipped(Skip),
}

/// A flag `advance_pipeline` did not write, because its release is not at the phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
  pub reason: SkipReason,
  /// The id of the phase the release is at, as seen; `None` when it has none (a
  /// finished release) or the listing did not say.
  pub active_phase_id: Option<String>,
  /// What was seen, for people (the token masked).
  pub message: String,
}

/// What showed a flag not at the phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
  /// The progressions listing (a server that did not apply the filter).
  Listed,
  /// Its release, read just before the write (new pipelines): it moved since.
  Moved,
}

impl SkipReason {
  /// `listed-elsewhere` or `moved`, as JavaScript sees it.
  pub fn as_str(self) -> &'static str {
    match self {
      SkipReason::Listed => "listed-elsewhere",
      SkipReason::Moved => "moved",
    }
  }
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
    let body = br#"{"items":[{"key":"a","new":[1]},{"key":"b"}],"totalCount":7,"extra":true,"_links":{"next":{"href":"/n?_snapshot=1","type":"application/json"}}}"#;
    let page = Page::from_body(body, 200).unwrap();
    assert_eq!(page.items, [r#"{"key":"a","new":[1]}"#, r#"{"key":"b"}"#]);
    assert_eq!(page.total_count, Some(7));
    assert_eq!(page.next.as_deref(), Some("/n?_snapshot=1"));
    let sparse = Page::from_body(br#"{"items":[]}"#, 200).unwrap();
    assert_eq!(sparse.total_count, None);
    assert_eq!(sparse.next, None);
    for links in [
      "null",
      r#"{"self":{"href":"/s"}}"#,
      r#"{"next":null}"#,
      r#"{"next":{"href":5}}"#,
      r#"{"next":"/n"}"#,
    ] {
      let body = format!(r#"{{"items":[],"_links":{links}}}"#);
      assert_eq!(
        Page::from_body(body.as_bytes(), 200).unwrap().next,
        None,
        "{links}"
      );
    }
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

  /// A page of `n` items, distinct from every other page this makes.
  fn page(n: usize, total: Option<u64>, next: Option<&str>) -> Page {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static PAGES: AtomicUsize = AtomicUsize::new(0);
    let at = PAGES.fetch_add(1, Ordering::SeqCst);
    Page {
      items: (0..n).map(|i| format!(r#"{{"key":"{at}-{i}"}}"#)).collect(),
      total_count: total,
      next: next.map(str::to_string),
    }
  }

  fn url(text: &str) -> Url {
    Url::parse(text).unwrap()
  }

  fn config_at(base: &str) -> ClientConfig {
    ClientConfig::resolve(
      &ClientOptions {
        base_url: Some(base.to_string()),
        ..Default::default()
      },
      |_| None,
    )
    .unwrap()
  }

  #[test]
  fn the_pager_stops_at_the_total_or_an_empty_page() {
    let (config, at) = (config(), url("https://app.launchdarkly.com/x"));
    let mut pager = Pager::pipelines("web").unwrap();
    pager
      .advance(&page(50, Some(120), None), &at, &config)
      .unwrap();
    assert!(!pager.is_done());
    assert_eq!(
      pager.request(&config).unwrap().url.query(),
      Some("limit=50&offset=50")
    );
    pager
      .advance(&page(20, Some(120), None), &at, &config)
      .unwrap();
    assert!(
      !pager.is_done(),
      "a short page is not the end while the total is ahead"
    );
    pager
      .advance(&page(49, Some(120), None), &at, &config)
      .unwrap();
    assert!(!pager.is_done(), "119 of 120");
    pager
      .advance(&page(1, Some(120), None), &at, &config)
      .unwrap();
    assert!(pager.is_done());
    let mut no_total = Pager::pipelines("web").unwrap();
    no_total
      .advance(&page(3, None, None), &at, &config)
      .unwrap();
    assert!(!no_total.is_done());
    no_total
      .advance(&page(0, None, None), &at, &config)
      .unwrap();
    assert!(no_total.is_done());
    // An empty page ends the list even when it names a next page.
    let mut empty = Pager::pipelines("web").unwrap();
    empty
      .advance(&page(0, Some(9), Some("/next")), &at, &config)
      .unwrap();
    assert!(empty.is_done());
    assert_eq!(
      empty.request(&config).unwrap().url.query(),
      Some("limit=50&offset=0")
    );
  }

  #[test]
  fn the_pager_follows_next_links_and_falls_back_to_offsets() {
    let config = config();
    let at =
      url("https://app.launchdarkly.com/api/v2/projects/web/release-pipelines?limit=50&offset=0");
    let mut pager = Pager::pipelines("web").unwrap();
    let next = "/api/v2/projects/web/release-pipelines?limit=50&offset=2&_snapshot=17";
    pager
      .advance(&page(2, Some(2), Some(next)), &at, &config)
      .unwrap();
    assert!(!pager.is_done(), "the next link is followed past the total");
    let request = pager.request(&config).unwrap();
    assert_eq!(
      request.url.as_str(),
      format!("https://app.launchdarkly.com{next}")
    );
    assert_eq!(request.method, Method::GET);
    // Without a link, the offset counts every item read.
    pager
      .advance(&page(3, Some(9), None), &request.url, &config)
      .unwrap();
    assert_eq!(
      pager.request(&config).unwrap().url.query(),
      Some("limit=50&offset=5")
    );
  }

  #[test]
  fn next_links_are_resolved_under_the_base_path_and_the_same_origin() {
    let page_url = url("https://proxy.corp/ld/api/v2/x?offset=0");
    let config = config_at("https://proxy.corp/ld/");
    let resolved = |href: &str| resolve_next(&config, &page_url, href).map(|u| u.to_string());
    assert_eq!(
      resolved("/api/v2/x?offset=5&_snapshot=1").unwrap(),
      "https://proxy.corp/ld/api/v2/x?offset=5&_snapshot=1"
    );
    assert_eq!(
      resolved("/ld/api/v2/x?offset=5").unwrap(),
      "https://proxy.corp/ld/api/v2/x?offset=5",
      "a path already under the prefix"
    );
    assert_eq!(resolved("/ld").unwrap(), "https://proxy.corp/ld");
    assert_eq!(resolved("/ld?x=1").unwrap(), "https://proxy.corp/ld?x=1");
    assert_eq!(
      resolved("/ldx/y").unwrap(),
      "https://proxy.corp/ld/ldx/y",
      "a path that only begins like the prefix"
    );
    assert_eq!(
      resolved("?offset=9").unwrap(),
      "https://proxy.corp/ld/api/v2/x?offset=9"
    );
    assert_eq!(
      resolved("https://proxy.corp/ld/api/v2/x?offset=7#top").unwrap(),
      "https://proxy.corp/ld/api/v2/x?offset=7"
    );
    for (href, why) in [
      (
        "https://evil.example/api/v2/x",
        "another origin (https://evil.example)",
      ),
      ("//evil.example/api", "another origin"),
      (
        "http://proxy.corp/ld/api",
        "another origin (http://proxy.corp)",
      ),
      ("https://proxy.corp:8443/ld/api", "another origin"),
      ("https://user:pw@proxy.corp/ld/api", "credentials"),
      ("https://user@proxy.corp/ld/api", "credentials"),
      ("https://:pw@proxy.corp/ld/api", "credentials"),
      ("https://[::1", "is not a URL"),
    ] {
      let error = resolved(href).unwrap_err();
      assert_eq!(error.code, ErrorCode::Decode, "{href}");
      assert_eq!(error.status, Some(200), "{href}");
      assert!(error.message.contains(why), "{href}: {}", error.message);
      assert!(
        error.message.contains("GET /ld/api/v2/x"),
        "{}",
        error.message
      );
    }
    // No prefix: a path is used as it is.
    let plain = config_at("https://app.launchdarkly.com");
    assert_eq!(
      resolve_next(&plain, &page_url, "/api/v2/y")
        .unwrap()
        .as_str(),
      "https://app.launchdarkly.com/api/v2/y"
    );
  }

  #[test]
  fn lists_that_do_not_move_on_end_with_an_error() {
    let config = config();
    let at = url("https://app.launchdarkly.com/api/v2/l?limit=50&offset=0");
    // A page that repeats an earlier one fails, without handing its items on.
    let mut pager = Pager::pipelines("web").unwrap();
    let first = page(2, None, None);
    pager.advance(&first, &at, &config).unwrap();
    pager.advance(&page(2, None, None), &at, &config).unwrap();
    let error = pager.advance(&first, &at, &config).unwrap_err();
    assert_eq!(error.code, ErrorCode::Decode);
    assert_eq!(error.status, Some(200), "the pages came with 200");
    assert!(
      error
        .message
        .contains("page 3 of the list (GET /api/v2/l) repeats a page already read"),
      "{}",
      error.message
    );
    assert!(error.message.contains("after 4 items"), "{}", error.message);
    assert!(pager.is_done());
    // A next link to a page already read ends the list after the page that names it.
    let mut pager = Pager::pipelines("web").unwrap();
    pager.read.insert(at.to_string());
    pager
      .advance(&page(2, None, Some(at.as_str())), &at, &config)
      .unwrap();
    assert!(!pager.is_done(), "the error is still to be told");
    let told = pager.ending.clone().unwrap();
    assert!(
      told
        .message
        .contains("names a page already read (GET /api/v2/l)"),
      "{}",
      told.message
    );
    // The page cap: the last page's items are kept, the next read fails.
    let mut capped = Pager::pipelines("web").unwrap().with_page_cap(2);
    capped.advance(&page(1, None, None), &at, &config).unwrap();
    assert!(capped.ending.is_none());
    capped.advance(&page(1, None, None), &at, &config).unwrap();
    let told = capped.ending.clone().unwrap();
    assert!(
      told.message.contains("still going after 2 pages (2 items)"),
      "{}",
      told.message
    );
    // A list that ends at the cap is not an error.
    let mut exact = Pager::pipelines("web").unwrap().with_page_cap(1);
    exact
      .advance(&page(1, Some(1), None), &at, &config)
      .unwrap();
    assert!(exact.is_done() && exact.ending.is_none());
    // A cross-origin link is told the same way.
    let mut away = Pager::pipelines("web").unwrap();
    away
      .advance(&page(1, None, Some("https://evil.example/x")), &at, &config)
      .unwrap();
    assert!(away.ending.is_some() && !away.is_done());
  }

  #[test]
  fn a_limit_the_server_refuses_is_lowered_once() {
    assert_eq!(limit_cap("limit must be at most 100"), Some(100));
    assert_eq!(
      limit_cap("Invalid limit: must be less than or equal to 20"),
      Some(20)
    );
    assert_eq!(limit_cap("limit <= 25"), Some(25));
    assert_eq!(limit_cap("The maximum is 10 for limit"), Some(10));
    assert_eq!(limit_cap("LIMIT maximum of 5"), Some(5));
    assert_eq!(limit_cap("limit must be at most: 30"), Some(30));
    assert_eq!(limit_cap("offset must be at most 100"), None);
    assert_eq!(limit_cap("limit is wrong"), None);
    assert_eq!(limit_cap("limit must be at most a hundred"), None);
    let refused = |message: &str, status: u16| LdError {
      status: Some(status),
      api_message: Some(message.to_string()),
      ..LdError::new(ErrorCode::BadRequest, "LaunchDarkly answered 400")
    };
    let config = config();
    let mut pager = Pager::environment_releases("web", "f", "prod", None).unwrap();
    assert_eq!(
      pager.request(&config).unwrap().url.query(),
      Some("limit=100&offset=0")
    );
    assert!(!pager.lower_limit(&refused("limit must be at most 20", 429)));
    assert!(
      !pager.lower_limit(&refused("limit must be at most 100", 400)),
      "not lower"
    );
    assert!(!pager.lower_limit(&refused("limit must be at most 0", 400)));
    let mut one = Pager::pipelines("web").unwrap();
    assert!(one.lower_limit(&refused("limit must be at most 1", 400)));
    assert_eq!(
      one.request(&config).unwrap().url.query(),
      Some("limit=1&offset=0")
    );
    assert!(!pager.lower_limit(&refused("bad filter", 400)));
    assert!(pager.lower_limit(&refused("limit must be at most 20", 400)));
    assert_eq!(
      pager.request(&config).unwrap().url.query(),
      Some("limit=20&offset=0")
    );
    assert!(
      !pager.lower_limit(&refused("limit must be at most 10", 400)),
      "once"
    );
    // The message of the error itself counts when the body had none.
    let mut pager = Pager::pipelines("web").unwrap();
    let bare = LdError {
      status: Some(400),
      ..LdError::new(
        ErrorCode::BadRequest,
        "LaunchDarkly answered 400: limit must be at most 30",
      )
    };
    assert!(pager.lower_limit(&bare));
    // A page a next link named is not rewritten.
    let mut linked = Pager::pipelines("web").unwrap();
    let at = url("https://app.launchdarkly.com/a");
    linked
      .advance(&page(1, None, Some("/b")), &at, &config)
      .unwrap();
    assert!(!linked.lower_limit(&refused("limit must be at most 20", 400)));
  }

  #[test]
  fn set_limit_keeps_the_other_parameters() {
    let mut u = url("https://h/p?filter=a%20b&limit=50&offset=3");
    set_limit(&mut u, 7);
    assert_eq!(u.query(), Some("filter=a%20b&limit=7&offset=3"));
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
  fn a_listed_item_is_at_the_phase_only_with_its_id_and_an_active_status() {
    let at = |item: &str| Listed::of(item).unwrap().elsewhere("a");
    assert_eq!(at(r#"{"flagKey":"f","activePhaseId":"a"}"#), None);
    assert_eq!(
      at(r#"{"flagKey":"f","activePhaseId":"a","status":"active"}"#),
      None
    );
    assert_eq!(
      at(r#"{"flagKey":"f","activePhaseId":"b"}"#),
      Some(Elsewhere::Phase)
    );
    assert_eq!(at(r#"{"flagKey":"f"}"#), Some(Elsewhere::Phase));
    assert_eq!(
      at(r#"{"flagKey":"f","activePhaseId":1}"#),
      Some(Elsewhere::Phase)
    );
    assert_eq!(
      at(r#"{"flagKey":"f","activePhaseId":"a","status":"Active"}"#),
      Some(Elsewhere::Status("Active".into()))
    );
    // A `null` status is no status.
    assert_eq!(
      at(r#"{"flagKey":"f","activePhaseId":"a","status":null}"#),
      None
    );
    assert_eq!(
      at(r#"{"flagKey":"f","activePhaseId":"a","status":false}"#),
      Some(Elsewhere::Status("false".into()))
    );
    assert_eq!(
      at(r#"{"flagKey":"f","activePhaseId":"b","status":"completed"}"#),
      Some(Elsewhere::Status("completed".into()))
    );
    let error = Listed::of(r#"{"flag":"f"}"#).unwrap_err();
    assert_eq!(error.code, ErrorCode::Decode);
    assert!(error.message.contains("flagKey"), "{}", error.message);
    assert_eq!(SkipReason::Listed.as_str(), "listed-elsewhere");
    assert_eq!(SkipReason::Moved.as_str(), "moved");
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
        from: "a".into(),
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
