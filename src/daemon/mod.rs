//! One daemon per user and data directory.
//!
//! `codelab-agent --stdio` (what editors start) is a thin forwarder: it
//! connects to the user's daemon for its data directory over a Unix domain
//! socket, starting the daemon when none answers, and then copies bytes
//! between its stdin/stdout and the socket. The daemon
//! (`codelab-agent daemon run`) owns the store and the [`Runtime`], and runs
//! every accepted connection as its own LSP connection through
//! [`crate::server::stdio::serve_io`], so sessions, turns, approvals and
//! questions are shared by every editor.
//!
//! - [`paths`]: where the socket and the lock files live (a private
//!   directory under `$XDG_RUNTIME_DIR`, else in the data directory), and the
//!   ownership and permission checks.
//! - [`lock`]: `flock`-style exclusion through the standard library's
//!   [`std::fs::File::try_lock`].
//! - [`handshake`]: the line exchange that precedes the LSP bytes.
//! - [`server`]: the daemon: accept loop, idle exit, stop.
//! - [`client`]: the forwarder, and the `daemon status` / `daemon stop`
//!   commands.
//!
//! Invariants:
//! - At most one daemon runs per data directory: it holds `daemon.lock` for
//!   its whole life, and a client starts one only while holding
//!   `start.lock`.
//! - The daemon exits when idle (no LSP connection and no running work, see
//!   [`crate::runtime::Runtime::has_running_work`]) for the idle time, never
//!   in the middle of a turn.
//! - The forwarder writes nothing but the daemon's bytes to stdout.
//!
//! [`Runtime`]: crate::runtime::Runtime

pub mod client;
pub mod handshake;
pub mod lock;
pub mod paths;
pub mod server;

use std::path::PathBuf;
use std::time::Duration;

use crate::config::env_var;
use crate::core::CoreError;

pub use paths::Paths;

/// The environment variable with the idle time, in seconds, after which a
/// daemon with no connection and no running work exits.
pub const IDLE_ENV: &str = "CODELAB_DAEMON_IDLE_SECS";

/// The idle time without `--idle-exit` or [`IDLE_ENV`]: ten minutes.
pub const DEFAULT_IDLE_EXIT: Duration = Duration::from_secs(600);

/// For tests: overrides the version a client or a daemon reports in the
/// handshake (a daemon inherits it from the client that starts it).
pub const VERSION_OVERRIDE_ENV: &str = "CODELAB_DAEMON_VERSION_OVERRIDE";

/// The version this process reports in the handshake: the crate's version,
/// unless [`VERSION_OVERRIDE_ENV`] is set.
pub fn version() -> String {
    env_var(VERSION_OVERRIDE_ENV).unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned())
}

/// The idle time: the flag, else [`IDLE_ENV`], else [`DEFAULT_IDLE_EXIT`].
///
/// # Errors
/// [`DaemonError::InvalidIdle`] when the variable is not a number of seconds.
pub fn idle_exit(flag: Option<u64>) -> Result<Duration, DaemonError> {
    if let Some(secs) = flag {
        return Ok(Duration::from_secs(secs));
    }
    match env_var(IDLE_ENV) {
        None => Ok(DEFAULT_IDLE_EXIT),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| DaemonError::InvalidIdle(v)),
    }
}

/// Whether version `a` is newer than version `b` (`MAJOR.MINOR.PATCH`, a
/// pre-release such as `1.2.0-rc.1` older than its release; a version that
/// does not parse is never newer).
pub fn is_newer(a: &str, b: &str) -> bool {
    fn parse(v: &str) -> Option<(Vec<u64>, Option<&str>)> {
        let v = v.trim().trim_start_matches('v');
        let v = v.split('+').next().unwrap_or(v);
        let (core, pre) = match v.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (v, None),
        };
        let nums = core
            .split('.')
            .map(|p| p.parse::<u64>().ok())
            .collect::<Option<Vec<_>>>()?;
        Some((nums, pre))
    }
    let (Some((an, ap)), Some((bn, bp))) = (parse(a), parse(b)) else {
        return false;
    };
    let width = an.len().max(bn.len());
    let pad = |mut v: Vec<u64>| {
        v.resize(width, 0);
        v
    };
    match pad(an).cmp(&pad(bn)) {
        std::cmp::Ordering::Greater => true,
        std::cmp::Ordering::Less => false,
        std::cmp::Ordering::Equal => match (ap, bp) {
            (None, Some(_)) => true,
            (Some(a), Some(b)) => a > b,
            _ => false,
        },
    }
}

