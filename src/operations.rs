//! The operations of the JavaScript API. Each is declared once, in `lib.rs`
//! (`operations!`), as a function that reads its arguments into a `Work`; that one
//! declaration becomes both the `ReleaseClient` method and the module-level function.
//! `call` reads the options, picks the client (the instance's, or the one shared for the
//! options' settings), and `spawn` runs the work on the runtime and settles the promise.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use napi::bindgen_prelude::{Null, Object, ToNapiValue};
use napi::{Env, JsValue, Unknown};
use reqwest::Method;

use crate::bulk;
use crate::bulk::Stop;
use crate::client::{Client, PreparedRequest};
use crate::diagnostics::{self, CallEvents};
use crate::environment_releases::Watch;
use crate::environments::{ReleaseTarget, StartRelease};
use crate::error::{ErrorCode, LdError, Result, Unfinished};
use crate::inputs::{CreateReleasePipelineInput, UpdateReleasePipelineInput};
use crate::js::{error_object, spawn_call, ReleaseJson};
use crate::options::{self, Accept, BulkSettings, CallOptions};
use crate::pages;
use crate::phases::{PhaseAction, PhaseChange, PhaseOutcome, PhaseRef};
use crate::pipelines::{AdvanceOutcome, AdvanceSettings, Pager, ProgressionFilter};

/// What a call does, once its arguments are read.
pub enum Work {
  /// Send the request; the answer is one JSON object (a release, a pipeline), passed on
  /// as the server sent it.
  Json(PreparedRequest),
  /// Change a phase named by index, name or id: one or more requests; with `true`, a
  /// dry run (the reads only).
  Phase(PhaseChange, bool),
  /// Send the request; the answer has no body, and the call resolves to `undefined`.
  NoContent(PreparedRequest),
  /// Many phase changes through one client (`completePhases`); with `true`, a dry run.
  Bulk(Vec<Result<PhaseChange>>, BulkSettings, bool),
  /// A list read a page at a time; the call returns an async iterator.
  Pages(Pager),
  /// Start an environment release: sent at most once (`startEnvironmentRelease`).
  Start(Box<StartRelease>),
  /// Read or stop an environment release: one JSON object, refusals made stable.
  Environment(ReleaseTarget, PreparedRequest),
  /// Send the request; the answer is any JSON, passed on as sent, or nothing.
  AnyJson(PreparedRequest),
  /// An environment release followed until it ends; the call returns an async iterator.
  Watch(Watch),
  /// A pipeline's progressions counted (`getReleaseProgressionSummary`).
  Summary {
    project_key: String,
    pipeline_key: String,
  },
  /// Every flag at a phase of a pipeline moved past it (`advancePipeline`).
  Advance {
    project_key: String,
    pipeline_key: String,
    from: PhaseRef,
    settings: AdvanceSettings,
  },
}

/// Which client a call runs on.
pub enum Target {
  /// A `ReleaseClient` method: the instance's client; the options are a call's.
  Instance(Arc<Client>),
  /// A module-level function: the client shared by every call with the same client
  /// options, which come in the same options object.
  Shared,
  /// A method of a `ReleaseClient` that `close()` closed: the call rejects.
  Closed,
}

/// The error of a call on a closed client.
pub fn closed() -> LdError {
  LdError::invalid(
    "this ReleaseClient is closed (close() was called): make a new one for more calls".to_string(),
  )
}

/// What a call's arguments are read with: the client (for its settings), and the
/// options object as given (for the options only some operations take).
pub struct Args<'a, 'env> {
  pub client: &'a Client,
  pub options: Option<&'a Unknown<'env>>,
}

