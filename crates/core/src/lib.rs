//! ld-release-core: LaunchDarkly's release and release-pipeline endpoints from plain Rust.
//!
//! - `config`: options merged with the environment, validated once (`ClientConfig`).
//! - `client`: one connection pool, the exact headers, retries, limits and masking
//!   (`Client`, `PreparedRequest`).
//! - `limiter`: the rate-limit gate every request of a client passes.
//! - `events`: what a call's requests do, as they happen, for an `Observer`.
//! - `release`: answers as the server sent them (`Release`), and what the client reads
//!   of them (`ReleaseView`, `PipelineKind`).
//! - `phases`: completing, reopening and starting phases on both kinds of pipeline.
//! - `pipelines`: pipelines and progressions, a page at a time (`Pager`, for every
//!   list); advancing a phase.
//! - `environments`: environment releases and release policies (beta), the successors
//!   of release pipelines; a start sent at most once. `deprecation`: routes the
//!   service says are deprecated, noted once each.
//! - `environment_releases`: a flag's releases in an environment as a list, and one
//!   release watched until it ends.
//! - `summary`: a pipeline's progressions counted in one request.
//! - `flags`: the read of a flag (its variations and environments) a release needs.
//! - `bulk`: many calls through one client, in input order.
//! - `patch`: JSON Patch operations; `error`: `LdError` and its stable codes;
//!   `redact`: the token masked wherever a server echoes it; `tls`: trust roots.
//!
//! Nothing here knows of Node-API: the `ld-release` crate binds it to JavaScript.

#![deny(clippy::all)]
// Errors travel on cold paths; boxing LdError would touch every call site for nothing.
#![allow(clippy::result_large_err)]

pub mod bulk;
pub mod client;
pub mod config;
pub mod deprecation;
pub mod environment_releases;
pub mod environments;
pub mod error;
pub mod events;
pub mod flags;
pub mod limiter;
pub mod patch;
pub mod phases;
pub mod pipelines;
pub mod redact;
pub mod release;
pub mod summary;
pub mod tls;
