//! Process-wide settings: where the data lives and the limits the transports enforce.

mod error;

pub use error::{ConfigError, TomlDoc, push_key, read_optional};

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
    /// Turns running at once, over all sessions, at most.
    pub max_turns: usize,
    /// The binary whose `__launch` mode starts commands (the running
    /// `codelab-agent` by default); `None`: commands start directly,
    /// unsandboxed.
    pub launcher: Option<PathBuf>,
    /// A PostgreSQL URL: the shared store of several instances instead of
    /// the redb file in `data_dir` (`serve --store`, `CODELAB_STORE_URL`).
    pub store_url: Option<StoreUrl>,
}

/// A store URL. It may hold a password: `Debug` does not show it.
#[derive(Clone)]
pub struct StoreUrl(pub String);

impl std::fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreUrl(..)")
    }
}

/// Access and limits of the HTTP server (`serve`).
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The token every websocket client must present.
    pub token: String,
    /// Origins a browser may connect from (besides the server's own).
    pub allowed_origins: Vec<String>,
    /// Requests per minute per connection.
    pub rate_per_connection: u32,
    /// Requests per minute per token (all connections with that token).
    pub rate_per_token: u32,
    /// Websocket connections at once, at most.
    pub max_connections: usize,
    /// The folder the web IDE opens its new sessions in (`serve --workspace`,
    /// default the current directory), named in the URL it prints.
    pub workspace: Option<PathBuf>,
}

impl Config {
    /// Settings with the given data directory and default limits.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            client_request_timeout: Duration::from_secs(30),
            max_turns: 256,
            launcher: own_launcher(),
            store_url: None,
        }
    }
}

/// The running binary, when it is `codelab-agent` (whose `__launch` mode
/// starts commands); not a test binary or another program embedding the
/// library.
fn own_launcher() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .filter(|p| p.file_stem().is_some_and(|n| n == "codelab-agent"))
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

/// The file in the data directory that holds the generated websocket token.
pub const TOKEN_FILE: &str = "auth-token";

/// Why the websocket token cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token file cannot be read, or the data directory or the
    /// generated token file cannot be written.
    #[error("{}: {error}", .path.display())]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The token is too short.
    #[error("{origin}: the token must be at least {MIN_TOKEN_LEN} characters")]
    TooShort {
        /// Where it comes from: the file, or `CODELAB_AUTH_TOKEN`.
        origin: String,
    },
}

/// The shortest token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

fn io_error(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TokenError + '_ {
    move |error| TokenError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// The websocket token: from `--auth-token-file`, else `CODELAB_AUTH_TOKEN`,
/// else the data directory's `auth-token` (generated on first start, readable
/// by the owner only). Returns the token and whether it was given explicitly.
///
/// # Errors
/// An unreadable or too short token, or a token file that cannot be created.
pub fn resolve_token(
    flag: Option<&std::path::Path>,
    data_dir: &std::path::Path,
) -> Result<(String, bool), TokenError> {
    if let Some(path) = flag {
        let t = std::fs::read_to_string(path).map_err(io_error(path))?;
        let t = t.trim().to_owned();
        if t.len() < MIN_TOKEN_LEN {
            return Err(TokenError::TooShort {
                origin: path.display().to_string(),
            });
        }
        return Ok((t, true));
    }
    if let Some(t) = env_var("CODELAB_AUTH_TOKEN") {
        if t.trim().len() < MIN_TOKEN_LEN {
            return Err(TokenError::TooShort {
                origin: "CODELAB_AUTH_TOKEN".into(),
            });
        }
        return Ok((t.trim().to_owned(), true));
    }
    let path = data_dir.join(TOKEN_FILE);
    if let Ok(t) = std::fs::read_to_string(&path)
        && !t.trim().is_empty()
    {
        return Ok((t.trim().to_owned(), false));
    }
    std::fs::create_dir_all(data_dir).map_err(io_error(data_dir))?;
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    write_private(&path, &token).map_err(io_error(&path))?;
    Ok((token, false))
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}
