#![deny(clippy::all)]
// Errors travel on cold paths; boxing LdError would touch every call site for nothing.
#![allow(clippy::result_large_err)]
//! ld-release: the Node.js binding of ld-release-core.
//!
//! This file is the exported JavaScript surface and its types. Arguments are read once
//! into core types (`options`, `inputs`, `calls`), the core (`ld_release_core`) runs on
//! the runtime, and `js` settles promises and turns `LdError` into JavaScript errors.

mod calls;
mod diagnostics;
mod guard;
mod inputs;
mod js;
mod options;

// The core's modules, under the names the binding's modules use.
use ld_release_core::{bulk, client, config, error, patch, phases, redact, release};

use std::sync::Arc;

use napi::bindgen_prelude::PromiseRaw;
use napi::{Env, Unknown};
use napi_derive::napi;

use crate::calls::{
  bulk_call, create_call, delete_release_call, get_call, module_call, patch_call, phase_call, send,
  update_call, Job,
};
use crate::client::Client;
use crate::error::LdError;
use crate::js::throwable;
use crate::options::Accept;
use crate::patch::PatchOperation as CorePatchOperation;
use crate::phases::PhaseAction;

/// Runs the addon's network work on one runtime thread, named `ld-release`, in place of
/// napi-rs's default of one thread per core. A call costs the runtime tens of
/// microseconds and LaunchDarkly's rate limits allow a token a few requests a second, so
/// one thread is never the limit; more only add cross-thread wake-ups, stacks and
/// allocator arenas (on two cores, one thread gave about 15% more calls per second with
/// 64 in flight, see `bench/README.md`). Built once per process, also when worker threads
/// load the addon again.
#[napi_derive::module_init]
fn init_runtime() {
  static ONCE: std::sync::Once = std::sync::Once::new();
  ONCE.call_once(|| {
    // If it cannot be built, napi-rs builds its default runtime on first use.
    if let Ok(runtime) = tokio::runtime::Builder::new_multi_thread()
      .worker_threads(1)
      .thread_name("ld-release")
      .enable_all()
      .build()
    {
      napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
    }
  });
}

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
#[napi(custom_finalize)]
pub struct ReleaseClient {
  inner: Arc<Client>,
}

/// The native memory of a client is reported to V8 while the JavaScript object lives, so
/// that clients created and dropped in numbers are collected in time.
impl napi::bindgen_prelude::ObjectFinalize for ReleaseClient {
  fn finalize(self, env: Env) -> napi::Result<()> {
    env.adjust_external_memory(-client::CLIENT_NATIVE_BYTES)?;
    Ok(())
  }
}

#[napi]
impl ReleaseClient {
  /// Creates a client. Throws `ERR_LD_INVALID_ARGUMENT` for a bad option and
  /// `ERR_LD_INSECURE_URL` for a bad `baseUrl`. A missing token is reported by the first
  /// call that needs it (`ERR_LD_NO_API_KEY`).
  #[napi(constructor, ts_args_type = "options?: ClientOptions")]
  pub fn new(env: Env, options: Option<Unknown>) -> napi::Result<Self> {
    let built = options::call_options("options", options, Accept::Client)
      .and_then(|o| Client::from_options(&o.client));
    let client = built.map_err(|e| throwable(&env, &e, None))?;
    env.adjust_external_memory(client::CLIENT_NATIVE_BYTES)?;
    Ok(ReleaseClient {
      inner: Arc::new(client),
    })
  }

