//! The user's files: what the web IDE lists, reads and changes in a
//! session's workspace (`codelab/listFiles`, `readFile`, `writeFile`,
//! `createFile`, `renameFile`, `deleteFile`).
//!
//! Every path goes through [`Workspace::resolve`], the confinement the tools
//! use (no `..` above the root, no absolute path elsewhere, no `~`, NUL,
//! backslash or percent-encoding, no symlink leading out), before anything
//! is touched. Unlike the tools these serve the user, not the model: ignored
//! and protected files (`.codelabignore`, `.codelab/config.toml`) are
//! listed, read and written like any other.
//!
//! A file's version is the SHA-256 of its bytes. A change that names the
//! version it was based on is refused with [`FileError::Conflict`] when the
//! file changed since, so two editors never silently overwrite each other.
//! The functions block (plain `std::fs`): callers run them off the async
//! runtime.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::store::content_hash;
use crate::tools::{is_binary, write_atomically};
use crate::workspace::{PathError, Workspace};

/// Why a file operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The path was refused by the workspace's confinement.
    #[error(transparent)]
    Path(#[from] PathError),
    /// The path names the workspace root itself, which cannot be changed.
    #[error("{0:?} is the workspace root, which cannot be renamed or deleted")]
    Root(String),
    /// Nothing exists at the path.
    #[error("{0:?} does not exist")]
    NotFound(String),
    /// The file changed since the version the change was based on, or the
    /// target of a create or rename exists.
    #[error("{path:?}: {detail}")]
    Conflict {
        /// The path as given.
        path: String,
        /// What conflicts.
        detail: String,
        /// The file's current version, when it exists.
        current: Option<String>,
    },
    /// The file is not UTF-8 text, or larger than the limit.
    #[error("{path:?} cannot be opened as text: {reason}")]
    NotText {
        /// The path as given.
        path: String,
        /// Why.
        reason: String,
    },
    /// Another I/O failure (a directory where a file was expected, permissions).
    #[error("{path:?}: {source}")]
    Io {
        /// The path as given.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// What an entry of a directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file (or a symlink to one inside the workspace).
    File,
    /// A directory (or a symlink to one inside the workspace).
    Directory,
    /// A symlink whose target is outside the workspace or missing: shown, never followed.
    Symlink,
}

/// One entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name.
    pub name: String,
    /// The path relative to the workspace root, `/`-separated.
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// Its size in bytes (files).
    pub size: u64,
    /// Whether `.codelabignore` hides it from the agents.
    pub ignored: bool,
    /// Whether agents need approval to change it.
    pub protected: bool,
}

/// A read file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileText {
    /// The path relative to the root.
    pub path: String,
    /// The text.
    pub text: String,
    /// Its version.
    pub version: String,
}

/// The version of a file's bytes.
pub fn version_of(bytes: &[u8]) -> String {
    content_hash(bytes)
}

fn io(path: &str) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| match source.kind() {
        ErrorKind::NotFound => FileError::NotFound(path.to_owned()),
        _ => FileError::Io {
            path: path.to_owned(),
            source,
        },
    }
}

