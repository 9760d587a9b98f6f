#![deny(clippy::all)]

pub mod client;
pub mod config;
pub mod error;
pub mod patch;
pub mod release;
