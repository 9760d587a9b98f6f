//! Calls from JavaScript: arguments read into a `Job` (or a bulk run), run on a client,
//! settled through `js::spawn_call`.

use std::sync::Arc;

use napi::bindgen_prelude::{Object, PromiseRaw};
use napi::{Env, JsValue, Unknown};
use reqwest::Method;

use crate::bulk;
use crate::client::{Client, PreparedRequest};
use crate::config::RequestOptions;
use crate::diagnostics;
use crate::error::LdError;
use crate::js::{error_object, reject, spawn_call, ReleaseJson};
use crate::options::{self, Accept, CallOptions};
use crate::phases::{PhaseAction, PhaseChange, PhaseRef};
use crate::release::Release;

/// What a call does, once its arguments are read.
pub enum Job {
  /// Send the request; the answer is a Release.
  Release(PreparedRequest),
  /// Change a phase named by index, name or id.
  Phase(PhaseChange),
}

impl Job {
  async fn run(self, client: &Client, options: RequestOptions) -> Result<Release, LdError> {
    match self {
      Job::Release(request) => client.send_release(request, options).await,
      Job::Phase(change) => client.change_phase(change, options).await,
    }
  }
}

pub fn keys(project_key: &Unknown, flag_key: &Unknown) -> Result<(String, String), LdError> {
  Ok((
    options::key("projectKey", project_key)?,
    options::key("flagKey", flag_key)?,
  ))
}

pub fn phase_call(
  project_key: &Unknown,
  flag_key: &Unknown,
  phase: &Unknown,
  action: PhaseAction,
) -> Result<Job, LdError> {
  let (project_key, flag_key) = keys(project_key, flag_key)?;
  let phase = options::phase_ref("phase", phase)?;
  Ok(Job::Phase(PhaseChange {
    project_key,
    flag_key,
    phase,
    action,
  }))
}

pub fn patch_call(
  env: &Env,
  client: &Client,
  project_key: &Unknown,
  flag_key: &Unknown,
  patch: &Unknown,
) -> Result<Job, LdError> {
  let (project, flag) = keys(project_key, flag_key)?;
  let ops = options::patch_ops(env, "patch", patch)?;
  PreparedRequest::release(client.config(), Method::PATCH, &project, &flag, Some(&ops))
    .map(Job::Release)
}

pub fn get_call(
  client: &Client,
  project_key: &Unknown,
  flag_key: &Unknown,
) -> Result<Job, LdError> {
  let (project, flag) = keys(project_key, flag_key)?;
  PreparedRequest::release(client.config(), Method::GET, &project, &flag, None).map(Job::Release)
}

pub fn create_call(
  env: &Env,
  client: &Client,
  project_key: &Unknown,
  flag_key: &Unknown,
  input: &Unknown,
) -> Result<Job, LdError> {
  let (project, flag) = keys(project_key, flag_key)?;
  let input = as_json(&options::create_release_input(env, "input", input)?)?;
  PreparedRequest::create_release(client.config(), &project, &flag, &input).map(Job::Release)
}

pub fn update_call(
  env: &Env,
  client: &Client,
  project_key: &Unknown,
  flag_key: &Unknown,
  phase_id: &Unknown,
  input: &Unknown,
) -> Result<Job, LdError> {
  let (project, flag) = keys(project_key, flag_key)?;
  let phase_id = options::key("phaseId", phase_id)?;
  let input = as_json(&options::update_phase_status_input(env, "input", input)?)?;
  PreparedRequest::update_phase_status(client.config(), &project, &flag, &phase_id, &input)
    .map(Job::Release)
}

/// A typed input as the JSON body the core sends.
fn as_json(input: &impl serde::Serialize) -> Result<serde_json::Value, LdError> {
  serde_json::to_value(input)
    .map_err(|e| LdError::invalid(format!("input could not be encoded: {e}")))
}

pub fn delete_call(
  client: &Client,
  project_key: &Unknown,
  flag_key: &Unknown,
) -> Result<PreparedRequest, LdError> {
  let (project, flag) = keys(project_key, flag_key)?;
  PreparedRequest::release(client.config(), Method::DELETE, &project, &flag, None)
}

/// A module-level call: options are read first (a bad option fails before the keys are
/// looked at), then the shared client for them prepares the job.
pub fn module_call<'env>(
  env: &'env Env,
  options: Option<Unknown<'env>>,
  prepare: impl FnOnce(&Client) -> Result<Job, LdError>,
) -> napi::Result<PromiseRaw<'env, ReleaseJson>> {
  let setup = options::call_options("options", options, Accept::Both).and_then(|opts| {
    let client = Client::shared(&opts.client)?;
    Ok((opts, client))
  });
  match setup {
    Ok((opts, client)) => {
      let job = prepare(&client);
      single(env, job, opts, client)
    }
    Err(e) => reject(env, e),
  }
}

