//! The contract with every editor: wire types, methods, error codes, and the
//! generators of `protocol/`.
//!
//! Every request is declared once in [`requests`] (a type implementing
//! [`Method`], or [`ClientMethod`] for one the server sends to the client)
//! and every notification once in [`notifications`] (its parameter type
//! implementing [`Notification`]); [`methods`] holds the traits and the
//! lists the server's dispatcher and the generators expand.
//!
//! Only this module and [`crate::server`] know about JSON-RPC; the rest of the
//! crate works with plain Rust values. This module does not depend on
//! `server`.

pub mod convert;
pub mod errors;
mod examples;
pub mod generate;
pub mod methods;
pub mod notifications;
pub mod requests;
pub mod types;

pub use errors::{ErrorCode, RpcError, parse_params};
pub use methods::{ClientMethod, Method, NoParams, Notification};

/// The protocol version advertised in `initialize`. See the versioning rule in
/// `protocol/README.md`.
pub const PROTOCOL_VERSION: &str = "0.3";

/// Feature names advertised in `initialize`.
pub const FEATURES: &[&str] = &[
    "sessions",
    "history",
    "agents",
    "documents",
    "chat",
    "tools",
    "approvals",
    "questions",
    "delegation",
    "metrics",
    "audit",
    "events",
    "saveDocuments",
];