/// Runs one call of an operation. Options are read first (a bad option fails before
/// anything else), then `prepare` reads the arguments; any failure rejects the promise
/// and sends nothing. `extra` names the options only this operation takes.
pub fn call<'env>(
  env: &'env Env,
  (name, target): (&'static str, Target),
  options: Option<Unknown<'env>>,
  (extra, lists): (&[&str], bool),
  prepare: &dyn Fn(Args<'_, 'env>) -> Result<Work>,
) -> napi::Result<Unknown<'env>> {
  let accept = match target {
    Target::Instance(_) | Target::Closed => Accept::Request,
    Target::Shared => Accept::Both,
  };
  let setup = options::call_options_with("options", options, accept, extra).and_then(|opts| {
    let client = match target {
      Target::Instance(client) => client,
      Target::Shared => Client::shared(&opts.client)?,
      Target::Closed => return Err(closed()),
    };
    let work = prepare(Args {
      client: &client,
      options: options.as_ref(),
    })?;
    client.config().require_api_key()?;
    Ok((opts, client, work))
  });
  match setup {
    Ok((opts, client, work)) => spawn(env, name, opts, client, work),
    // A list's iterator rejects its first `next()` instead.
    Err(error) if lists => pages::iterator(env, Err(error), None),
    Err(error) => rejected(env, error),
  }
}

/// Runs `work` on the runtime; the promise resolves to what the work's kind gives.
fn spawn<'env>(
  env: &'env Env,
  name: &'static str,
  opts: CallOptions<'env>,
  client: Arc<Client>,
  work: Work,
) -> napi::Result<Unknown<'env>> {
  let work = match work {
    Work::Pages(pager) => return feed(env, name, opts, client, pages::Feed::Pages(pager)),
    Work::Watch(watch) => return feed(env, name, opts, client, pages::Feed::Watch(watch)),
    work => work,
  };
  // Observed (diagnostics_channel) only when someone subscribes.
  let (options, events) = diagnostics::observe(env, opts.request, name);
  // A run with a signal runs under a stop: aborted, it ends with what it did.
  let run = match &work {
    Work::Bulk(..) | Work::Advance { .. } if opts.signal.is_some() => Some(crate::js::Run {
      stop: Stop::new(),
      message: aborted_message,
    }),
    _ => None,
  };
  let stop = run.as_ref().map(|run| run.stop.clone());
  let pending: Pending = match work {
    Work::Json(request) => Box::pin(async move {
      let release = client.send_release(request, options).await?;
      Ok(Outcome::Json(release.into()))
    }),
    Work::Phase(change, dry_run) => Box::pin(async move {
      let outcome = client.phase_outcome(change, dry_run, options).await?;
      Ok(match Planned::of(&client, outcome) {
        Ok(release) => Outcome::Json(release),
        Err(planned) => Outcome::Planned(planned),
      })
    }),
    Work::NoContent(request) => Box::pin(async move {
      client.send_no_content(request, options).await?;
      Ok(Outcome::Nothing)
    }),
    Work::Start(start) => Box::pin(async move {
      let release = client.start_environment_release(&start, options).await?;
      Ok(Outcome::Json(release.into()))
    }),
    Work::Environment(target, request) => Box::pin(async move {
      let release = client
        .send_environment_release(&target, request, options)
        .await?;
      Ok(Outcome::Json(release.into()))
    }),
    Work::AnyJson(request) => Box::pin(async move {
      Ok(match client.send_json(&request, options).await? {
        Some(text) => Outcome::Json(ReleaseJson::from_text(text)),
        None => Outcome::Nothing,
      })
    }),
    Work::Pages(_) | Work::Watch(_) => unreachable!("lists return above"),
    Work::Summary {
      project_key,
      pipeline_key,
    } => Box::pin(async move {
      let summary = client
        .progression_summary(&project_key, &pipeline_key, options)
        .await?;
      let text = serde_json::to_string(&summary)
        .map_err(|e| LdError::invalid(format!("the summary could not be encoded: {e}")))?;
      Ok(Outcome::Json(ReleaseJson::from_text(text)))
    }),
    Work::Advance {
      project_key,
      pipeline_key,
      from,
      settings,
    } => Box::pin(async move {
      let advance = client.advance_pipeline(&project_key, &pipeline_key, &from, settings, options);
      // Stopped while it reads the pipeline and its flags, it is dropped: nothing was
      // written. Once its writes begin, it ends with what it did.
      let advanced = match stop {
        Some(stop) => stop.guard(advance).await,
        None => advance.await,
      }?;
      let items = advanced
        .into_iter()
        .map(|advance| {
          let outcome = match advance.outcome {
            AdvanceOutcome::Done(result) => Advanced::Done(result.map(ReleaseJson::from)),
            AdvanceOutcome::Planned(request) => Advanced::Planned(client.preview(&request)),
            AdvanceOutcome::Skipped(skip) => Advanced::Skipped(skip),
          };
          (advance.flag_key, outcome)
        })
        .collect();
      Ok(Outcome::Advance(items))
    }),
    Work::Bulk(items, settings, dry_run) => Box::pin(async move {
      let run = bulk::run(
        client.clone(),
        items,
        (settings.concurrency, dry_run),
        options,
        settings.progress,
      );
      let results = match stop {
        Some(stop) => stop.scope(run).await,
        None => run.await,
      };
      Ok(Outcome::Bulk(
        results
          .into_iter()
          .map(|result| {
            result.map(|outcome| match Planned::of(&client, outcome) {
              Ok(release) => BulkItem::Done(release),
              Err(planned) => BulkItem::Planned(planned),
            })
          })
          .collect(),
      ))
    }),
  };
  Ok(spawn_call(env, (opts.signal, run), events, pending, outcome_to_js)?.to_unknown())
}