/// The current version of the file at `abs`, `None` when nothing is there.
fn current_version(abs: &Path, path: &str) -> Result<Option<String>, FileError> {
    if abs.is_dir() {
        return Ok(None);
    }
    match std::fs::read(abs) {
        Ok(bytes) => Ok(Some(version_of(&bytes))),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

/// Refuses the change when `base` is given and the file is not at it.
fn check_base(abs: &Path, path: &str, base: Option<&str>) -> Result<(), FileError> {
    let Some(base) = base else {
        return Ok(());
    };
    let current = current_version(abs, path)?;
    if current.as_deref() == Some(base) {
        return Ok(());
    }
    Err(FileError::Conflict {
        path: path.to_owned(),
        detail: match &current {
            Some(_) => "the file changed since it was read; read it again and merge".into(),
            None => "the file no longer exists".into(),
        },
        current,
    })
}

/// The entry `path` names itself, not what it points to: a symlink is
/// renamed or deleted as a link (its target left alone); any other path as
/// [`Workspace::resolve`] resolves it. A link is confined like any path: one
/// leading out of the workspace is refused, as the tools refuse it.
fn entry_path(ws: &Workspace, path: &str) -> Result<PathBuf, FileError> {
    let resolved = ws.resolve(path)?;
    let given = Path::new(path);
    if let (Some(name), Some(parent)) = (given.file_name(), given.parent())
        && !path.ends_with('/')
    {
        let parent = parent.to_str().unwrap_or_default();
        let link = ws
            .resolve(if parent.is_empty() { "." } else { parent })?
            .join(name);
        if link
            .symlink_metadata()
            .is_ok_and(|m| m.file_type().is_symlink())
        {
            return Ok(link);
        }
    }
    Ok(resolved)
}

fn not_root(ws: &Workspace, abs: &Path, path: &str) -> Result<(), FileError> {
    if abs == ws.root() {
        return Err(FileError::Root(path.to_owned()));
    }
    Ok(())
}

/// The entries of the directory at `path` (`""` or `.` for the root),
/// directories first, then by name.
///
/// # Errors
/// A refused path, a missing directory, an I/O failure.
pub fn list(ws: &Workspace, path: &str) -> Result<Vec<Entry>, FileError> {
    let abs = ws.resolve(if path.is_empty() { "." } else { path })?;
    let meta = std::fs::metadata(&abs).map_err(io(path))?;
    if !meta.is_dir() {
        return Err(FileError::Io {
            path: path.to_owned(),
            source: std::io::Error::new(ErrorKind::NotADirectory, "not a directory"),
        });
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&abs).map_err(io(path))? {
        let entry = entry.map_err(io(path))?;
        let child = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = ws.relative(&child);
        let link = entry.file_type().is_ok_and(|t| t.is_symlink());
        // A symlink counts as what it points to only when that stays inside.
        let followed = if link {
            ws.resolve(&rel)
                .ok()
                .and_then(|p| std::fs::metadata(p).ok())
        } else {
            entry.metadata().ok()
        };
        let (kind, size) = match followed {
            Some(m) if m.is_dir() => (EntryKind::Directory, 0),
            Some(m) => (EntryKind::File, m.len()),
            None => (EntryKind::Symlink, 0),
        };
        out.push(Entry {
            ignored: ws.is_ignored(&child),
            protected: ws.is_protected(&child),
            name,
            path: rel,
            kind,
            size,
        });
    }
    out.sort_by(|a, b| {
        (a.kind != EntryKind::Directory, &a.name).cmp(&(b.kind != EntryKind::Directory, &b.name))
    });
    Ok(out)
}

/// Reads the text file at `path`, at most `max_bytes`.
///
/// # Errors
/// A refused path, a missing file, a directory, binary or non-UTF-8 content,
/// a file over the limit.
pub fn read(ws: &Workspace, path: &str, max_bytes: u64) -> Result<FileText, FileError> {
    let abs = ws.resolve(path)?;
    let meta = std::fs::metadata(&abs).map_err(io(path))?;
    if meta.is_dir() {
        return Err(FileError::NotText {
            path: path.to_owned(),
            reason: "it is a directory".into(),
        });
    }
    if meta.len() > max_bytes {
        return Err(FileError::NotText {
            path: path.to_owned(),
            reason: format!("it has {} bytes, over the limit of {max_bytes}", meta.len()),
        });
    }
    let bytes = std::fs::read(&abs).map_err(io(path))?;
    let version = version_of(&bytes);
    if is_binary(&bytes) {
        return Err(FileError::NotText {
            path: path.to_owned(),
            reason: "it is a binary file".into(),
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| FileError::NotText {
        path: path.to_owned(),
        reason: "it is not UTF-8".into(),
    })?;
    Ok(FileText {
        path: ws.relative(&abs),
        text,
        version,
    })
}

/// Writes `text` to the file at `path` atomically (creating it and its
/// parents when missing), if it is still at `base` when given. Returns the
/// new version.
///
/// # Errors
/// A refused path, a conflict, an I/O failure.
pub fn write(
    ws: &Workspace,
    path: &str,
    text: &str,
    base: Option<&str>,
) -> Result<String, FileError> {
    let abs = ws.resolve(path)?;
    not_root(ws, &abs, path)?;
    if abs.is_dir() {
        return Err(FileError::Io {
            path: path.to_owned(),
            source: std::io::Error::new(ErrorKind::IsADirectory, "it is a directory"),
        });
    }
    check_base(&abs, path, base)?;
    write_atomically(&abs, text).map_err(io(path))?;
    Ok(version_of(text.as_bytes()))
}

/// Creates a file holding `text` (or an empty directory when `directory`),
/// with its missing parents. Returns the file's version (`None` for a directory).
///
/// # Errors
/// A refused path, something already there ([`FileError::Conflict`]), an I/O failure.
pub fn create(
    ws: &Workspace,
    path: &str,
    directory: bool,
    text: &str,
) -> Result<Option<String>, FileError> {
    let abs = ws.resolve(path)?;
    not_root(ws, &abs, path)?;
    if abs.symlink_metadata().is_ok() {
        return Err(FileError::Conflict {
            path: path.to_owned(),
            detail: "something already exists there".into(),
            current: current_version(&abs, path)?,
        });
    }
    if directory {
        std::fs::create_dir_all(&abs).map_err(io(path))?;
        return Ok(None);
    }
    if let Some(parent) = abs.parent() {
        std::fs::create_dir_all(parent).map_err(io(path))?;
    }
    // `create_new` so a file that appeared meanwhile is not overwritten.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&abs)
        .map_err(|e| match e.kind() {
            ErrorKind::AlreadyExists => FileError::Conflict {
                path: path.to_owned(),
                detail: "something already exists there".into(),
                current: None,
            },
            _ => io(path)(e),
        })?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(io(path))?;
    file.sync_all().map_err(io(path))?;
    Ok(Some(version_of(text.as_bytes())))
}

/// Renames `from` to `to` (a file or a directory), if `from` is still at
/// `base` when given; `to` must not exist. Returns the new relative path.
///
/// # Errors
/// A refused path, a missing source, a conflict, an I/O failure.
pub fn rename(
    ws: &Workspace,
    from: &str,
    to: &str,
    base: Option<&str>,
) -> Result<String, FileError> {
    let src = entry_path(ws, from)?;
    let dst = entry_path(ws, to)?;
    not_root(ws, &src, from)?;
    not_root(ws, &dst, to)?;
    let meta = src.symlink_metadata().map_err(io(from))?;
    // A link has no content of its own to be at a version.
    if !meta.file_type().is_symlink() {
        check_base(&src, from, base)?;
    }
    if dst.symlink_metadata().is_ok() {
        return Err(FileError::Conflict {
            path: to.to_owned(),
            detail: "the target already exists".into(),
            current: current_version(&dst, to)?,
        });
    }
    if dst.starts_with(&src) {
        return Err(FileError::Io {
            path: to.to_owned(),
            source: std::io::Error::new(
                ErrorKind::InvalidInput,
                "a directory cannot move into itself",
            ),
        });
    }
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent).map_err(io(to))?;
    }
    std::fs::rename(&src, &dst).map_err(io(from))?;
    Ok(ws.relative(&dst))
}

/// Deletes the file or directory (with what it holds) at `path`, if a file
/// is still at `base` when given.
///
/// # Errors
/// A refused path, a missing file, a conflict, an I/O failure.
pub fn delete(ws: &Workspace, path: &str, base: Option<&str>) -> Result<(), FileError> {
    let abs = entry_path(ws, path)?;
    not_root(ws, &abs, path)?;
    let meta = abs.symlink_metadata().map_err(io(path))?;
    if !meta.file_type().is_symlink() {
        check_base(&abs, path, base)?;
    }
    if meta.is_dir() {
        std::fs::remove_dir_all(&abs).map_err(io(path))
    } else {
        std::fs::remove_file(&abs).map_err(io(path))
    }
}

/// The workspace of a `file://` folder URI.
///
/// # Errors
/// [`PathError::NoWorkspace`] when the URI is not a local folder that exists.
pub fn workspace_of(folder: Option<&str>) -> Result<Workspace, FileError> {
    let root: PathBuf = folder
        .and_then(crate::workspace::uri_to_path)
        .ok_or(PathError::NoWorkspace)?;
    Workspace::new(&root).map_err(|_| FileError::Path(PathError::NoWorkspace))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("src")).expect("mkdir");
        std::fs::write(dir.path().join("src/a.rs"), "fn a() {}\n").expect("write");
        std::fs::write(dir.path().join(".codelabignore"), "secret.txt\n").expect("write");
        std::fs::write(dir.path().join("secret.txt"), "s").expect("write");
        let w = Workspace::new(dir.path()).expect("workspace");
        (dir, w)
    }

    #[test]
    fn versions_detect_conflicting_changes() {
        let (_d, w) = ws();
        let read1 = read(&w, "src/a.rs", 1 << 20).expect("read");
        let v2 = write(&w, "src/a.rs", "fn b() {}\n", Some(&read1.version)).expect("write");
        assert_ne!(v2, read1.version);
        let err = write(&w, "src/a.rs", "fn c() {}\n", Some(&read1.version)).expect_err("stale");
        assert!(
            matches!(&err, FileError::Conflict { current: Some(c), .. } if *c == v2),
            "{err}"
        );
        assert_eq!(
            read(&w, "src/a.rs", 1 << 20).expect("read").text,
            "fn b() {}\n"
        );
        let err = delete(&w, "src/a.rs", Some(&read1.version)).expect_err("stale delete");
        assert!(matches!(err, FileError::Conflict { .. }), "{err}");
        delete(&w, "src/a.rs", Some(&v2)).expect("delete");
        assert!(matches!(
            read(&w, "src/a.rs", 1 << 20),
            Err(FileError::NotFound(_))
        ));
    }

    #[test]
    fn symlinks_are_renamed_and_deleted_as_links() {
        let (d, w) = ws();
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(outside.path().join("o.txt"), "o").expect("write");
        std::os::unix::fs::symlink(d.path().join("src/a.rs"), d.path().join("in")).expect("link");
        std::os::unix::fs::symlink(outside.path().join("o.txt"), d.path().join("out"))
            .expect("link");
        assert_eq!(
            rename(&w, "in", "src/in2", None).expect("rename"),
            "src/in2"
        );
        let moved = d.path().join("src/in2");
        assert!(
            moved
                .symlink_metadata()
                .expect("moved")
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(d.path().join("src/a.rs")).expect("target"),
            "fn a() {}\n"
        );
        delete(&w, "src/in2", Some("a stale version")).expect("delete the link");
        assert!(moved.symlink_metadata().is_err());
        assert!(d.path().join("src/a.rs").is_file(), "the target stays");
        // A link leading out is refused, as the tools refuse it.
        assert!(matches!(delete(&w, "out", None), Err(FileError::Path(_))));
        assert!(d.path().join("out").symlink_metadata().is_ok());
        assert_eq!(
            std::fs::read_to_string(outside.path().join("o.txt")).expect("outside"),
            "o"
        );
        // Through a link: still confined.
        std::os::unix::fs::symlink(outside.path(), d.path().join("dirout")).expect("link");
        assert!(delete(&w, "dirout/o.txt", None).is_err());
        assert!(outside.path().join("o.txt").is_file());
    }

    #[test]
    fn the_user_sees_ignored_and_protected_files() {
        let (_d, w) = ws();
        let names: Vec<_> = list(&w, "")
            .expect("list")
            .into_iter()
            .map(|e| (e.name, e.kind, e.ignored, e.protected))
            .collect();
        assert_eq!(
            names,
            vec![
                ("src".to_owned(), EntryKind::Directory, false, false),
                (".codelabignore".to_owned(), EntryKind::File, false, true),
                ("secret.txt".to_owned(), EntryKind::File, true, false),
            ]
        );
        assert_eq!(read(&w, "secret.txt", 100).expect("read").text, "s");
        create(&w, ".codelab/config.toml", false, "[llm]\n").expect("create");
        assert!(matches!(
            create(&w, ".codelab/config.toml", false, ""),
            Err(FileError::Conflict { .. })
        ));
    }

    #[test]
    fn rename_and_create_keep_what_exists() {
        let (_d, w) = ws();
        create(&w, "b/c", true, "").expect("mkdir");
        assert!(matches!(
            rename(&w, "src/a.rs", "secret.txt", None),
            Err(FileError::Conflict { .. })
        ));
        assert!(matches!(
            rename(&w, "src", "src/x", None),
            Err(FileError::Io { .. })
        ));
        assert_eq!(
            rename(&w, "src/a.rs", "b/c/a.rs", None).expect("mv"),
            "b/c/a.rs"
        );
        assert!(matches!(delete(&w, ".", None), Err(FileError::Root(_))));
        assert!(matches!(delete(&w, "", None), Err(FileError::Root(_))));
    }
}
