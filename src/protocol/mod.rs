//! The contract with every editor: wire types, methods, error codes, and the
//! generators of `protocol/`.
//!
//! Only this module and [`crate::server`] know about JSON-RPC; the rest of the
//! crate works with plain Rust values.

pub mod convert;
pub mod errors;
pub mod generate;
pub mod methods;
pub mod types;

pub use errors::{ErrorCode, RpcError, parse_params};

/// The protocol version advertised in `initialize`. See the versioning rule in
/// `protocol/README.md`.
pub const PROTOCOL_VERSION: &str = "0.1";

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
];
