#![deny(clippy::all)]
//! ld-release: mark LaunchDarkly release phases complete from Node.js.
//!
//! This file is the napi layer: it converts JavaScript arguments once into core types
//! (`options`), runs the core (`client`) on the runtime, and turns `LdError` into
//! JavaScript errors with a stable `code`.

pub mod bulk;
pub mod client;
pub mod config;
pub mod error;
pub mod limiter;
pub mod options;
pub mod patch;
pub mod phases;
pub mod release;
pub mod tls;

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, LazyLock, Mutex};

use napi::bindgen_prelude::{FnArgs, Function, JsObjectValue, Object, PromiseRaw, ToNapiValue};
use napi::{Env, JsValue, Status, Unknown, UnknownRef};
use napi_derive::napi;
use reqwest::Method;

use crate::client::{Client, PreparedRequest};
use crate::config::{ClientConfig, ClientOptions, RequestOptions};
use crate::error::{ErrorCode, LdError};
use crate::options::{Accept, CallOptions};
use crate::patch::PatchOperation as CorePatchOperation;
use crate::phases::PhaseChange;
use crate::release::Release;

/// One RFC 6902 JSON Patch operation.
#[napi(object)]
pub struct PatchOperation {
  /// `add`, `remove`, `replace`, `move`, `copy` or `test`
  pub op: String,
  /// A JSON Pointer to the part of the release to operate on, e.g. `/phases/0/complete`
  pub path: String,
  /// The value, for `add`, `replace` and `test`
  #[napi(ts_type = "unknown")]
  pub value: Option<serde_json::Value>,
  /// The source JSON Pointer, for `move` and `copy`
  pub from: Option<String>,
}

impl From<CorePatchOperation> for PatchOperation {
  fn from(op: CorePatchOperation) -> Self {
    PatchOperation {
      op: op.op,
      path: op.path,
      value: op.value,
      from: op.from,
    }
  }
}

/// Settings of a client. Every field is optional.
#[napi(object, object_to_js = false, js_name = "ClientOptions")]
pub struct ClientOptionsType {
  /// The access token. Default: env `LD_ACCESS_TOKEN`, then `LAUNCHDARKLY_ACCESS_TOKEN`.
  pub api_key: Option<String>,
  /// The LaunchDarkly instance. Default: env `LD_BASE_URI`, then `LAUNCHDARKLY_API_HOST`,
  /// then `https://app.launchdarkly.com`. `http:` is accepted only for loopback hosts.
  pub base_url: Option<String>,
  /// Timeout of each attempt in milliseconds. Default 30000.
  pub timeout_ms: Option<u32>,
  /// Retries after the first attempt, for 429, 5xx, timeouts and network failures.
  /// Default 3; 0 disables.
  pub max_retries: Option<u32>,
  /// Appended to the `User-Agent`, after `ld-release/<version>`.
  pub user_agent: Option<String>,
  /// Send `PATCH` as `POST` with `X-HTTP-Method-Override: PATCH`, for networks whose
  /// proxies drop `PATCH`. LaunchDarkly accepts it. Default false.
  pub method_override: Option<bool>,
}

/// Settings of one call.
#[napi(object, object_to_js = false, js_name = "RequestOptions")]
pub struct RequestOptionsType {
  /// Aborts the call: the request in flight is dropped and the promise rejects with
  /// an `AbortError`.
  #[napi(ts_type = "AbortSignal")]
  pub signal: Option<Unknown<'static>>,
  /// Timeout of each attempt in milliseconds, for this call.
  pub timeout_ms: Option<u32>,
  /// Retries after the first attempt, for this call.
  pub max_retries: Option<u32>,
}

/// One item of a bulk run.
#[napi(object, object_to_js = false)]
pub struct PhaseItem {
  pub project_key: String,
  pub flag_key: String,
  /// The 0-based phase index
  pub phase: u32,
  /// `true` (the default) marks the phase complete, `false` reopens it
  pub complete: Option<bool>,
}

