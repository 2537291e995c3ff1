//! Process-wide settings: where the data lives and the limits the transports enforce.

use std::path::PathBuf;
use std::time::Duration;

/// The default size limit of one incoming message.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Settings shared by every connection.
#[derive(Debug, Clone)]
pub struct Config {
    /// The data directory holding the store.
    pub data_dir: PathBuf,
    /// Incoming messages larger than this are discarded with an error.
    pub max_message_bytes: usize,
    /// How long the server waits for a client's answer to a server-to-client request.
    pub client_request_timeout: Duration,
}

impl Config {
    /// Settings with the given data directory and default limits.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            client_request_timeout: Duration::from_secs(30),
        }
    }
}

/// Reads an environment variable, treating an empty value as unset.
pub fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The data directory: `--data-dir`, else `CODELAB_DATA_DIR`, else the
/// platform's data directory (`~/.local/share/codelab-agent` on Linux).
pub fn resolve_data_dir(flag: Option<PathBuf>) -> Option<PathBuf> {
    flag.or_else(|| env_var("CODELAB_DATA_DIR").map(PathBuf::from))
        .or_else(|| dirs::data_dir().map(|d| d.join("codelab-agent")))
}
