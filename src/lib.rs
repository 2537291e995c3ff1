//! codelab-agent: the AI core of the CodeLab IDE.
//!
//! An LSP server (stdio and websocket) extended with `codelab/*` methods for
//! sessions, chat, agents and approvals. See `ARCHITECTURE.md` for the code map
//! and its invariants, and `protocol/README.md` for the wire contract.

pub mod acp;
pub mod agents;
pub mod audit;
pub mod config;
pub mod core;
pub mod daemon;
pub mod diff;
pub mod documents;
pub mod domain;
pub mod events;
pub mod files;
pub mod fuzzing;
pub mod housekeeping;
pub mod llm;
pub mod mcp;
pub mod metrics;
pub mod policy;
pub mod process;
pub mod protocol;
pub mod runtime;
pub mod server;
pub mod settings;
pub mod store;
pub mod tools;
pub mod workspace;