/// Settings of a bulk run.
#[napi(object, object_to_js = false, js_name = "BulkOptions")]
pub struct BulkOptionsType {
  /// How many requests may be in flight at once. Default 8.
  pub concurrency: Option<u32>,
  /// Called after each item with the number of items done and the total.
  #[napi(ts_type = "(done: number, total: number) => void")]
  pub on_progress: Option<Unknown<'static>>,
}

/// A request as it would be sent, with the access token masked.
#[napi(object, object_from_js = false)]
pub struct RequestPreview {
  /// HTTP method
  pub method: String,
  /// Full URL
  pub url: String,
  /// Request headers; `Authorization` shows only the token's last four characters
  pub headers: std::collections::BTreeMap<String, String>,
  /// The JSON body, if the request has one
  pub body: Option<String>,
}

/// A client for the LaunchDarkly release endpoints. One client keeps one connection
/// pool: create it once and reuse it.
#[napi]
pub struct ReleaseClient {
  inner: Arc<Client>,
}

#[napi]
impl ReleaseClient {
  /// Creates a client. Throws `ERR_LD_INVALID_ARGUMENT` for a bad option and
  /// `ERR_LD_INSECURE_URL` for a bad `baseUrl`. A missing token is reported by the first
  /// call that needs it (`ERR_LD_NO_API_KEY`).
  #[napi(constructor, ts_args_type = "options?: ClientOptions")]
  pub fn new(env: Env, options: Option<Unknown>) -> napi::Result<Self> {
    let built =
      options::call_options("options", options, Accept::Client).and_then(|o| new_client(&o.client));
    built
      .map(|inner| ReleaseClient {
        inner: Arc::new(inner),
      })
      .map_err(|e| throwable(&env, &e, None))
  }

