//! Clientele: a WebAssembly plugin runtime for the customer side of
//! online shops. The host owns data, events, the ledger and the outbox;
//! sandboxed components own the decisions.

pub mod api;
pub mod client;
pub mod console;
pub mod db;
pub mod devkit;
pub mod domain;
pub mod metrics;
pub mod pipeline;
pub mod runtime;
pub mod server;
