//! Exclusive advisory locks on files (`flock` on Linux), through the
//! standard library's [`File::try_lock`] and [`File::lock`]: no `unsafe`, no
//! extra crate. A lock is released when its [`LockFile`] is dropped, or by
//! the kernel when the process ends, however it ends: a lock held by a
//! process that was killed never stays behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Duration;

/// A held lock.
#[derive(Debug)]
pub struct LockFile {
    file: File,
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

/// Takes the lock on `path` (creating the file) if nobody holds it;
/// `None` when another process (or another handle) holds it.
///
/// # Errors
/// The file cannot be opened or locked.
pub fn try_lock(path: &Path) -> std::io::Result<Option<LockFile>> {
    let file = open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(LockFile { file })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// Waits up to `timeout` for the lock on `path`; `None` when it was still
/// held then. The wait blocks in the kernel (no polling): the lock is taken
/// the moment its holder releases it or exits.
///
/// # Errors
/// The file cannot be opened or locked.
pub fn lock_within(path: &Path, timeout: Duration) -> std::io::Result<Option<LockFile>> {
    if let Some(held) = try_lock(path)? {
        return Ok(Some(held));
    }
    let file = open(path)?;
    let (tx, rx) = std::sync::mpsc::channel();
    // A blocking `flock` cannot be cancelled: it runs on its own thread, and
    // when the wait times out the lock it may still get is dropped with the
    // channel's message, which releases it.
    std::thread::Builder::new()
        .name("codelab-lock-wait".into())
        .spawn(move || {
            let r = file.lock().map(|()| LockFile { file });
            let _ = tx.send(r);
        })?;
    match rx.recv_timeout(timeout) {
        Ok(r) => r.map(Some),
        Err(_) => Ok(None),
    }
}

impl LockFile {
    /// Replaces the file's content (the daemon writes its pid there).
    ///
    /// # Errors
    /// I/O errors.
    pub fn write_content(&mut self, text: &str) -> std::io::Result<()> {
        self.file.set_len(0)?;
        self.file.rewind()?;
        self.file.write_all(text.as_bytes())?;
        self.file.flush()
    }
}

/// The content of a lock file (the pid a daemon wrote), if readable.
pub fn read_content(path: &Path) -> Option<String> {
    let mut s = String::new();
    File::open(path).ok()?.read_to_string(&mut s).ok()?;
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_release_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l");
        let mut held = try_lock(&path).unwrap().expect("free");
        held.write_content("123").unwrap();
        assert!(
            try_lock(&path).unwrap().is_none(),
            "held by the first handle"
        );
        assert!(
            lock_within(&path, Duration::from_millis(20))
                .unwrap()
                .is_none()
        );
        assert_eq!(read_content(&path).as_deref(), Some("123"));
        // A waiter gets it the moment it is released.
        let p = path.clone();
        let waiter = std::thread::spawn(move || lock_within(&p, Duration::from_secs(20)));
        drop(held);
        assert!(waiter.join().unwrap().unwrap().is_some());
    }
}