/// The message of the `AbortError` of a run the signal stopped: what became of its items.
fn aborted_message(outcome: &Outcome) -> String {
  // Each item's error (`None`: done), and how many flags were skipped (not at the phase).
  let (errors, skipped): (Vec<Option<&LdError>>, usize) = match outcome {
    Outcome::Bulk(results) => (results.iter().map(|r| r.as_ref().err()).collect(), 0),
    Outcome::Advance(items) => (
      items
        .iter()
        .filter_map(|(_, outcome)| match outcome {
          Advanced::Done(Err(error)) => Some(Some(error)),
          Advanced::Skipped(_) => None,
          _ => Some(None),
        })
        .collect(),
      items
        .iter()
        .filter(|(_, outcome)| matches!(outcome, Advanced::Skipped(_)))
        .count(),
    ),
    _ => (Vec::new(), 0),
  };
  let count = |unfinished: Option<Unfinished>| {
    errors
      .iter()
      .filter(|e| e.map(|e| e.unfinished) == Some(unfinished))
      .count()
  };
  let (failed, unknown, not_sent) = (
    count(None),
    count(Some(Unfinished::Unknown)),
    count(Some(Unfinished::NotSent)),
  );
  let done = errors.len() - failed - unknown - not_sent;
  let were = |n: usize| if n == 1 { "was" } else { "were" };
  let mut parts = vec![format!("{done} {} done", were(done))];
  if failed > 0 {
    parts.push(format!("{failed} failed"));
  }
  if skipped > 0 {
    parts.push(format!(
      "{skipped} {} skipped (not at the phase)",
      were(skipped)
    ));
  }
  if unknown > 0 {
    parts.push(format!(
      "{unknown} {} in flight when the abort came (applied or not: read the release to know)",
      were(unknown)
    ));
  }
  parts.push(format!("{not_sent} {} not sent", were(not_sent)));
  let last = parts.pop().unwrap_or_default();
  format!(
    "The operation was aborted: of {} item{}, {} and {last}. The results property holds each item's result",
    errors.len() + skipped,
    if errors.len() + skipped == 1 { "" } else { "s" },
    parts.join(", "),
  )
}

/// The async iterator of a list or a watch.
fn feed<'env>(
  env: &'env Env,
  name: &'static str,
  opts: CallOptions<'env>,
  client: Arc<Client>,
  feed: pages::Feed,
) -> napi::Result<Unknown<'env>> {
  let cursor = pages::Cursor::new(client, feed, opts.request, name);
  pages::iterator(env, Ok(cursor), opts.signal)
}

/// What a call's work resolves to, before it becomes JavaScript. One type for every
/// call, boxed: the promise machinery is then compiled once (each distinct future or
/// result type would instantiate napi-rs's and tokio's task code again), and a call's
/// state machine stays put instead of being copied through each layer of task wrappers.
pub enum Outcome {
  /// One JSON object (a release, a pipeline): `JSON.parse` of the server's text.
  Json(ReleaseJson),
  /// `undefined`.
  Nothing,
  /// A phase change's dry run (`PhaseDryRun`).
  Planned(Planned),
  /// `BulkResult[]`.
  Bulk(Vec<Result<BulkItem>>),
  /// `AdvanceResult[]`.
  Advance(Vec<AdvanceItem>),
  /// A list iterator's `{ value, done }`.
  Step(Option<String>),
}