  /// Marks a phase of the flag's release complete, on either kind of release pipeline.
  /// Legacy pipelines: `[{"op":"replace","path":"/phases/<phase>/complete","value":true}]`
  /// (for `{ name }` or `{ id }`, guarded by a `test` that the phase at that index still
  /// has that id: `ERR_LD_CONFLICT` if the release changed in between). New pipelines:
  /// starts the next phase (`{"status":"active"}`), which completes this one; the last
  /// phase cannot be completed (`ERR_LD_UNSUPPORTED`, nothing sent). The kind is read
  /// from the release's pipeline once per client.
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
  ) -> napi::Result<PromiseRaw<'env, crate::js::ReleaseJson>> {
    let job = phase_call(&project_key, &flag_key, &phase, PhaseAction::Complete);
    send(env, job, options, self.inner.clone())
  }

  /// Marks a phase of the flag's release incomplete (`"value": false`). The phase is
  /// named as for `completePhase`. Legacy pipelines only: on a new pipeline, whose
  /// phases only move forward, it fails with `ERR_LD_UNSUPPORTED` and sends no write.
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
  ) -> napi::Result<PromiseRaw<'env, crate::js::ReleaseJson>> {
    let job = phase_call(&project_key, &flag_key, &phase, PhaseAction::Reopen);
    send(env, job, options, self.inner.clone())
  }

  /// Starts a phase: `PUT .../release/phases/{id}` with `{"status":"active"}`, the one
  /// status LaunchDarkly lets a caller set on a new release pipeline. Starting a phase
  /// completes every phase before it. With an index or `{ name }` the release is read
  /// first to find the phase's id; with `{ id }` it is one request.
  #[napi(
    ts_args_type = "projectKey: string, flagKey: string, phase: PhaseSelector, options?: RequestOptions",
    ts_return_type = "Promise<Release>"
  )]
  pub fn start_phase<'env>(
    &self,
    env: &'env Env,
    project_key: Unknown,
    flag_key: Unknown,
    phase: Unknown,
    options: Option<Unknown<'env>>,
  ) -> napi::Result<PromiseRaw<'env, crate::js::ReleaseJson>> {
    let job = phase_call(&project_key, &flag_key, &phase, PhaseAction::Start);
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
  ) -> napi::Result<PromiseRaw<'env, crate::js::ReleaseJson>> {
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
  ) -> napi::Result<PromiseRaw<'env, crate::js::ReleaseJson>> {
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
  ) -> napi::Result<PromiseRaw<'env, crate::js::ReleaseJson>> {
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
  /// `PUT /api/v2/projects/{projectKey}/flags/{flagKey}/release/phases/{phaseId}`. The
  /// status is sent as given; LaunchDarkly accepts only `active` (see `startPhase`).
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
  ) -> napi::Result<PromiseRaw<'env, crate::js::ReleaseJson>> {
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
) -> napi::Result<PromiseRaw<'env, crate::js::ReleaseJson>> {
  module_call(env, options, |_client| {
    phase_call(&project_key, &flag_key, &phase, PhaseAction::Complete)
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
) -> napi::Result<PromiseRaw<'env, crate::js::ReleaseJson>> {
  module_call(env, options, |_client| {
    phase_call(&project_key, &flag_key, &phase, PhaseAction::Reopen)
  })
}

/// Starts a phase with a shared client built from `options` and the environment.
#[napi(
  ts_args_type = "projectKey: string, flagKey: string, phase: PhaseSelector, options?: ClientOptions & RequestOptions",
  ts_return_type = "Promise<Release>"
)]
pub fn start_phase<'env>(
  env: &'env Env,
  project_key: Unknown,
  flag_key: Unknown,
  phase: Unknown,
  options: Option<Unknown<'env>>,
) -> napi::Result<PromiseRaw<'env, crate::js::ReleaseJson>> {
  module_call(env, options, |_client| {
    phase_call(&project_key, &flag_key, &phase, PhaseAction::Start)
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
) -> napi::Result<PromiseRaw<'env, crate::js::ReleaseJson>> {
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
) -> napi::Result<PromiseRaw<'env, crate::js::ReleaseJson>> {
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
) -> napi::Result<PromiseRaw<'env, crate::js::ReleaseJson>> {
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
) -> napi::Result<PromiseRaw<'env, crate::js::ReleaseJson>> {
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
    let client = Client::shared(&opts.client)?;
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