  /// Marks a phase of the flag's release complete. With a 0-based index it sends
  /// `[{"op":"replace","path":"/phases/<phase>/complete","value":true}]`. With
  /// `{ name }` or `{ id }` it reads the release first, and the patch also tests that the
  /// phase at that index still has that id: if the release changed in between, the call
  /// fails with `ERR_LD_CONFLICT` and nothing is changed.
  #[napi(
    ts_args_type = "projectKey: string, flagKey: string, phase: PhaseSelector, options?: RequestOptions",
    ts_return_type = "Promise<Release>"
  )]
  pub fn complete_phase<'env>(
    &self,
    env: &'env Env,
    project_key: Unknown,
    flag_key: Unknown,
    phase: Unknown,
    options: Option<Unknown<'env>>,
  ) -> napi::Result<PromiseRaw<'env, Release>> {
    let job = phase_call(&project_key, &flag_key, &phase, true);
    send(env, job, options, self.inner.clone())
  }

  /// Marks a phase of the flag's release incomplete (`"value": false`). The phase is
  /// named as for `completePhase`.
  #[napi(
    ts_args_type = "projectKey: string, flagKey: string, phase: PhaseSelector, options?: RequestOptions",
    ts_return_type = "Promise<Release>"
  )]
  pub fn reopen_phase<'env>(
    &self,
    env: &'env Env,
    project_key: Unknown,
    flag_key: Unknown,
    phase: Unknown,
    options: Option<Unknown<'env>>,
  ) -> napi::Result<PromiseRaw<'env, Release>> {
    let job = phase_call(&project_key, &flag_key, &phase, false);
    send(env, job, options, self.inner.clone())
  }

  /// Sends a JSON Patch to the flag's release. The operations are validated as RFC 6902
  /// operations before anything is sent.
  #[napi(
    ts_args_type = "projectKey: string, flagKey: string, patch: PatchOperation[], options?: RequestOptions",
    ts_return_type = "Promise<Release>"
  )]
  pub fn patch_release<'env>(
    &self,
    env: &'env Env,
    project_key: Unknown,
    flag_key: Unknown,
    patch: Unknown,
    options: Option<Unknown<'env>>,
  ) -> napi::Result<PromiseRaw<'env, Release>> {
    let job = patch_call(env, &self.inner, &project_key, &flag_key, &patch);
    send(env, job, options, self.inner.clone())
  }

  /// Marks many phases complete (or, with `complete: false`, incomplete) through this
  /// client's one connection pool and rate-limit gate. Resolves to one result per item,
  /// in input order; a failing item never rejects the batch. Rejects only for a bad
  /// `items` or option, or with an `AbortError` when `signal` aborts the rest of the run.
  #[napi(
    ts_args_type = "items: PhaseItem[], options?: BulkOptions & RequestOptions",
    ts_return_type = "Promise<BulkResult[]>"
  )]
  pub fn complete_phases<'env>(
    &self,
    env: &'env Env,
    items: Unknown,
    options: Option<Unknown<'env>>,
  ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
    bulk_call(
      env,
      items,
      options,
      Accept::Request,
      Some(self.inner.clone()),
    )
  }

  /// Reads the flag's release (`GET`, same path).
  #[napi(
    ts_args_type = "projectKey: string, flagKey: string, options?: RequestOptions",
    ts_return_type = "Promise<Release>"
  )]
  pub fn get_release<'env>(
    &self,
    env: &'env Env,
    project_key: Unknown,
    flag_key: Unknown,
    options: Option<Unknown<'env>>,
  ) -> napi::Result<PromiseRaw<'env, Release>> {
    let job = get_call(&self.inner, &project_key, &flag_key);
    send(env, job, options, self.inner.clone())
  }

  /// Starts a release of the flag in a release pipeline:
  /// `PUT /api/v2/projects/{projectKey}/flags/{flagKey}/release`.
  #[napi(
    ts_args_type = "projectKey: string, flagKey: string, input: CreateReleaseInput, options?: RequestOptions",
    ts_return_type = "Promise<Release>"
  )]
  pub fn create_release<'env>(
    &self,
    env: &'env Env,
    project_key: Unknown,
    flag_key: Unknown,
    input: Unknown,
    options: Option<Unknown<'env>>,
  ) -> napi::Result<PromiseRaw<'env, Release>> {
    let job = create_call(env, &self.inner, &project_key, &flag_key, &input);
    send(env, job, options, self.inner.clone())
  }

  /// Deletes the flag's release: `DELETE /api/v2/flags/{projectKey}/{flagKey}/release`.
  /// Resolves to `undefined`.
  #[napi(
    ts_args_type = "projectKey: string, flagKey: string, options?: RequestOptions",
    ts_return_type = "Promise<void>"
  )]
  pub fn delete_release<'env>(
    &self,
    env: &'env Env,
    project_key: Unknown,
    flag_key: Unknown,
    options: Option<Unknown<'env>>,
  ) -> napi::Result<PromiseRaw<'env, ()>> {
    let client = Some(self.inner.clone());
    delete_release_call(
      env,
      &project_key,
      &flag_key,
      options,
      Accept::Request,
      client,
    )
  }

  /// Sets the status of a phase, for releases of the newer release pipelines (where the
  /// PATCH no longer works):
  /// `PUT /api/v2/projects/{projectKey}/flags/{flagKey}/release/phases/{phaseId}`.
  #[napi(
    ts_args_type = "projectKey: string, flagKey: string, phaseId: string, input: UpdatePhaseStatusInput, options?: RequestOptions",
    ts_return_type = "Promise<Release>"
  )]
  pub fn update_phase_status<'env>(
    &self,
    env: &'env Env,
    project_key: Unknown,
    flag_key: Unknown,
    phase_id: Unknown,
    input: Unknown,
    options: Option<Unknown<'env>>,
  ) -> napi::Result<PromiseRaw<'env, Release>> {
    let job = update_call(env, &self.inner, &project_key, &flag_key, &phase_id, &input);
    send(env, job, options, self.inner.clone())
  }
}