/// One item of `completePhases`: the release after its write, or on a dry run the
/// release as read and the request.
pub enum BulkItem {
  Done(ReleaseJson),
  Planned(Planned),
}

/// A phase change's dry run: the release as read, the request, the pipeline's kind.
pub struct Planned {
  release: Option<ReleaseJson>,
  request: Option<crate::client::RequestPreview>,
  kind: Option<crate::release::PipelineKind>,
}

impl Planned {
  /// A phase change's outcome as JavaScript gets it: the release it resolved to, or, for
  /// a dry run, what it read and the request it would send (previewed, token masked).
  fn of(client: &Client, outcome: PhaseOutcome) -> std::result::Result<ReleaseJson, Planned> {
    match outcome {
      PhaseOutcome::Done(release) => Ok(release.into()),
      PhaseOutcome::Planned {
        release,
        request,
        kind,
      } => Err(Planned {
        release: release.map(ReleaseJson::from),
        request: request.map(|r| client.preview(&r)),
        kind,
      }),
    }
  }
}

/// A call's work on the runtime.
pub type Pending = Pin<Box<dyn Future<Output = Result<Outcome>> + Send>>;

/// Runs `work` on the runtime (see `js::spawn_call` for the signal) and returns the
/// promise it settles.
pub fn settle<'env>(
  env: &'env Env,
  signal: Option<Object<'env>>,
  events: Option<CallEvents>,
  work: Pending,
) -> napi::Result<Unknown<'env>> {
  Ok(spawn_call(env, (signal, None), events, work, outcome_to_js)?.to_unknown())
}

/// A promise that rejects with `error`.
pub fn rejected(env: &Env, error: LdError) -> napi::Result<Unknown<'_>> {
  settle(env, None, None, Box::pin(async move { Err(error) }))
}

/// An operation's JavaScript name (`completePhase`) from its Rust name, made once.
pub fn js_operation_name(rust: &'static str) -> &'static str {
  static NAMES: std::sync::LazyLock<
    std::sync::Mutex<std::collections::HashMap<&'static str, &'static str>>,
  > = std::sync::LazyLock::new(Default::default);
  let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
  names
    .entry(rust)
    .or_insert_with(|| Box::leak(crate::js_name(rust).into_boxed_str()))
}

fn outcome_to_js(env: &Env, outcome: Outcome) -> napi::Result<Unknown<'_>> {
  match outcome {
    Outcome::Json(json) => value(env, json),
    Outcome::Nothing => value(env, ()),
    Outcome::Planned(plan) => {
      let mut object = Object::new(env)?;
      planned(&mut object, plan)?;
      Ok(object.to_unknown())
    }
    Outcome::Bulk(results) => bulk_results(env, results),
    Outcome::Advance(items) => advance_results(env, items),
    Outcome::Step(item) => pages::step(env, item).map(|step| step.to_unknown()),
  }
}

fn value(env: &Env, value: impl ToNapiValue) -> napi::Result<Unknown<'_>> {
  // SAFETY: the value is made in this environment, on its thread, and returned at once.
  unsafe {
    let raw = ToNapiValue::to_napi_value(env.raw(), value)?;
    Ok(Unknown::from_raw_unchecked(env.raw(), raw))
  }
}

/// Sets `dryRun: true`, `request` (null when no write would be sent), `release` (null
/// when nothing was read) and, when it was read, `pipelineKind` on `object`: a
/// `PhaseDryRun`.
fn planned(object: &mut Object, plan: Planned) -> napi::Result<()> {
  use crate::release::PipelineKind;
  object.set("dryRun", true)?;
  object.set("request", plan.request.map(crate::RequestPreview::from))?;
  object.set("release", plan.release)?;
  if let Some(kind) = plan.kind {
    let kind = match kind {
      PipelineKind::Legacy => "legacy",
      PipelineKind::New => "new",
      PipelineKind::Unknown => "unknown",
    };
    object.set("pipelineKind", kind)?;
  }
  Ok(())
}

