//! Where a data directory's daemon listens, and the checks that keep it
//! private to the user.
//!
//! The socket and the lock files live in one directory, accessible to the
//! user only (0700):
//! - `$XDG_RUNTIME_DIR/codelab-agent-<hash>/` when `XDG_RUNTIME_DIR` is set
//!   (`<hash>`: 16 hex digits of FNV-1a over the canonical data directory,
//!   so each data directory has its own daemon);
//! - else `<data dir>/run/`.
//!
//! Inside: `daemon.sock` (the socket), `daemon.lock` (held by the running
//! daemon for its whole life; it holds its pid) and `start.lock` (held by a
//! client while it starts a daemon). The daemon's log is
//! `<data dir>/daemon.log`.
//!
//! A directory or socket that is a symbolic link, is owned by another user,
//! or (for the directory) is accessible to group or others is refused with a
//! message naming it; nothing in it is used or removed.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::DaemonError;
use crate::config::env_var;

/// The longest socket path: `sun_path` is 108 bytes with the final NUL.
pub const MAX_SOCKET_PATH: usize = 107;

/// The daemon's log file, in the data directory.
pub const LOG_FILE: &str = "daemon.log";

/// The files of one data directory's daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The data directory, canonical.
    pub data_dir: PathBuf,
    /// The private directory holding the socket and the locks.
    pub dir: PathBuf,
    /// The Unix socket.
    pub socket: PathBuf,
    /// Held by the running daemon for its whole life.
    pub lock: PathBuf,
    /// Held by a client while it starts a daemon.
    pub start_lock: PathBuf,
    /// The daemon's log.
    pub log: PathBuf,
}

/// The effective user id of this process.
pub fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// FNV-1a, 64 bits: stable across versions and platforms (unlike the
/// standard library's hasher), which is what names a data directory's
/// socket directory needs.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl Paths {
    /// The paths for a canonical data directory, by the environment's
    /// `XDG_RUNTIME_DIR`.
    fn of(data_dir: PathBuf) -> Self {
        Self::locate(data_dir, env_var("XDG_RUNTIME_DIR").map(PathBuf::from))
    }

    /// The paths for a canonical data directory and a runtime directory
    /// (`None`: none, the private directory goes in the data directory).
    /// Checks and creates nothing.
    pub fn locate(data_dir: PathBuf, runtime_dir: Option<PathBuf>) -> Self {
        let dir = match runtime_dir {
            Some(runtime) => runtime.join(format!(
                "codelab-agent-{:016x}",
                fnv1a(data_dir.as_os_str().as_bytes())
            )),
            None => data_dir.join("run"),
        };
        Self {
            socket: dir.join("daemon.sock"),
            lock: dir.join("daemon.lock"),
            start_lock: dir.join("start.lock"),
            log: data_dir.join(LOG_FILE),
            dir,
            data_dir,
        }
    }

    /// For a client that may start a daemon, or for the daemon: creates the
    /// data directory and the private directory when missing, and checks the
    /// directory and any socket in it.
    ///
    /// # Errors
    /// [`DaemonError::Insecure`] for a directory or socket that is not the
    /// user's own and private, [`DaemonError::SocketPathTooLong`], and I/O
    /// errors.
    pub fn prepare(data_dir: &Path) -> Result<Self, DaemonError> {
        std::fs::create_dir_all(data_dir).map_err(DaemonError::io(
            "cannot create the data directory",
            data_dir,
        ))?;
        let canonical = data_dir.canonicalize().map_err(DaemonError::io(
            "cannot resolve the data directory",
            data_dir,
        ))?;
        let paths = Self::of(canonical);
        match std::fs::DirBuilder::new().mode(0o700).create(&paths.dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(DaemonError::io(
                    "cannot create the daemon's directory",
                    &paths.dir,
                )(e));
            }
        }
        paths.check()?;
        Ok(paths)
    }

    /// For `daemon status` and `daemon stop`: creates nothing. `None` when
    /// the data directory or the private directory does not exist (then no
    /// daemon runs for it).
    ///
    /// # Errors
    /// As [`Self::prepare`].
    pub fn existing(data_dir: &Path) -> Result<Option<Self>, DaemonError> {
        let Ok(canonical) = data_dir.canonicalize() else {
            return Ok(None);
        };
        let paths = Self::of(canonical);
        if std::fs::symlink_metadata(&paths.dir).is_err() {
            return Ok(None);
        }
        paths.check()?;
        Ok(Some(paths))
    }

    /// Checks the private directory, the socket path's length and any
    /// socket present.
    fn check(&self) -> Result<(), DaemonError> {
        check_private_dir(&self.dir)?;
        let len = self.socket.as_os_str().as_bytes().len();
        if len > MAX_SOCKET_PATH {
            return Err(DaemonError::SocketPathTooLong {
                path: self.socket.clone(),
                len,
                max: MAX_SOCKET_PATH,
            });
        }
        check_socket(&self.socket)
    }
}

