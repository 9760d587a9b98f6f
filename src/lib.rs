#![deny(clippy::all)]
// Errors travel on cold paths; boxing LdError would touch every call site for nothing.
#![allow(clippy::result_large_err)]
//! ld-release: the Node.js binding of ld-release-core.
//!
//! This file is the exported JavaScript surface and its types. Arguments are read once
//! into core types (`options`, `inputs`, `calls`), the core (`ld_release_core`) runs on
//! the runtime, and `js` settles promises and turns `LdError` into JavaScript errors.

mod diagnostics;
mod guard;
mod inputs;
mod js;
mod operations;
mod options;
mod pages;

// The core's modules, under the names the binding's modules use.
use ld_release_core::{
  bulk, client, config, environment_releases, environments, error, patch, phases, pipelines,
  redact, release,
};

use std::sync::Arc;

use napi::{Env, Unknown};
use napi_derive::napi;
use reqwest::Method;

use crate::client::Client;
use crate::error::LdError;
use crate::js::throwable;
use crate::operations::Work;
use crate::options::Accept;
use crate::patch::PatchOperation as CorePatchOperation;
use crate::phases::PhaseAction;

/// `completePhase` as Rust names it: `complete_phase`.
fn rust_name(js: &str) -> String {
  let mut out = String::with_capacity(js.len() + 4);
  for c in js.chars() {
    if c.is_ascii_uppercase() {
      out.push('_');
      out.push(c.to_ascii_lowercase());
    } else {
      out.push(c);
    }
  }
  out
}

/// `complete_phase` as JavaScript names it: `completePhase`.
fn js_name(rust: &str) -> String {
  let mut out = String::with_capacity(rust.len());
  let mut upper = false;
  for c in rust.chars() {
    if c == '_' {
      upper = true;
    } else if upper {
      out.push(c.to_ascii_uppercase());
      upper = false;
    } else {
      out.push(c);
    }
  }
  out
}

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
/// pool: create it once and reuse it. `close()` (or `await using`) releases its
/// connections; idle ones are closed after a few seconds anyway.
#[napi(custom_finalize)]
pub struct ReleaseClient {
  /// `None` once closed.
  inner: std::cell::RefCell<Option<Arc<Client>>>,
}

impl ReleaseClient {
  /// Where a method runs: the client, or nowhere once closed.
  fn target(&self) -> operations::Target {
    match &*self.inner.borrow() {
      Some(client) => operations::Target::Instance(client.clone()),
      None => operations::Target::Closed,
    }
  }
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
      inner: std::cell::RefCell::new(Some(Arc::new(client))),
    })
  }

  /// Closes the client: its idle connections are closed now, and any later call
  /// rejects with `ERR_LD_INVALID_ARGUMENT` ("this ReleaseClient is closed"), sending
  /// nothing. Calls and list iterators already started go on to their end (a write in
  /// flight is never cut short); their connections close as they finish. Resolves at
  /// once; closing twice is harmless. `Symbol.asyncDispose` does the same, for `await
  /// using client = new ReleaseClient()`.
  #[napi(ts_return_type = "Promise<void>")]
  pub fn close<'env>(
    &self,
    env: &'env Env,
  ) -> napi::Result<napi::bindgen_prelude::PromiseRaw<'env, ()>> {
    // Dropped here, on the JavaScript thread: with no call in flight, the pool and its
    // connections go with it.
    drop(self.inner.borrow_mut().take());
    env.spawn_future(async { Ok(()) })
  }
}

/// `ReleaseClient.prototype[Symbol.asyncDispose]` is `close`, where the runtime has
/// `Symbol.asyncDispose` (Node.js 18.18, 20.4 and later).
#[napi(module_exports)]
pub fn define_async_dispose(exports: napi::bindgen_prelude::Object, env: Env) -> napi::Result<()> {
  use napi::bindgen_prelude::{JsObjectValue, Object};
  let define = || -> napi::Result<()> {
    let symbol: Unknown = env.get_global()?.get_named_property("Symbol")?;
    // SAFETY: `Symbol` is a function, an object.
    let symbol: Object = unsafe { symbol.cast()? };
    let dispose: Unknown = symbol.get_named_property("asyncDispose")?;
    if dispose.get_type()? != napi::ValueType::Symbol {
      return Ok(());
    }
    let class: Unknown = exports.get_named_property("ReleaseClient")?;
    // SAFETY: a class is a function, an object.
    let class: Object = unsafe { class.cast()? };
    let mut prototype: Object = class.get_named_property("prototype")?;
    let close: Unknown = prototype.get_named_property("close")?;
    prototype.set_property(dispose, close)
  };
  // Loading the addon never fails for this: without it, `close()` is still there.
  let _ = define();
  Ok(())
}