/// Marks a phase complete with a client built from `options` and the environment.
/// Clients are shared between calls with the same settings.
#[napi(
  ts_args_type = "projectKey: string, flagKey: string, phase: PhaseSelector, options?: ClientOptions & RequestOptions",
  ts_return_type = "Promise<Release>"
)]
pub fn complete_phase<'env>(
  env: &'env Env,
  project_key: Unknown,
  flag_key: Unknown,
  phase: Unknown,
  options: Option<Unknown<'env>>,
) -> napi::Result<PromiseRaw<'env, Release>> {
  module_call(env, options, |_client| {
    phase_call(&project_key, &flag_key, &phase, true)
  })
}

/// Marks a phase incomplete with a shared client built from `options` and the environment.
#[napi(
  ts_args_type = "projectKey: string, flagKey: string, phase: PhaseSelector, options?: ClientOptions & RequestOptions",
  ts_return_type = "Promise<Release>"
)]
pub fn reopen_phase<'env>(
  env: &'env Env,
  project_key: Unknown,
  flag_key: Unknown,
  phase: Unknown,
  options: Option<Unknown<'env>>,
) -> napi::Result<PromiseRaw<'env, Release>> {
  module_call(env, options, |_client| {
    phase_call(&project_key, &flag_key, &phase, false)
  })
}

/// Sends a JSON Patch with a shared client built from `options` and the environment.
#[napi(
  ts_args_type = "projectKey: string, flagKey: string, patch: PatchOperation[], options?: ClientOptions & RequestOptions",
  ts_return_type = "Promise<Release>"
)]
pub fn patch_release<'env>(
  env: &'env Env,
  project_key: Unknown,
  flag_key: Unknown,
  patch: Unknown,
  options: Option<Unknown<'env>>,
) -> napi::Result<PromiseRaw<'env, Release>> {
  module_call(env, options, |client| {
    patch_call(env, client, &project_key, &flag_key, &patch)
  })
}

/// Reads a release with a shared client built from `options` and the environment.
#[napi(
  ts_args_type = "projectKey: string, flagKey: string, options?: ClientOptions & RequestOptions",
  ts_return_type = "Promise<Release>"
)]
pub fn get_release<'env>(
  env: &'env Env,
  project_key: Unknown,
  flag_key: Unknown,
  options: Option<Unknown<'env>>,
) -> napi::Result<PromiseRaw<'env, Release>> {
  module_call(env, options, |client| {
    get_call(client, &project_key, &flag_key)
  })
}

/// Marks many phases complete with a shared client built from `options` and the
/// environment. See `ReleaseClient.completePhases`.
#[napi(
  ts_args_type = "items: PhaseItem[], options?: ClientOptions & BulkOptions & RequestOptions",
  ts_return_type = "Promise<BulkResult[]>"
)]
pub fn complete_phases<'env>(
  env: &'env Env,
  items: Unknown,
  options: Option<Unknown<'env>>,
) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
  bulk_call(env, items, options, Accept::Both, None)
}

/// Starts a release with a shared client built from `options` and the environment.
#[napi(
  ts_args_type = "projectKey: string, flagKey: string, input: CreateReleaseInput, options?: ClientOptions & RequestOptions",
  ts_return_type = "Promise<Release>"
)]
pub fn create_release<'env>(
  env: &'env Env,
  project_key: Unknown,
  flag_key: Unknown,
  input: Unknown,
  options: Option<Unknown<'env>>,
) -> napi::Result<PromiseRaw<'env, Release>> {
  module_call(env, options, |client| {
    create_call(env, client, &project_key, &flag_key, &input)
  })
}