/// Why a daemon, or a client of one, cannot go on.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The socket directory or the socket is not private to the user.
    #[error(
        "refusing to use {}: {reason}. Remove it (or fix its owner and mode) and start again",
        .path.display()
    )]
    Insecure {
        /// The directory or socket.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The socket path is longer than a Unix socket address may be.
    #[error(
        "the socket path {} is {len} bytes, longer than the {max} a Unix socket allows; \
         set XDG_RUNTIME_DIR or use a shorter --data-dir",
        .path.display()
    )]
    SocketPathTooLong {
        /// The path.
        path: PathBuf,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A file operation failed.
    #[error("{what} {}: {error}", .path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// `CODELAB_DAEMON_IDLE_SECS` is not a number of seconds.
    #[error("{IDLE_ENV}={0:?} is not a number of seconds")]
    InvalidIdle(String),
    /// Another daemon holds the data directory's daemon lock.
    #[error(
        "a codelab-agent daemon{} is already running for {}",
        .pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
        .data_dir.display()
    )]
    AlreadyRunning {
        /// Its pid, when the lock file names it.
        pid: Option<u32>,
        /// The data directory.
        data_dir: PathBuf,
    },
    /// The daemon cannot open the core (store, configuration).
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The daemon the client started failed before it was ready.
    #[error("the codelab-agent daemon could not start ({status}): {detail}\n(daemon log: {})", .log.display())]
    StartFailed {
        /// How it ended.
        status: String,
        /// What it logged.
        detail: String,
        /// Its log file.
        log: PathBuf,
    },
    /// An older daemon is busy and cannot be replaced by this newer client.
    #[error(
        "a codelab-agent daemon of version {daemon_version} (pid {pid}) is running for {}, \
         older than this client ({client_version}), and it is busy ({busy}); \
         it is not replaced while busy. Let its work finish and close the other editors, \
         stop it with `codelab-agent daemon stop`, or start this editor with --standalone",
        .data_dir.display()
    )]
    Busy {
        /// The daemon's version.
        daemon_version: String,
        /// This client's version.
        client_version: String,
        /// The daemon's pid.
        pid: u32,
        /// What keeps it busy.
        busy: String,
        /// The data directory.
        data_dir: PathBuf,
    },
    /// The daemon refused a request.
    #[error("the daemon refused: {0}")]
    Refused(String),
    /// The daemon broke the handshake.
    #[error("unexpected answer from the daemon at {}: {detail}", .socket.display())]
    Handshake {
        /// The socket.
        socket: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// Something took too long.
    #[error("timed out: {0}")]
    Timeout(String),
}

impl DaemonError {
    pub(crate) fn io(
        what: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |error| Self::Io { what, path, error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_semver() {
        assert!(is_newer("0.2.0", "0.1.9"));
        assert!(is_newer("1.0.0", "0.99.99"));
        assert!(is_newer("0.1.10", "0.1.9"));
        assert!(is_newer("0.1.0", "0.1.0-rc.1"));
        assert!(is_newer("0.1.0-rc.2", "0.1.0-rc.1"));
        assert!(is_newer("0.1.1", "0.1"));
        assert!(!is_newer("0.1.0", "0.1.0"));
        assert!(!is_newer("0.1.0", "0.1.1"));
        assert!(!is_newer("0.1.0-rc.1", "0.1.0"));
        assert!(!is_newer("garbage", "0.1.0"));
        assert!(!is_newer("0.1.0", "garbage"));
    }
}