/// `BulkResult[]`: `{ ok: true, release }` or `{ ok: false, error }` per item, in order
/// (on a dry run `{ ok: true, dryRun: true, request, release }`).
fn bulk_results<'env>(
  env: &'env Env,
  results: Vec<Result<BulkItem>>,
) -> napi::Result<Unknown<'env>> {
  let mut array = env.create_array(results.len() as u32)?;
  for (index, result) in results.into_iter().enumerate() {
    let mut item = Object::new(env)?;
    match result {
      Ok(BulkItem::Done(release)) => {
        item.set("ok", true)?;
        item.set("release", release)?;
      }
      Ok(BulkItem::Planned(plan)) => {
        item.set("ok", true)?;
        planned(&mut item, plan)?;
      }
      Err(error) => failed(env, &mut item, &error)?,
    }
    array.set(index as u32, item)?;
  }
  Ok(array.to_unknown())
}

/// Sets `ok: false` and the item's `error` on `item`; for an item of a stopped run that
/// has no result of its own, `aborted` instead: `'not-sent'` (nothing was written for
/// it) or `'unknown'` (its write was in flight: it may or may not have been applied).
fn failed(env: &Env, item: &mut Object, error: &LdError) -> napi::Result<()> {
  item.set("ok", false)?;
  match error.unfinished {
    Some(Unfinished::NotSent) => item.set("aborted", "not-sent"),
    Some(Unfinished::Unknown) => item.set("aborted", "unknown"),
    None => item.set("error", error_object(env, error, None)?),
  }
}

/// An outcome of `advancePipeline`, with its flag key.
pub type AdvanceItem = (String, Advanced);

/// What became of one flag of `advancePipeline`.
pub enum Advanced {
  /// The write's result.
  Done(Result<ReleaseJson>),
  /// A dry run: the request.
  Planned(crate::client::RequestPreview),
  /// Not at the phase: nothing written.
  Skipped(crate::pipelines::Skip),
}

/// `AdvanceResult[]`: `{ flagKey, ok, release | error }`, on a dry run
/// `{ flagKey, ok: true, dryRun: true, request }`, and for a flag not at the phase
/// `{ flagKey, ok: false, skipped: true, reason, activePhaseId, error }` (`error` an
/// `ERR_LD_CONFLICT` saying what was seen), per flag in listing order.
fn advance_results<'env>(env: &'env Env, results: Vec<AdvanceItem>) -> napi::Result<Unknown<'env>> {
  let mut array = env.create_array(results.len() as u32)?;
  for (index, (flag_key, outcome)) in results.into_iter().enumerate() {
    let mut item = Object::new(env)?;
    item.set("flagKey", flag_key)?;
    match outcome {
      Advanced::Done(Ok(release)) => {
        item.set("ok", true)?;
        item.set("release", release)?;
      }
      Advanced::Done(Err(error)) => failed(env, &mut item, &error)?,
      Advanced::Planned(preview) => {
        item.set("ok", true)?;
        item.set("dryRun", true)?;
        item.set("request", crate::RequestPreview::from(preview))?;
      }
      Advanced::Skipped(skip) => {
        item.set("ok", false)?;
        item.set("skipped", true)?;
        item.set("reason", skip.reason.as_str())?;
        match skip.active_phase_id {
          Some(id) => item.set("activePhaseId", id)?,
          None => item.set("activePhaseId", Null)?,
        }
        let error = LdError::new(ErrorCode::Conflict, skip.message);
        item.set("error", error_object(env, &error, None)?)?;
      }
    }
    array.set(index as u32, item)?;
  }
  Ok(array.to_unknown())
}

/// `getReleasePipeline`, `updateReleasePipeline` (with `input`), `deleteReleasePipeline`.
pub fn release_pipeline(
  args: &Args,
  method: Method,
  project_key: &Unknown,
  pipeline_key: &Unknown,
  input: Option<&Unknown>,
) -> Result<PreparedRequest> {
  let project = options::key("projectKey", project_key)?;
  let pipeline = options::key("pipelineKey", pipeline_key)?;
  let input = input
    .map(|i| as_json(&options::typed::<UpdateReleasePipelineInput>("input", i)?))
    .transpose()?;
  PreparedRequest::release_pipeline_with(
    args.client.config(),
    method,
    &project,
    &pipeline,
    input.as_ref(),
  )
}