/// Deletes a release with a shared client built from `options` and the environment.
#[napi(
  ts_args_type = "projectKey: string, flagKey: string, options?: ClientOptions & RequestOptions",
  ts_return_type = "Promise<void>"
)]
pub fn delete_release<'env>(
  env: &'env Env,
  project_key: Unknown,
  flag_key: Unknown,
  options: Option<Unknown<'env>>,
) -> napi::Result<PromiseRaw<'env, ()>> {
  delete_release_call(env, &project_key, &flag_key, options, Accept::Both, None)
}

/// Sets a phase's status with a shared client built from `options` and the environment.
#[napi(
  ts_args_type = "projectKey: string, flagKey: string, phaseId: string, input: UpdatePhaseStatusInput, options?: ClientOptions & RequestOptions",
  ts_return_type = "Promise<Release>"
)]
pub fn update_phase_status<'env>(
  env: &'env Env,
  project_key: Unknown,
  flag_key: Unknown,
  phase_id: Unknown,
  input: Unknown,
  options: Option<Unknown<'env>>,
) -> napi::Result<PromiseRaw<'env, Release>> {
  module_call(env, options, |client| {
    update_call(env, client, &project_key, &flag_key, &phase_id, &input)
  })
}

/// The patch that marks `phase` complete or incomplete. Pure: sends nothing.
#[napi(ts_args_type = "phase: number, complete: boolean")]
pub fn phase_patch(
  env: Env,
  phase: Unknown,
  complete: Unknown,
) -> napi::Result<Vec<PatchOperation>> {
  let built = options::phase("phase", &phase).and_then(|phase| {
    let complete = options::boolean("complete", &complete)?;
    Ok(patch::phase_patch(phase, complete))
  });
  built
    .map(|ops| ops.into_iter().map(PatchOperation::from).collect())
    .map_err(|e| throwable(&env, &e, None))
}

/// Describes the request a call would send (method, URL, headers with the token masked,
/// body) and sends nothing. `patch` is required for `PATCH` and refused for `GET`.
#[napi(
  ts_args_type = "method: 'GET' | 'PATCH', projectKey: string, flagKey: string, patch?: PatchOperation[] | null, options?: ClientOptions"
)]
pub fn preview_request(
  env: Env,
  method: Unknown,
  project_key: Unknown,
  flag_key: Unknown,
  patch: Option<Unknown>,
  options: Option<Unknown>,
) -> napi::Result<RequestPreview> {
  let built = (|| {
    let method = options::string("method", &method)?;
    let opts = options::call_options("options", options, Accept::Client)?;
    let client = shared_client(&opts.client)?;
    let patch = patch.filter(|p| {
      !matches!(
        p.get_type(),
        Ok(napi::ValueType::Undefined | napi::ValueType::Null)
      )
    });
    let job = match (method.as_str(), patch) {
      ("GET", None) => get_call(&client, &project_key, &flag_key)?,
      ("PATCH", Some(patch)) => patch_call(&env, &client, &project_key, &flag_key, &patch)?,
      ("GET", Some(_)) => return Err(LdError::invalid("patch must not be given for GET")),
      ("PATCH", None) => return Err(LdError::invalid("patch is required for PATCH")),
      (other, _) => {
        return Err(LdError::invalid(format!(
          "method must be 'GET' or 'PATCH', got {other:?}"
        )))
      }
    };
    match job {
      Job::Release(prepared) => Ok(client.preview(&prepared)),
      Job::Phase(_) => Err(LdError::invalid(
        "a phase change has no single request to preview",
      )),
    }
  })();
  built
    .map(|p| RequestPreview {
      method: p.method,
      url: p.url,
      headers: p.headers.into_iter().collect(),
      body: p.body,
    })
    .map_err(|e| throwable(&env, &e, None))
}

fn new_client(options: &ClientOptions) -> Result<Client, LdError> {
  Client::new(ClientConfig::resolve(options, |name| {
    std::env::var(name).ok()
  })?)
}