/// The options only an operation of a kind takes (see `operations!`).
macro_rules! operation_extras {
  ([]) => {
    &[]
  };
  ([list]) => {
    &[]
  };
  ([phase]) => {
    options::DRY_RUN_OPTIONS
  };
  ([bulk]) => {
    options::BULK_RUN_OPTIONS
  };
  ([advance]) => {
    options::ADVANCE_RUN_OPTIONS
  };
  ([progressions]) => {
    options::PROGRESSION_OPTIONS
  };
  ([release_get]) => {
    options::GET_RELEASE_OPTIONS
  };
  ([release_stop]) => {
    options::STOP_OPTIONS
  };
  ([environment_releases]) => {
    options::ENVIRONMENT_RELEASE_LIST_OPTIONS
  };
  ([watch]) => {
    options::WATCH_OPTIONS
  };
  ([pipelines]) => {
    options::PIPELINE_LIST_OPTIONS
  };
}

/// Declares each operation once: its doc comment (as `#[doc = "..."]` lines: napi-rs
/// reads doc comments passed through a macro as raw strings), its arguments with their TypeScript
/// types, what it resolves to, and how its arguments become `Work`. Each becomes a
/// `ReleaseClient` method (options: `RequestOptions`) and a module-level function of the
/// same name (options: `ClientOptions & RequestOptions`, on the client shared by every
/// call with the same settings), and can be previewed by `previewRequest`.
macro_rules! operations {
  ($(
    $(#[doc = $doc:tt])*
    fn $name:ident($($arg:ident: $ts:tt),*) -> $ret:tt $(, options $extra:ident)?
      = |$args:ident| $prepare:expr;
  )*) => {
    $(
      operations!(@options [$($extra)?]
        $(#[doc = $doc])*
        fn $name($($arg: $ts),*) -> $ret = |$args| $prepare
      );
    )*

    /// The work of `operation` (its Rust name) called with `given` (its arguments before
    /// its options): the one place each operation's arguments become work, for its
    /// method, its module-level function and `previewRequest`.
    fn prepare_named<'env>(
      operation: &str,
      args: operations::Args<'_, 'env>,
      given: &[Unknown<'env>],
    ) -> error::Result<operations::Work> {
      let mut given = given.iter();
      match operation {
        $(stringify!($name) => {
          $(let $arg = given.next().copied().ok_or_else(|| {
            LdError::invalid(concat!(stringify!($arg), " is required"))
          })?;)*
          let $args = args;
          $prepare
        })*
        _ => Err(LdError::invalid(format!("{operation:?} is not an operation"))),
      }
    }

    /// How many arguments `operation` (its JavaScript name) takes before its options,
    /// and the options only it takes.
    fn operation_arity(operation: &str) -> error::Result<(usize, &'static [&'static str])> {
      $(if operation == stringify!($name) {
        return Ok(([$(stringify!($arg)),*].len(), operation_extras!([$($extra)?])));
      })*
      let names = [$(js_name(stringify!($name))),*].join(", ");
      Err(LdError::invalid(format!(
        "operation must be 'GET', 'PATCH' or the name of an operation ({names}), got {operation:?}"
      )))
    }
  };

  // Per kind of operation: the options type of each form, the options only it takes,
  // and whether it returns a list's async iterator rather than a promise.
  (@options [] $($item:tt)*) => {
    operations!(@item "RequestOptions", "ClientOptions & RequestOptions", (&[], false), $($item)*);
  };
  // A phase change: its options type is generic, so that `{ dryRun: true }` types the
  // result as a `PhaseDryRun` (see the operation's return type).
  (@options [phase] $($item:tt)*) => {
    operations!(@generic
      "O extends DryRunOptions & RequestOptions = RequestOptions",
      "O extends ClientOptions & DryRunOptions & RequestOptions = ClientOptions & RequestOptions",
      (options::DRY_RUN_OPTIONS, false),
      $($item)*
    );
  };
  (@options [bulk] $($item:tt)*) => {
    operations!(@generic
      "O extends BulkOptions & DryRunOptions & RequestOptions = BulkOptions & RequestOptions",
      "O extends ClientOptions & BulkOptions & DryRunOptions & RequestOptions = ClientOptions & BulkOptions & RequestOptions",
      (options::BULK_RUN_OPTIONS, false),
      $($item)*
    );
  };
  (@options [advance] $($item:tt)*) => {
    operations!(@item
      "AdvanceOptions & DryRunOptions & RequestOptions",
      "ClientOptions & AdvanceOptions & DryRunOptions & RequestOptions",
      (options::ADVANCE_RUN_OPTIONS, false),
      $($item)*
    );
  };
  (@options [list] $($item:tt)*) => {
    operations!(@item "RequestOptions", "ClientOptions & RequestOptions", (&[], true), $($item)*);
  };
  (@options [release_get] $($item:tt)*) => {
    operations!(@item
      "GetEnvironmentReleaseOptions & RequestOptions",
      "ClientOptions & GetEnvironmentReleaseOptions & RequestOptions",
      (options::GET_RELEASE_OPTIONS, false),
      $($item)*
    );
  };
  (@options [release_stop] $($item:tt)*) => {
    operations!(@item
      "StopEnvironmentReleaseOptions & RequestOptions",
      "ClientOptions & StopEnvironmentReleaseOptions & RequestOptions",
      (options::STOP_OPTIONS, false),
      $($item)*
    );
  };
  (@options [pipelines] $($item:tt)*) => {
    operations!(@item
      "PipelineListOptions & RequestOptions",
      "ClientOptions & PipelineListOptions & RequestOptions",
      (options::PIPELINE_LIST_OPTIONS, true),
      $($item)*
    );
  };
  (@options [progressions] $($item:tt)*) => {
    operations!(@item
      "ProgressionOptions & RequestOptions",
      "ClientOptions & ProgressionOptions & RequestOptions",
      (options::PROGRESSION_OPTIONS, true),
      $($item)*
    );
  };

  (@options [environment_releases] $($item:tt)*) => {
    operations!(@item
      "EnvironmentReleaseListOptions & RequestOptions",
      "ClientOptions & EnvironmentReleaseListOptions & RequestOptions",
      (options::ENVIRONMENT_RELEASE_LIST_OPTIONS, true),
      $($item)*
    );
  };
  (@options [watch] $($item:tt)*) => {
    operations!(@item
      "WatchOptions & RequestOptions",
      "ClientOptions & WatchOptions & RequestOptions",
      (options::WATCH_OPTIONS, true),
      $($item)*
    );
  };

  (@generic $method_generic:tt, $function_generic:tt, $extra:expr,
    $(#[doc = $doc:tt])*
    fn $name:ident($($arg:ident: $ts:tt),*) -> $ret:tt = |$args:ident| $prepare:expr
  ) => {
    #[napi]
    impl ReleaseClient {
      $(#[doc = $doc])*
      #[napi(ts_generic_types = $method_generic, ts_return_type = $ret)]
      pub fn $name<'env>(
        &self,
        env: &'env Env,
        $(#[napi(ts_arg_type = $ts)] $arg: Unknown<'env>,)*
        #[napi(ts_arg_type = "O")] options: Option<Unknown<'env>>,
      ) -> napi::Result<Unknown<'env>> {
        let target = self.target();
        let name = operations::js_operation_name(stringify!($name));
        let given = [$($arg),*];
        operations::call(env, (name, target), options, $extra, &|args| {
          prepare_named(stringify!($name), args, &given)
        })
      }
    }

    $(#[doc = $doc])*
    #[doc = ""]
    #[doc = " Module-level: runs on the client shared by every call with the same"]
    #[doc = " `ClientOptions` (read with the environment)."]
    #[napi(ts_generic_types = $function_generic, ts_return_type = $ret)]
    pub fn $name<'env>(
      env: &'env Env,
      $(#[napi(ts_arg_type = $ts)] $arg: Unknown<'env>,)*
      #[napi(ts_arg_type = "O")] options: Option<Unknown<'env>>,
    ) -> napi::Result<Unknown<'env>> {
      let name = operations::js_operation_name(stringify!($name));
      let given = [$($arg),*];
      operations::call(env, (name, operations::Target::Shared), options, $extra, &|args| {
        prepare_named(stringify!($name), args, &given)
      })
    }
  };

  (@item $method_options:tt, $function_options:tt, $extra:expr,
    $(#[doc = $doc:tt])*
    fn $name:ident($($arg:ident: $ts:tt),*) -> $ret:tt = |$args:ident| $prepare:expr
  ) => {
    #[napi]
    impl ReleaseClient {
      $(#[doc = $doc])*
      #[napi(ts_return_type = $ret)]
      pub fn $name<'env>(
        &self,
        env: &'env Env,
        $(#[napi(ts_arg_type = $ts)] $arg: Unknown<'env>,)*
        #[napi(ts_arg_type = $method_options)] options: Option<Unknown<'env>>,
      ) -> napi::Result<Unknown<'env>> {
        let target = self.target();
        let name = operations::js_operation_name(stringify!($name));
        let given = [$($arg),*];
        operations::call(env, (name, target), options, $extra, &|args| {
          prepare_named(stringify!($name), args, &given)
        })
      }
    }

    $(#[doc = $doc])*
    #[doc = ""]
    #[doc = " Module-level: runs on the client shared by every call with the same"]
    #[doc = " `ClientOptions` (read with the environment)."]
    #[napi(ts_return_type = $ret)]
    pub fn $name<'env>(
      env: &'env Env,
      $(#[napi(ts_arg_type = $ts)] $arg: Unknown<'env>,)*
      #[napi(ts_arg_type = $function_options)] options: Option<Unknown<'env>>,
    ) -> napi::Result<Unknown<'env>> {
      let name = operations::js_operation_name(stringify!($name));
      let given = [$($arg),*];
      operations::call(env, (name, operations::Target::Shared), options, $extra, &|args| {
        prepare_named(stringify!($name), args, &given)
      })
    }
  };
}

operations! {
  #[doc = " Marks a phase of the flag's release complete, on either kind of release pipeline."]
  #[doc = " Legacy pipelines: `[{\"op\":\"replace\",\"path\":\"/phases/<phase>/complete\",\"value\":true}]`"]
  #[doc = " (for `{ name }` or `{ id }`, guarded by a `test` that the phase at that index still"]
  #[doc = " has that id: `ERR_LD_CONFLICT` if the release changed in between). New pipelines:"]
  #[doc = " starts the next phase (`{\"status\":\"active\"}`), which completes this one; the last"]
  #[doc = " phase cannot be completed (`ERR_LD_UNSUPPORTED`, nothing written). The kind is read"]
  #[doc = " from the release's pipeline once per client, after the release is read and before"]
  #[doc = " any write. A start whose answer is lost (a timeout, a dropped connection, a 5xx) is"]
  #[doc = " not resent blindly: the release is read, and resolves the call when the phase is"]
  #[doc = " active (else the start is resent while retries are left, or `ERR_LD_OUTCOME_UNKNOWN`"]
  #[doc = " when the release cannot tell). With `{ dryRun: true }` the reads happen, nothing is"]
  #[doc = " written, and the result is a `PhaseDryRun` holding the request that would be sent."]
  fn complete_phase(project_key: "string", flag_key: "string", phase: "PhaseSelector") -> "Promise<O extends { dryRun: true } ? PhaseDryRun : O extends { dryRun: false | undefined } ? Release : O extends { dryRun: boolean } ? Release | PhaseDryRun : Release>", options phase
    = |args| operations::phase_change(&args, &project_key, &flag_key, &phase, PhaseAction::Complete);

  #[doc = " Marks a phase of the flag's release incomplete (`\"value\": false`). The phase is"]
  #[doc = " named as for `completePhase`. Legacy pipelines only: on a new pipeline, whose"]
  #[doc = " phases only move forward, it fails with `ERR_LD_UNSUPPORTED` and sends no write."]
  #[doc = " Takes `{ dryRun: true }` as `completePhase` does."]
  fn reopen_phase(project_key: "string", flag_key: "string", phase: "PhaseSelector") -> "Promise<O extends { dryRun: true } ? PhaseDryRun : O extends { dryRun: false | undefined } ? Release : O extends { dryRun: boolean } ? Release | PhaseDryRun : Release>", options phase
    = |args| operations::phase_change(&args, &project_key, &flag_key, &phase, PhaseAction::Reopen);

  #[doc = " Starts a phase: `PUT .../release/phases/{id}` with `{\"status\":\"active\"}`, the one"]
  #[doc = " status LaunchDarkly lets a caller set on a new release pipeline. Starting a phase"]
  #[doc = " completes every phase before it. With an index or `{ name }` the release is read"]
  #[doc = " first to find the phase's id; with `{ id }` it is one request. A start whose answer"]
  #[doc = " is lost is read back as `completePhase` reads it. Takes `{ dryRun: true }` as"]
  #[doc = " `completePhase` does."]
  fn start_phase(project_key: "string", flag_key: "string", phase: "PhaseSelector") -> "Promise<O extends { dryRun: true } ? PhaseDryRun : O extends { dryRun: false | undefined } ? Release : O extends { dryRun: boolean } ? Release | PhaseDryRun : Release>", options phase
    = |args| operations::phase_change(&args, &project_key, &flag_key, &phase, PhaseAction::Start);

  #[doc = " Sends a JSON Patch to the flag's release. The operations are validated as RFC 6902"]
  #[doc = " operations before anything is sent."]
  fn patch_release(project_key: "string", flag_key: "string", patch: "PatchOperation[]") -> "Promise<Release>"
    = |args| operations::release_request(&args, Method::PATCH, &project_key, &flag_key, Some(&patch)).map(Work::Json);

  #[doc = " Reads the flag's release: `GET /api/v2/flags/{projectKey}/{flagKey}/release`."]
  fn get_release(project_key: "string", flag_key: "string") -> "Promise<Release>"
    = |args| operations::release_request(&args, Method::GET, &project_key, &flag_key, None).map(Work::Json);

  #[doc = " Starts a release of the flag in a release pipeline:"]
  #[doc = " `PUT /api/v2/projects/{projectKey}/flags/{flagKey}/release`."]
  fn create_release(project_key: "string", flag_key: "string", input: "CreateReleaseInput") -> "Promise<Release>"
    = |args| operations::create_release(&args, &project_key, &flag_key, &input);

  #[doc = " Deletes the flag's release: `DELETE /api/v2/flags/{projectKey}/{flagKey}/release`."]
  #[doc = " Resolves to `undefined`."]
  fn delete_release(project_key: "string", flag_key: "string") -> "Promise<void>"
    = |args| operations::release_request(&args, Method::DELETE, &project_key, &flag_key, None).map(Work::NoContent);

  #[doc = " Sets the status of a phase, for releases of the newer release pipelines (where the"]
  #[doc = " PATCH no longer works):"]
  #[doc = " `PUT /api/v2/projects/{projectKey}/flags/{flagKey}/release/phases/{phaseId}`. The"]
  #[doc = " status is sent as given; LaunchDarkly accepts only `active` (see `startPhase`)."]
  fn update_phase_status(project_key: "string", flag_key: "string", phase_id: "string", input: "UpdatePhaseStatusInput") -> "Promise<Release>"
    = |args| operations::update_phase_status(&args, &project_key, &flag_key, &phase_id, &input);

  #[doc = " Marks many phases complete (or, with `complete: false`, incomplete) through one"]
  #[doc = " client's connection pool and rate-limit gate, each as `completePhase` does."]
  #[doc = " Resolves to one result per item, in input order; a failing item never rejects the"]
  #[doc = " batch. Rejects only for a bad `items` or option, or when `signal` aborts the run:"]
  #[doc = " no more items are started, those under way are dropped, and it rejects at once"]
  #[doc = " with an `AbortError` whose `results` say what became of every item: as above for"]
  #[doc = " those that ended, `{ ok: false, aborted: 'not-sent' }` for those whose write was"]
  #[doc = " never sent (nothing written) and `{ ok: false, aborted: 'unknown' }` for those"]
  #[doc = " whose write was in flight (it may or may not have been applied: read the release"]
  #[doc = " before sending it again). With `dryRun`, each item's reads happen and"]
  #[doc = " its result holds the request that would be sent (a `BulkDryRunResult`). An item"]
  #[doc = " that repeats an earlier one is written (or planned) once; each repeat gets the"]
  #[doc = " first one's result."]
  fn complete_phases(items: "PhaseItem[]") -> "Promise<O extends { dryRun: true } ? BulkDryRunResult[] : O extends { dryRun: false | undefined } ? BulkResult[] : O extends { dryRun: boolean } ? Array<BulkResult | BulkDryRunResult> : BulkResult[]>", options bulk
    = |args| operations::complete_phases(&args, &items);

  #[doc = " Reads a release pipeline:"]
  #[doc = " `GET /api/v2/projects/{projectKey}/release-pipelines/{pipelineKey}`."]
  fn get_release_pipeline(project_key: "string", pipeline_key: "string") -> "Promise<ReleasePipeline>"
    = |args| operations::release_pipeline(&args, Method::GET, &project_key, &pipeline_key, None).map(Work::Json);

  #[doc = " Creates a release pipeline: `POST /api/v2/projects/{projectKey}/release-pipelines`."]
  fn create_release_pipeline(project_key: "string", input: "CreateReleasePipelineInput") -> "Promise<ReleasePipeline>"
    = |args| operations::create_release_pipeline(&args, &project_key, &input);

  #[doc = " Replaces a release pipeline's name, description, phases and tags:"]
  #[doc = " `PUT /api/v2/projects/{projectKey}/release-pipelines/{pipelineKey}`."]
  fn update_release_pipeline(project_key: "string", pipeline_key: "string", input: "UpdateReleasePipelineInput") -> "Promise<ReleasePipeline>"
    = |args| operations::release_pipeline(&args, Method::PUT, &project_key, &pipeline_key, Some(&input)).map(Work::Json);

  #[doc = " Deletes a release pipeline (not the project's default):"]
  #[doc = " `DELETE /api/v2/projects/{projectKey}/release-pipelines/{pipelineKey}`. Resolves to"]
  #[doc = " `undefined`."]
  fn delete_release_pipeline(project_key: "string", pipeline_key: "string") -> "Promise<void>"
    = |args| operations::release_pipeline(&args, Method::DELETE, &project_key, &pipeline_key, None).map(Work::NoContent);

  #[doc = " Every release pipeline of a project, as an async iterator: pages (`limit`/`offset`)"]
  #[doc = " are fetched as the loop needs them, and leaving the loop early fetches no more."]
  #[doc = " `query` keeps the pipelines matching a text (`filter=query:<text>`)."]
  fn list_release_pipelines(project_key: "string") -> "AsyncIterableIterator<ReleasePipeline>", options pipelines
    = |args| operations::list_release_pipelines(&args, &project_key);

  #[doc = " The flags in a release pipeline (one release progression each), as an async"]
  #[doc = " iterator read a page at a time. `status` keeps `active` or `completed` releases;"]
  #[doc = " `phase` (an index or `{ name }`, looked up in the pipeline before the first page,"]
  #[doc = " or `{ id }`, used as it is) keeps those active at that phase."]
  fn list_release_progressions(project_key: "string", pipeline_key: "string") -> "AsyncIterableIterator<ReleaseProgression>", options progressions
    = |args| operations::list_release_progressions(&args, &project_key, &pipeline_key);

  #[doc = " Counts a pipeline's progressions in one request: every release, those active and"]
  #[doc = " completed, and per phase how many are active at it. Reads one page of the"]
  #[doc = " progressions (`GET .../release-pipelines/{pipelineKey}/releases?limit=1&offset=0`)"]
  #[doc = " for the counts it carries (`totalCount`, `activeCount`, `completedCount`,"]
  #[doc = " `phases[].releaseCount`)."]
  fn get_release_progression_summary(project_key: "string", pipeline_key: "string") -> "Promise<ReleaseProgressionSummary>"
    = |_args| operations::progression_summary(&project_key, &pipeline_key);

  #[doc = " Moves every flag whose active phase is `from` past it: reads the pipeline, lists"]
  #[doc = " the flags at that phase, and sends each one write (legacy pipelines: the PATCH,"]
  #[doc = " guarded by a `test` of the phase's id; new ones: the start of the next phase)."]
  #[doc = " Resolves to one result per flag, in listing order; a failing flag fails alone."]
  #[doc = " The listing is checked: a flag listed at another phase (its `activePhaseId`, or a"]
  #[doc = " `status` other than `active`) is not written, and on a new pipeline each flag's"]
  #[doc = " release is read before its start, which is sent only while it is still at `from`;"]
  #[doc = " such a flag's result is `{ ok: false, skipped: true, reason, activePhaseId, error }`"]
  #[doc = " (`reason` `listed-elsewhere` or `moved`; `error` an `ERR_LD_CONFLICT`). A flag"]
  #[doc = " listed more than once is written once, its result at its first listing's place."]
  #[doc = " The last phase of a new pipeline cannot be completed: `ERR_LD_UNSUPPORTED`,"]
  #[doc = " nothing written. With `dryRun`, nothing is written and each result holds the"]
  #[doc = " request the flag would be sent, its skip, or (`ok: false`) the error the real run"]
  #[doc = " would give it, such as for a listed flag key no request can be made for. Aborted"]
  #[doc = " through `signal`, it rejects at once with an `AbortError` whose `results` say"]
  #[doc = " what became of each listed flag, as `completePhases`' do (`aborted: 'not-sent'`"]
  #[doc = " or `'unknown'` for those the abort cut short); `[]` when the abort came before"]
  #[doc = " the writes began, while it read the pipeline and its flags: nothing was written."]
  fn advance_pipeline(project_key: "string", pipeline_key: "string", from: "PhaseSelector") -> "Promise<AdvanceResult[]>", options advance
    = |args| operations::advance_pipeline(&args, &project_key, &pipeline_key, &from);

  #[doc = " Starts a release of a flag in one environment (environment releases, beta):"]
  #[doc = " `POST /api/v2/projects/{projectKey}/flags/{flagKey}/environments/{environmentKey}/releases`."]
  #[doc = " `input` is checked before anything is sent (`ERR_LD_INVALID_ARGUMENT` naming the"]
  #[doc = " field, e.g. `input.phases[1].steps[0].allocation`); a new-rule phase whose clauses"]
  #[doc = " lack the randomization unit's kind clause gets it first. A start is sent at most"]
  #[doc = " once: when it may have reached LaunchDarkly and no answer came (a timeout, a dropped"]
  #[doc = " connection, a 5xx), the flag's newest releases there are read and a matching"]
  #[doc = " release created since resolves the call; else `ERR_LD_OUTCOME_UNKNOWN`. Refusals:"]
  #[doc = " 409 `apiCode` `release_already_active`, 400 `health_checks_failed` (with"]
  #[doc = " `failedHealthChecks`), `ERR_LD_APPROVAL_REQUIRED` (405), `ERR_LD_UNSUPPORTED` (422,"]
  #[doc = " release plans not available)."]
  fn start_environment_release(project_key: "string", flag_key: "string", environment_key: "string", input: "StartEnvironmentReleaseInput") -> "Promise<EnvironmentRelease>"
    = |args| operations::start_environment_release(&args, [&project_key, &flag_key, &environment_key], &input);

  #[doc = " Reads an environment release: `GET …/environments/{environmentKey}/releases/{releaseId}`"]
  #[doc = " (`?expand=metrics` with `expandMetrics`, which attaches each metric's definition)."]
  fn get_environment_release(project_key: "string", flag_key: "string", environment_key: "string", release_id: "string") -> "Promise<EnvironmentRelease>", options release_get
    = |args| operations::get_environment_release(&args, [&project_key, &flag_key, &environment_key], &release_id);

  #[doc = " Stops an environment release, resolving its phases by `resolution`:"]
  #[doc = " `PUT …/releases/{releaseId}/stop` with `{ resolution, comment? }`. Stopping a release"]
  #[doc = " that already ended changes nothing. `ERR_LD_APPROVAL_REQUIRED` (405) where the"]
  #[doc = " environment requires approvals."]
  fn stop_environment_release(project_key: "string", flag_key: "string", environment_key: "string", release_id: "string") -> "Promise<EnvironmentRelease>", options release_stop
    = |args| operations::stop_environment_release(&args, [&project_key, &flag_key, &environment_key], &release_id);

  #[doc = " The release policies of a project: `GET /api/v2/projects/{projectKey}/release-policies`."]
  #[doc = " One request, resolving to the answer as sent (`{ items, totalCount }`): LaunchDarkly"]
  #[doc = " does not page this list."]
  fn list_release_policies(project_key: "string") -> "Promise<ReleasePoliciesResponse>"
    = |args| operations::release_policies(&args, &project_key);

  #[doc = " Reads a release policy: `GET /api/v2/projects/{projectKey}/release-policies/{policyKey}`."]
  fn get_release_policy(project_key: "string", policy_key: "string") -> "Promise<ReleasePolicy>"
    = |args| operations::release_policy(&args, Method::GET, &project_key, &policy_key, None).map(Work::Json);

  #[doc = " Creates a release policy: `POST /api/v2/projects/{projectKey}/release-policies`."]
  fn create_release_policy(project_key: "string", input: "CreateReleasePolicyInput") -> "Promise<ReleasePolicy>"
    = |args| operations::create_release_policy(&args, &project_key, &input);

  #[doc = " Replaces a release policy: `PUT /api/v2/projects/{projectKey}/release-policies/{policyKey}`."]
  fn update_release_policy(project_key: "string", policy_key: "string", input: "UpdateReleasePolicyInput") -> "Promise<ReleasePolicy>"
    = |args| operations::release_policy(&args, Method::PUT, &project_key, &policy_key, Some(&input)).map(Work::Json);

  #[doc = " Deletes a release policy: `DELETE /api/v2/projects/{projectKey}/release-policies/{policyKey}`."]
  #[doc = " Resolves to `undefined`."]
  fn delete_release_policy(project_key: "string", policy_key: "string") -> "Promise<void>"
    = |args| operations::release_policy(&args, Method::DELETE, &project_key, &policy_key, None).map(Work::NoContent);

  #[doc = " Ranks a project's scoped release policies in the order of `keys` (every scoped"]
  #[doc = " policy, each once): `POST /api/v2/projects/{projectKey}/release-policies/order` with"]
  #[doc = " the array. Resolves to the answer as sent (LaunchDarkly documents a list), or"]
  #[doc = " `undefined` for an empty one."]
  fn reorder_release_policies(project_key: "string", keys: "string[]") -> "Promise<unknown[] | undefined>"
    = |args| operations::reorder_release_policies(&args, &project_key, &keys);

  #[doc = " The environment releases of a flag in one environment, newest first, as an async"]
  #[doc = " iterator read a page of 100 at a time:"]
  #[doc = " `GET /api/v2/projects/{projectKey}/flags/{flagKey}/environments/{environmentKey}/releases`."]
  #[doc = " `kind` keeps `progressive` or `guarded` releases (`filter=kind equals guarded`)."]
  #[doc = " Leaving the loop early fetches no more pages. Releases that ended over 90 days"]
  #[doc = " ago are not listed."]
  fn list_environment_releases(project_key: "string", flag_key: "string", environment_key: "string") -> "AsyncIterableIterator<EnvironmentRelease>", options environment_releases
    = |args| operations::list_environment_releases(&args, &project_key, &flag_key, &environment_key);

  #[doc = " Follows an environment release until it ends, as an async iterator: the first"]
  #[doc = " `next()` yields the release as it is, each later one the release when something a"]
  #[doc = " person would care about changed (its status or `statusReason`, its current phase,"]
  #[doc = " a phase's status or current step, a metric's status); the iterator ends after"]
  #[doc = " `completed` or `reverted`. Each read is `GET .../releases/{releaseId}`, through the"]
  #[doc = " client's rate-limit gate and retries, timed by the release: just after the current"]
  #[doc = " step should end (`startedAt + durationMillis`), at most `intervalMs` apart (default"]
  #[doc = " 30 s for guarded releases, 5 minutes for progressive ones), every 5 s while it is"]
  #[doc = " pending and 30 s while it waits for a person. Those times are the server's, and"]
  #[doc = " so is the clock they are compared with: estimated from its answers' `Date` headers"]
  #[doc = " (this machine's clock without them), so a skewed clock here changes nothing; one"]
  #[doc = " read after 1 s tells the rate the server's clock runs at. Leaving the loop, `return()` or"]
  #[doc = " aborting `signal` stops it at once: a pending wait is cancelled and nothing more is"]
  #[doc = " sent. A failed read rejects that `next()` and ends the watch."]
  fn watch_environment_release(project_key: "string", flag_key: "string", environment_key: "string", release_id: "string") -> "AsyncIterableIterator<EnvironmentRelease>", options watch
    = |args| operations::watch_environment_release(&args, &project_key, &flag_key, &environment_key, &release_id);

  #[doc = " Reads a feature flag: `GET /api/v2/flags/{projectKey}/{flagKey}`. Its variations"]
  #[doc = " (`_id`, `value`, `name`) are what `startEnvironmentRelease` names by id; its"]
  #[doc = " `environments` say, per environment key, whether it is on and what it serves."]
  #[doc = " Resolves to the flag as sent (a JSON object)."]
  fn get_flag(project_key: "string", flag_key: "string") -> "Promise<Flag>"
    = |args| operations::get_flag(&args, &project_key, &flag_key);
}

impl From<client::RequestPreview> for RequestPreview {
  fn from(p: client::RequestPreview) -> Self {
    RequestPreview {
      method: p.method,
      url: p.url,
      headers: p.headers.into_iter().collect(),
      body: p.body,
    }
  }
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
/// body) and sends nothing; needs no token. Two forms:
/// `previewRequest('GET' | 'PATCH', projectKey, flagKey, patch?, options?)`, and
/// `previewRequest(operation, ...args)` with any operation's name and the arguments of
/// its module-level function: the first request that call would send (for a phase by
/// name, the read of the release; for `completePhases`, none).
#[napi(
  ts_generic_types = "K extends keyof PreviewableOperations | 'GET' | 'PATCH'",
  ts_args_type = "operation: K, ...args: K extends keyof PreviewableOperations ? Parameters<PreviewableOperations[K]> : [projectKey: string, flagKey: string, patch?: PatchOperation[] | null, options?: ClientOptions]",
  ts_return_type = "RequestPreview"
)]
#[allow(clippy::too_many_arguments)]
pub fn preview_request(
  env: Env,
  operation: Unknown,
  a: Option<Unknown>,
  b: Option<Unknown>,
  c: Option<Unknown>,
  d: Option<Unknown>,
  e: Option<Unknown>,
  f: Option<Unknown>,
) -> napi::Result<RequestPreview> {
  // SAFETY: `undefined` is created in this environment and used only during this call.
  let undefined = unsafe {
    Unknown::from_raw_unchecked(
      env.raw(),
      <() as napi::bindgen_prelude::ToNapiValue>::to_napi_value(env.raw(), ())?,
    )
  };
  let given: Vec<Unknown> = [a, b, c, d, e, f]
    .into_iter()
    .map(|v| v.unwrap_or(undefined))
    .collect();
  let built = (|| {
    let operation = options::string("operation", &operation)?;
    let (name, (arity, extra), patch_at) = match operation.as_str() {
      // The short form: (method, projectKey, flagKey, patch?, options?).
      "GET" | "PATCH" => ("", (2, &[][..]), Some(2)),
      name => (name, operation_arity(&rust_name(name))?, None),
    };
    let options_at = arity + usize::from(patch_at.is_some());
    let opts = options::call_options_with("options", Some(given[options_at]), Accept::Both, extra)?;
    let client = Client::shared(&opts.client)?;
    let args = operations::Args {
      client: &client,
      options: Some(&given[options_at]),
    };
    let work = match (operation.as_str(), patch_at.map(|i| &given[i])) {
      ("GET", Some(patch)) if !options::is_absent(patch) => {
        return Err(LdError::invalid("patch must not be given for GET"))
      }
      ("GET", _) => {
        operations::release_request(&args, Method::GET, &given[0], &given[1], None).map(Work::Json)
      }
      ("PATCH", Some(patch)) if !options::is_absent(patch) => {
        operations::release_request(&args, Method::PATCH, &given[0], &given[1], Some(patch))
          .map(Work::Json)
      }
      ("PATCH", _) => return Err(LdError::invalid("patch is required for PATCH")),
      _ => prepare_named(&rust_name(name), args, &given[..arity]),
    }?;
    Ok(client.preview(&work.first_request(&client)?))
  })();
  built
    .map(RequestPreview::from)
    .map_err(|e| throwable(&env, &e, None))
}

/// `text` with `token` masked wherever it appears, in any encoding, whole or in pieces
/// (as every error of the library is): for the command line's own messages that quote
/// a server's words. Not part of the typed API.
#[napi(js_name = "_maskToken", skip_typescript)]
pub fn mask_token(text: String, token: String) -> String {
  if token.is_empty() {
    return text;
  }
  redact::mask_in(&token, &text)
}

/// Every option of the API, as declared once in `options.rs`: `{ name, set, flag, help }`
/// (`flag` is the `ld-release` command's, or null). The command builds its flags and
/// their help from it. Not part of the typed API.
#[napi(js_name = "_options", skip_typescript)]
pub fn option_table() -> Vec<serde_json::Value> {
  options::OPTION_TABLE
    .iter()
    .map(|(name, set, flag, help)| {
      serde_json::json!({ "name": name, "set": set, "flag": flag, "help": help.trim() })
    })
    .collect()
}