/// A call of a `ReleaseClient` method.
pub fn send<'env>(
  env: &'env Env,
  job: Result<Job, LdError>,
  options: Option<Unknown<'env>>,
  client: Arc<Client>,
) -> napi::Result<PromiseRaw<'env, ReleaseJson>> {
  match options::call_options("options", options, Accept::Request) {
    Ok(opts) => single(env, job, opts, client),
    Err(e) => reject(env, e),
  }
}

pub fn single<'env>(
  env: &'env Env,
  job: Result<Job, LdError>,
  opts: CallOptions<'env>,
  client: Arc<Client>,
) -> napi::Result<PromiseRaw<'env, ReleaseJson>> {
  let job = match job.and_then(|job| client.config().require_api_key().map(|_| job)) {
    Ok(job) => job,
    Err(e) => return reject(env, e),
  };
  let operation = diagnostics::operation(&job);
  let (request_options, events) = diagnostics::observe(env, opts.request, operation);
  // Boxed: the call's state machine (a few KiB) then stays put instead of being copied
  // through each layer of napi's and tokio's task wrappers.
  let work = Box::pin(async move { job.run(&client, request_options).await });
  spawn_call(
    env,
    opts.signal,
    events,
    async move { work.await.map(ReleaseJson::from) },
    |_env, release| Ok(release),
  )
}

/// `deleteRelease`, on a client (`client` given) or module-level. Resolves to `undefined`.
pub fn delete_release_call<'env>(
  env: &'env Env,
  project_key: &Unknown,
  flag_key: &Unknown,
  options: Option<Unknown<'env>>,
  accept: Accept,
  client: Option<Arc<Client>>,
) -> napi::Result<PromiseRaw<'env, ()>> {
  let setup = options::call_options("options", options, accept).and_then(|opts| {
    let client = match client {
      Some(client) => client,
      None => Client::shared(&opts.client)?,
    };
    let request = delete_call(&client, project_key, flag_key)?;
    client.config().require_api_key()?;
    Ok((opts, client, request))
  });
  let (opts, client, request) = match setup {
    Ok(setup) => setup,
    Err(e) => return reject(env, e),
  };
  let (request_options, events) = diagnostics::observe(env, opts.request, "deleteRelease");
  spawn_call(
    env,
    opts.signal,
    events,
    async move { client.send_no_content(request, request_options).await },
    |_env, ()| Ok(()),
  )
}

/// `completePhases`, on a client (`client` given) or module-level.
pub fn bulk_call<'env>(
  env: &'env Env,
  items: Unknown,
  options: Option<Unknown<'env>>,
  accept: Accept,
  client: Option<Arc<Client>>,
) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
  let setup = (|| {
    let opts = options::call_options_with("options", options, accept, &options::BULK_OPTIONS)?;
    let bulk = options::bulk_options("options", options)?;
    let client = match client {
      Some(client) => client,
      None => Client::shared(&opts.client)?,
    };
    client.config().require_api_key()?;
    let requests = options::phase_items("items", &items, |project, flag, phase, complete| {
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
    Ok((opts, bulk, client, requests))
  })();
  let (opts, bulk, client, requests) = match setup {
    Ok(setup) => setup,
    Err(e) => return reject(env, e),
  };
  let (request_options, events) = diagnostics::observe(env, opts.request, "completePhases");
  spawn_call(
    env,
    opts.signal,
    events,
    async move {
      let results = bulk::run(
        client,
        requests,
        bulk.concurrency,
        request_options,
        bulk.progress,
      )
      .await;
      Ok(
        results
          .into_iter()
          .map(|result| result.map(ReleaseJson::from))
          .collect::<Vec<_>>(),
      )
    },
    |env, results| {
      let mut array = env.create_array(results.len() as u32)?;
      for (index, result) in results.into_iter().enumerate() {
        let mut item = Object::new(env)?;
        match result {
          Ok(release) => {
            item.set("ok", true)?;
            item.set("release", release)?;
          }
          Err(error) => {
            item.set("ok", false)?;
            item.set("error", error_object(env, &error, None)?)?;
          }
        }
        array.set(index as u32, item)?;
      }
      Ok(array.to_unknown())
    },
  )
}