fn insecure(path: &Path, reason: impl Into<String>) -> DaemonError {
    DaemonError::Insecure {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// A directory the user owns, not a symbolic link, with no access for
/// group or others.
///
/// # Errors
/// [`DaemonError::Insecure`] naming what is wrong.
pub fn check_private_dir(dir: &Path) -> Result<(), DaemonError> {
    let meta = std::fs::symlink_metadata(dir).map_err(DaemonError::io(
        "cannot inspect the daemon's directory",
        dir,
    ))?;
    if meta.file_type().is_symlink() {
        return Err(insecure(dir, "it is a symbolic link"));
    }
    if !meta.is_dir() {
        return Err(insecure(dir, "it is not a directory"));
    }
    let me = euid();
    if meta.uid() != me {
        return Err(insecure(
            dir,
            format!("it is owned by uid {}, not by you (uid {me})", meta.uid()),
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(insecure(
            dir,
            format!("its mode is {mode:04o}, open to other users; it must be 0700"),
        ));
    }
    Ok(())
}

/// Nothing at `socket`, or a socket the user owns.
///
/// # Errors
/// [`DaemonError::Insecure`] naming what is wrong.
pub fn check_socket(socket: &Path) -> Result<(), DaemonError> {
    let meta = match std::fs::symlink_metadata(socket) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(DaemonError::io("cannot inspect the socket", socket)(e)),
    };
    if meta.file_type().is_symlink() {
        return Err(insecure(socket, "it is a symbolic link, not a socket"));
    }
    if !meta.file_type().is_socket() {
        return Err(insecure(socket, "it is not a socket"));
    }
    let me = euid();
    if meta.uid() != me {
        return Err(insecure(
            socket,
            format!("it is owned by uid {}, not by you (uid {me})", meta.uid()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_hash_is_fnv1a() {
        // The published FNV-1a 64 test vectors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn loose_and_foreign_directories_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("d");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        check_private_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o750)).unwrap();
        let e = check_private_dir(&dir).unwrap_err().to_string();
        assert!(e.contains("mode is 0750"), "{e}");
        let link = tmp.path().join("l");
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        let e = check_private_dir(&link).unwrap_err().to_string();
        assert!(e.contains("symbolic link"), "{e}");
        let file = tmp.path().join("f");
        std::fs::write(&file, "").unwrap();
        let e = check_socket(&file).unwrap_err().to_string();
        assert!(e.contains("not a socket"), "{e}");
        check_socket(&tmp.path().join("missing")).unwrap();
    }

    #[test]
    fn a_socket_path_too_long_for_a_unix_socket_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("d".repeat(110));
        let paths = Paths::locate(data, None);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&paths.dir)
            .unwrap();
        let e = paths.check().unwrap_err().to_string();
        assert!(
            e.contains("longer than the 107 a Unix socket allows; set XDG_RUNTIME_DIR"),
            "{e}"
        );
    }
}
