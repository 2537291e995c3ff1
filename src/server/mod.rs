//! The protocol front end: transports, the connection driver, LSP lifecycle
//! and documents, and the `codelab/*` methods.
//!
//! Invariants:
//! - Only this module and [`crate::protocol`] know JSON-RPC.
//! - Both transports feed the same [`connection::run`]; a method exists on
//!   both or on neither.
//! - Handlers return quickly; anything slow runs in its own task, so a slow
//!   request never holds up the connection.
//! - Notifications are handled in the order they arrive, one after another;
//!   document changes are applied with no `.await` between receipt and apply.

mod assets;
pub mod connection;
mod editor;
pub mod http;
pub mod limits;
mod lsp;
mod methods;
mod notifications;
pub mod stdio;

pub use connection::{ConnectionEnd, Incoming};