/// `createReleasePipeline`: `POST /api/v2/projects/{projectKey}/release-pipelines`.
pub fn create_release_pipeline(
  args: &Args,
  project_key: &Unknown,
  input: &Unknown,
) -> Result<Work> {
  let project = options::key("projectKey", project_key)?;
  let input = as_json(&options::typed::<CreateReleasePipelineInput>(
    "input", input,
  )?)?;
  PreparedRequest::create_release_pipeline(args.client.config(), &project, &input).map(Work::Json)
}

/// `listReleasePipelines`: every pipeline of a project, a page at a time.
pub fn list_release_pipelines(args: &Args, project_key: &Unknown) -> Result<Work> {
  let project = options::key("projectKey", project_key)?;
  let query = options::pipeline_query("options", args.options.copied())?;
  Pager::pipelines_matching(&project, query).map(Work::Pages)
}

/// `listReleaseProgressions`: the flags in a pipeline, by `status` and `phase`.
pub fn list_release_progressions(
  args: &Args,
  project_key: &Unknown,
  pipeline_key: &Unknown,
) -> Result<Work> {
  let project = options::key("projectKey", project_key)?;
  let pipeline = options::key("pipelineKey", pipeline_key)?;
  let (status, phase) = options::progression_options("options", args.options.copied())?;
  let filter = ProgressionFilter {
    status,
    active_phase_id: None,
  };
  Pager::progressions_at(&project, &pipeline, filter, phase).map(Work::Pages)
}

/// `listEnvironmentReleases`: a flag's releases in an environment, by `kind`.
pub fn list_environment_releases(
  args: &Args,
  project_key: &Unknown,
  flag_key: &Unknown,
  environment_key: &Unknown,
) -> Result<Work> {
  let (project, flag) = keys(project_key, flag_key)?;
  let environment = options::key("environmentKey", environment_key)?;
  let kind = options::environment_release_kind("options", args.options.copied())?;
  Pager::environment_releases(&project, &flag, &environment, kind.as_deref()).map(Work::Pages)
}

/// `watchEnvironmentRelease`: one release followed until it ends.
pub fn watch_environment_release(
  args: &Args,
  project_key: &Unknown,
  flag_key: &Unknown,
  environment_key: &Unknown,
  release_id: &Unknown,
) -> Result<Work> {
  let (project, flag) = keys(project_key, flag_key)?;
  let environment = options::key("environmentKey", environment_key)?;
  let release_id = options::key("releaseId", release_id)?;
  let interval = options::watch_interval("options", args.options.copied())?;
  Watch::new(
    args.client.config(),
    (&project, &flag, &environment),
    &release_id,
    interval,
  )
  .map(Work::Watch)
}

/// `getReleaseProgressionSummary`: a pipeline's progressions counted.
pub fn progression_summary(project_key: &Unknown, pipeline_key: &Unknown) -> Result<Work> {
  Ok(Work::Summary {
    project_key: options::key("projectKey", project_key)?,
    pipeline_key: options::key("pipelineKey", pipeline_key)?,
  })
}

/// `advancePipeline`: every flag at phase `from` moved past it.
pub fn advance_pipeline(
  args: &Args,
  project_key: &Unknown,
  pipeline_key: &Unknown,
  from: &Unknown,
) -> Result<Work> {
  let project_key = options::key("projectKey", project_key)?;
  let pipeline_key = options::key("pipelineKey", pipeline_key)?;
  let from = options::phase_ref("from", from)?;
  let bulk = options::bulk_options("options", args.options.copied())?;
  let dry_run = options::dry_run("options", args.options.copied())?;
  Ok(Work::Advance {
    project_key,
    pipeline_key,
    from,
    settings: AdvanceSettings {
      concurrency: bulk.concurrency,
      progress: bulk.progress,
      dry_run,
    },
  })
}

/// A project and a flag key, each a non-empty string.
pub fn keys(project_key: &Unknown, flag_key: &Unknown) -> Result<(String, String)> {
  Ok((
    options::key("projectKey", project_key)?,
    options::key("flagKey", flag_key)?,
  ))
}

/// `completePhase`, `reopenPhase`, `startPhase`: a phase by index, `{ name }` or `{ id }`,
/// and `dryRun`.
pub fn phase_change(
  args: &Args,
  project_key: &Unknown,
  flag_key: &Unknown,
  phase: &Unknown,
  action: PhaseAction,
) -> Result<Work> {
  let (project_key, flag_key) = keys(project_key, flag_key)?;
  let phase = options::phase_ref("phase", phase)?;
  let dry_run = options::dry_run("options", args.options.copied())?;
  Ok(Work::Phase(
    PhaseChange {
      project_key,
      flag_key,
      phase,
      action,
    },
    dry_run,
  ))
}

