//! Wire tests of the core: a `Client` against a small HTTP/1.1 server on 127.0.0.1
//! started by each test, asserting exactly what goes over the wire (method, path,
//! headers, body), when requests are retried, and what errors say.

// As in the crate: results carry an `LdError`, unboxed.
#![allow(clippy::result_large_err)]

mod advance_dry;
mod advance_guard;
mod ambiguous;
mod bulk;
mod connections;
mod delivered;
mod environment_releases;
mod environments;
mod flags;
mod gate;
mod headers;
mod limits;
mod masking;
mod memory;
mod paging;
mod phase_start;
mod phases;
mod pipelines;
mod repeats;
mod retries;
mod server;
mod stop;
mod support;
mod surface;