/// Clients of module-level calls, one per distinct configuration (token, base URL,
/// user agent), so calls share connection pools.
fn shared_client(options: &ClientOptions) -> Result<Arc<Client>, LdError> {
  const MAX_SHARED_CLIENTS: usize = 32;
  static CLIENTS: LazyLock<Mutex<HashMap<ClientConfig, Arc<Client>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
  let config = ClientConfig::resolve(options, |name| std::env::var(name).ok())?;
  let mut clients = CLIENTS
    .lock()
    .unwrap_or_else(|poisoned| poisoned.into_inner());
  if let Some(client) = clients.get(&config) {
    return Ok(client.clone());
  }
  if clients.len() >= MAX_SHARED_CLIENTS {
    clients.clear();
  }
  let client = Arc::new(Client::new(config.clone())?);
  clients.insert(config, client.clone());
  Ok(client)
}

/// What a call does, once its arguments are read.
enum Job {
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

fn keys(project_key: &Unknown, flag_key: &Unknown) -> Result<(String, String), LdError> {
  Ok((
    options::key("projectKey", project_key)?,
    options::key("flagKey", flag_key)?,
  ))
}

fn phase_call(
  project_key: &Unknown,
  flag_key: &Unknown,
  phase: &Unknown,
  complete: bool,
) -> Result<Job, LdError> {
  let (project_key, flag_key) = keys(project_key, flag_key)?;
  let phase = options::phase_ref("phase", phase)?;
  Ok(Job::Phase(PhaseChange {
    project_key,
    flag_key,
    phase,
    complete,
  }))
}

fn patch_call(
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

fn get_call(client: &Client, project_key: &Unknown, flag_key: &Unknown) -> Result<Job, LdError> {
  let (project, flag) = keys(project_key, flag_key)?;
  PreparedRequest::release(client.config(), Method::GET, &project, &flag, None).map(Job::Release)
}

fn create_call(
  env: &Env,
  client: &Client,
  project_key: &Unknown,
  flag_key: &Unknown,
  input: &Unknown,
) -> Result<Job, LdError> {
  let (project, flag) = keys(project_key, flag_key)?;
  let input = options::create_release_input(env, "input", input)?;
  PreparedRequest::create_release(client.config(), &project, &flag, &input).map(Job::Release)
}

fn update_call(
  env: &Env,
  client: &Client,
  project_key: &Unknown,
  flag_key: &Unknown,
  phase_id: &Unknown,
  input: &Unknown,
) -> Result<Job, LdError> {
  let (project, flag) = keys(project_key, flag_key)?;
  let phase_id = options::key("phaseId", phase_id)?;
  let input = options::update_phase_status_input(env, "input", input)?;
  PreparedRequest::update_phase_status(client.config(), &project, &flag, &phase_id, &input)
    .map(Job::Release)
}

fn delete_call(
  client: &Client,
  project_key: &Unknown,
  flag_key: &Unknown,
) -> Result<PreparedRequest, LdError> {
  let (project, flag) = keys(project_key, flag_key)?;
  PreparedRequest::release(client.config(), Method::DELETE, &project, &flag, None)
}

/// A module-level call: options are read first (a bad option fails before the keys are
/// looked at), then the shared client for them prepares the job.
fn module_call<'env>(
  env: &'env Env,
  options: Option<Unknown<'env>>,
  prepare: impl FnOnce(&Client) -> Result<Job, LdError>,
) -> napi::Result<PromiseRaw<'env, Release>> {
  let setup = options::call_options("options", options, Accept::Both).and_then(|opts| {
    let client = shared_client(&opts.client)?;
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
fn send<'env>(
  env: &'env Env,
  job: Result<Job, LdError>,
  options: Option<Unknown<'env>>,
  client: Arc<Client>,
) -> napi::Result<PromiseRaw<'env, Release>> {
  match options::call_options("options", options, Accept::Request) {
    Ok(opts) => single(env, job, opts, client),
    Err(e) => reject(env, e),
  }
}

fn single<'env>(
  env: &'env Env,
  job: Result<Job, LdError>,
  opts: CallOptions<'env>,
  client: Arc<Client>,
) -> napi::Result<PromiseRaw<'env, Release>> {
  let job = match job.and_then(|job| client.config().require_api_key().map(|_| job)) {
    Ok(job) => job,
    Err(e) => return reject(env, e),
  };
  let request_options = opts.request;
  spawn_call(
    env,
    opts.signal,
    async move { job.run(&client, request_options).await },
    |_env, release| Ok(release),
  )
}