/// A request to `/api/v2/flags/{projectKey}/{flagKey}/release`.
pub fn release_request(
  args: &Args,
  method: Method,
  project_key: &Unknown,
  flag_key: &Unknown,
  patch: Option<&Unknown>,
) -> Result<PreparedRequest> {
  let (project, flag) = keys(project_key, flag_key)?;
  let ops = patch.map(|p| options::patch_ops("patch", p)).transpose()?;
  PreparedRequest::release(
    args.client.config(),
    method,
    &project,
    &flag,
    ops.as_deref(),
  )
}

/// `createRelease`: `PUT /api/v2/projects/{projectKey}/flags/{flagKey}/release`.
pub fn create_release(
  args: &Args,
  project_key: &Unknown,
  flag_key: &Unknown,
  input: &Unknown,
) -> Result<Work> {
  let (project, flag) = keys(project_key, flag_key)?;
  let input = as_json(&options::create_release_input("input", input)?)?;
  PreparedRequest::create_release(args.client.config(), &project, &flag, &input).map(Work::Json)
}

/// `updatePhaseStatus`: `PUT .../release/phases/{phaseId}`.
pub fn update_phase_status(
  args: &Args,
  project_key: &Unknown,
  flag_key: &Unknown,
  phase_id: &Unknown,
  input: &Unknown,
) -> Result<Work> {
  let (project, flag) = keys(project_key, flag_key)?;
  let phase_id = options::key("phaseId", phase_id)?;
  let input = as_json(&options::update_phase_status_input("input", input)?)?;
  PreparedRequest::update_phase_status(args.client.config(), &project, &flag, &phase_id, &input)
    .map(Work::Json)
}

/// `completePhases`: each item a phase change (a bad item is that item's error).
pub fn complete_phases(args: &Args, items: &Unknown) -> Result<Work> {
  let settings = options::bulk_options("options", args.options.copied())?;
  let dry_run = options::dry_run("options", args.options.copied())?;
  let changes = options::phase_items("items", items, |project, flag, phase, complete| {
    Ok(PhaseChange {
      project_key: project.to_string(),
      flag_key: flag.to_string(),
      phase: PhaseRef::Index(phase),
      action: if complete {
        PhaseAction::Complete
      } else {
        PhaseAction::Reopen
      },
    })
  })?;
  Ok(Work::Bulk(changes, settings, dry_run))
}

/// The flag and environment of an environment release, each key checked.
fn release_target(keys: [&Unknown; 3]) -> Result<ReleaseTarget> {
  let [project, flag, environment] = keys;
  ReleaseTarget::new(
    &options::key("projectKey", project)?,
    &options::key("flagKey", flag)?,
    &options::key("environmentKey", environment)?,
  )
}

/// `startEnvironmentRelease`: the input checked (and kind clauses added) before anything
/// is sent.
pub fn start_environment_release(
  args: &Args,
  keys: [&Unknown; 3],
  input: &Unknown,
) -> Result<Work> {
  let target = release_target(keys)?;
  let input = options::json_value("input", input)?;
  StartRelease::new(args.client.config(), target, "input", &input).map(|s| Work::Start(Box::new(s)))
}

/// `getEnvironmentRelease`, with `expandMetrics`.
pub fn get_environment_release(
  args: &Args,
  keys: [&Unknown; 3],
  release_id: &Unknown,
) -> Result<Work> {
  let target = release_target(keys)?;
  let release_id = options::key("releaseId", release_id)?;
  let expand = options::expand_metrics("options", args.options.copied())?;
  let request =
    PreparedRequest::environment_release(args.client.config(), &target, &release_id, expand)?;
  Ok(Work::Environment(target, request))
}

/// `stopEnvironmentRelease`, with `resolution` and `comment`.
pub fn stop_environment_release(
  args: &Args,
  keys: [&Unknown; 3],
  release_id: &Unknown,
) -> Result<Work> {
  let target = release_target(keys)?;
  let release_id = options::key("releaseId", release_id)?;
  let (resolution, comment) = options::stop_options("options", args.options.copied())?;
  let request = PreparedRequest::stop_environment_release(
    args.client.config(),
    &target,
    &release_id,
    &resolution,
    comment.as_deref(),
  )?;
  Ok(Work::Environment(target, request))
}

/// `getFlag`: one read of the flag, the answer as sent.
pub fn get_flag(args: &Args, project_key: &Unknown, flag_key: &Unknown) -> Result<Work> {
  let project = options::key("projectKey", project_key)?;
  let flag = options::key("flagKey", flag_key)?;
  PreparedRequest::flag(args.client.config(), &project, &flag).map(Work::Json)
}

/// `listReleasePolicies`: one request, the answer as sent.
pub fn release_policies(args: &Args, project_key: &Unknown) -> Result<Work> {
  let project = options::key("projectKey", project_key)?;
  PreparedRequest::release_policies(args.client.config(), &project).map(Work::Json)
}

/// `getReleasePolicy`, `updateReleasePolicy` (with `input`), `deleteReleasePolicy`.
pub fn release_policy(
  args: &Args,
  method: Method,
  project_key: &Unknown,
  policy_key: &Unknown,
  input: Option<&Unknown>,
) -> Result<PreparedRequest> {
  let project = options::key("projectKey", project_key)?;
  let policy = options::key("policyKey", policy_key)?;
  let input = input.map(|i| options::json_value("input", i)).transpose()?;
  PreparedRequest::release_policy(
    args.client.config(),
    method,
    &project,
    &policy,
    input.as_ref(),
  )
}

/// `createReleasePolicy`.
pub fn create_release_policy(args: &Args, project_key: &Unknown, input: &Unknown) -> Result<Work> {
  let project = options::key("projectKey", project_key)?;
  let input = options::json_value("input", input)?;
  PreparedRequest::create_release_policy(args.client.config(), &project, &input).map(Work::Json)
}

/// `reorderReleasePolicies`: the keys, each a non-empty string.
pub fn reorder_release_policies(
  args: &Args,
  project_key: &Unknown,
  keys: &Unknown,
) -> Result<Work> {
  let project = options::key("projectKey", project_key)?;
  let keys = match options::json_value("keys", keys)? {
    serde_json::Value::Array(items) => items
      .into_iter()
      .enumerate()
      .map(|(index, key)| match key {
        serde_json::Value::String(key) => Ok(key),
        _ => Err(LdError::invalid(format!("keys[{index}] must be a string"))),
      })
      .collect::<Result<Vec<_>>>()?,
    _ => return Err(LdError::invalid("keys must be an array of policy keys")),
  };
  PreparedRequest::reorder_release_policies(args.client.config(), &project, &keys)
    .map(Work::AnyJson)
}

/// A typed input as the JSON body the core sends.
fn as_json(input: &impl serde::Serialize) -> Result<serde_json::Value> {
  serde_json::to_value(input)
    .map_err(|e| LdError::invalid(format!("input could not be encoded: {e}")))
}

impl Work {
  /// The first request this work sends, as the client would send it now: the request
  /// itself, or for a phase change the first of its requests (see
  /// `Client::first_request`). A bulk run has none of its own.
  pub fn first_request(&self, client: &Client) -> Result<PreparedRequest> {
    match self {
      Work::Json(request)
      | Work::NoContent(request)
      | Work::AnyJson(request)
      | Work::Environment(_, request) => Ok(request.clone()),
      Work::Start(start) => Ok(start.request.clone()),
      Work::Pages(pager) => pager.first_request(client.config()),
      Work::Watch(watch) => Ok(watch.request().clone()),
      Work::Advance {
        project_key,
        pipeline_key,
        ..
      } => PreparedRequest::release_pipeline_with(
        client.config(),
        Method::GET,
        project_key,
        pipeline_key,
        None,
      ),
      Work::Phase(change, _) => client.first_request(change),
      Work::Summary {
        project_key,
        pipeline_key,
      } => PreparedRequest::progression_summary(client.config(), project_key, pipeline_key),
      Work::Bulk(..) => Err(LdError::invalid(
        "completePhases sends one call per item: preview an item's completePhase instead",
      )),
    }
  }
}