/// `deleteRelease`, on a client (`client` given) or module-level. Resolves to `undefined`.
fn delete_release_call<'env>(
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
      None => shared_client(&opts.client)?,
    };
    let request = delete_call(&client, project_key, flag_key)?;
    client.config().require_api_key()?;
    Ok((opts, client, request))
  });
  let (opts, client, request) = match setup {
    Ok(setup) => setup,
    Err(e) => return reject(env, e),
  };
  let request_options = opts.request;
  spawn_call(
    env,
    opts.signal,
    async move { client.send_no_content(request, request_options).await },
    |_env, ()| Ok(()),
  )
}

/// `completePhases`, on a client (`client` given) or module-level.
fn bulk_call<'env>(
  env: &'env Env,
  items: Unknown,
  options: Option<Unknown<'env>>,
  accept: Accept,
  client: Option<Arc<Client>>,
) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
  let setup = (|| {
    let opts = options::call_options("options", options, accept)?;
    let bulk = options::bulk_options("options", options)?;
    let client = match client {
      Some(client) => client,
      None => shared_client(&opts.client)?,
    };
    client.config().require_api_key()?;
    let requests = options::phase_items("items", &items, |project, flag, phase, complete| {
      let ops = patch::phase_patch(phase, complete);
      PreparedRequest::release(client.config(), Method::PATCH, project, flag, Some(&ops))
    })?;
    Ok((opts, bulk, client, requests))
  })();
  let (opts, bulk, client, requests) = match setup {
    Ok(setup) => setup,
    Err(e) => return reject(env, e),
  };
  let request_options = opts.request;
  spawn_call(
    env,
    opts.signal,
    async move {
      Ok(
        bulk::run(
          client,
          requests,
          bulk.concurrency,
          request_options,
          bulk.progress,
        )
        .await,
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

/// A promise that rejects with `error`.
fn reject<'env, V: ToNapiValue>(
  env: &'env Env,
  error: LdError,
) -> napi::Result<PromiseRaw<'env, V>> {
  env.spawn_future_with_callback(async move { Ok(error) }, |env, error| {
    Err(throwable(env, &error, None))
  })
}

/// Runs `work` on the runtime and settles a promise with `finish`'s value or the error.
/// With a signal, an `abort` listener drops `work` at once (closing any connection it
/// holds) and rejects with an `AbortError`; the listener is removed when the call ends.
/// An already-aborted signal runs nothing.
fn spawn_call<'env, T, V>(
  env: &'env Env,
  signal: Option<Object<'env>>,
  work: impl Future<Output = Result<T, LdError>> + Send + 'static,
  finish: impl FnOnce(&'env Env, T) -> napi::Result<V> + 'static,
) -> napi::Result<PromiseRaw<'env, V>>
where
  T: Send + 'static,
  V: ToNapiValue,
{
  let Some(signal) = signal else {
    return env.spawn_future_with_callback(async move { Ok(work.await) }, move |env, result| {
      result
        .map_err(|e| throwable(env, &e, None))
        .and_then(|t| finish(env, t))
    });
  };
  if signal
    .get_named_property::<bool>("aborted")
    .unwrap_or(false)
  {
    let reason = signal
      .get_named_property::<Unknown>("reason")?
      .create_ref()?;
    return env.spawn_future_with_callback(
      async move { Ok(LdError::aborted()) },
      move |env, error| {
        let cause = reason.get_value(env).ok();
        let _ = reason.unref(env);
        Err(throwable(env, &error, cause.as_ref()))
      },
    );
  }
  let (tx, rx) = tokio::sync::oneshot::channel::<()>();
  let tx = RefCell::new(Some(tx));
  let listener: Function<Unknown, ()> =
    env.create_function_from_closure("onAbort", move |_ctx| {
      if let Some(tx) = tx.borrow_mut().take() {
        let _ = tx.send(());
      }
      Ok(())
    })?;
  let add: Function<FnArgs<(&str, Unknown)>, Unknown> =
    signal.get_named_property("addEventListener")?;
  add.apply(signal, ("abort", listener.to_unknown()).into())?;
  let signal_ref = signal.to_unknown().create_ref()?;
  let listener_ref = listener.to_unknown().create_ref()?;
  env.spawn_future_with_callback(
    async move {
      let cancel = async move {
        if rx.await.is_err() {
          std::future::pending::<()>().await;
        }
      };
      Ok(tokio::select! {
        biased;
        () = cancel => Err(LdError::aborted()),
        result = work => result,
      })
    },
    move |env, result| {
      let cause = release_listener(env, signal_ref, listener_ref);
      result
        .map_err(|e| throwable(env, &e, cause.as_ref()))
        .and_then(|t| finish(env, t))
    },
  )
}

/// Removes the abort listener and returns the signal's `reason`, for an AbortError's cause.
fn release_listener<'env>(
  env: &'env Env,
  signal_ref: UnknownRef,
  listener_ref: UnknownRef,
) -> Option<Unknown<'env>> {
  let reason = (|| -> napi::Result<Unknown<'env>> {
    let signal: Object = unsafe { signal_ref.get_value(env)?.cast()? };
    let listener = listener_ref.get_value(env)?;
    let remove: Function<FnArgs<(&str, Unknown)>, Unknown> =
      signal.get_named_property("removeEventListener")?;
    remove.apply(signal, ("abort", listener).into())?;
    signal.get_named_property::<Unknown>("reason")
  })();
  let _ = signal_ref.unref(env);
  let _ = listener_ref.unref(env);
  reason.ok()
}

/// The JavaScript error for an `LdError`: `name`, `code`, and `status`, `apiCode`,
/// `apiMessage`, `retryAfterMs`, `attempts` where they apply; `cause` on an abort.
fn error_object<'env>(
  env: &'env Env,
  error: &LdError,
  cause: Option<&Unknown>,
) -> napi::Result<Object<'env>> {
  let mut object = env.create_error(napi::Error::new(Status::GenericFailure, &error.message))?;
  object.set("name", error.name())?;
  object.set("code", error.code.as_str())?;
  if let Some(status) = error.status {
    object.set("status", u32::from(status))?;
  }
  if let Some(api_code) = &error.api_code {
    object.set("apiCode", api_code.as_str())?;
  }
  if let Some(api_message) = &error.api_message {
    object.set("apiMessage", api_message.as_str())?;
  }
  if let Some(ms) = error.retry_after_ms {
    object.set("retryAfterMs", ms as f64)?;
  }
  if error.code != ErrorCode::Aborted || error.attempts > 0 {
    object.set("attempts", error.attempts)?;
  }
  if let Some(cause) = cause.filter(|_| error.code == ErrorCode::Aborted) {
    object.set("cause", *cause)?;
  }
  Ok(object)
}

/// `error_object` as a `napi::Error` that throws or rejects with exactly that object.
fn throwable(env: &Env, error: &LdError, cause: Option<&Unknown>) -> napi::Error {
  match error_object(env, error, cause) {
    Ok(object) => napi::Error::from(object.to_unknown()),
    Err(e) => e,
  }
}
