//! Workspace confinement: every path a tool touches is resolved against the
//! session's workspace folder and must stay inside it.
//!
//! Invariants:
//! - `..` that climbs above the root, absolute paths elsewhere, `~`, NUL bytes,
//!   backslashes and symlinks (or chains of them) that lead outside are refused
//!   with a clear error before any file is opened.
//! - Paths matched by `.codelabignore` (gitignore syntax) cannot be read,
//!   listed or searched.
//! - `.codelab/**`, `.codelabignore` and `.git/**` are protected: writing them
//!   always needs the user's approval.

use std::path::{Component, Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// The ignore file's name.
pub const IGNORE_FILE: &str = ".codelabignore";

/// The local path of a `file://` URI.
pub fn uri_to_path(uri: &str) -> Option<PathBuf> {
    url::Url::parse(uri)
        .ok()
        .and_then(|u| u.to_file_path().ok())
}

/// The `file://` URI of a local path.
pub fn path_to_uri(path: &Path) -> Option<String> {
    url::Url::from_file_path(path).ok().map(String::from)
}

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// The session has no workspace folder.
    #[error("this session has no workspace folder, so no file can be used")]
    NoWorkspace,
    /// The path is malformed.
    #[error("invalid path {path:?}: {reason}")]
    Invalid {
        /// The path as given.
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// The path leads outside the workspace.
    #[error("path {path:?} is outside the workspace {root}; use a path inside it")]
    Outside {
        /// The path as given.
        path: String,
        /// The workspace root.
        root: String,
    },
    /// The path is ignored by `.codelabignore`.
    #[error("path {path:?} is excluded by .codelabignore")]
    Ignored {
        /// The path as given.
        path: String,
    },
}

/// The protected entries of a workspace root: changing them always asks,
/// and a sandboxed command sees them read-only.
pub const PROTECTED: [&str; 3] = [".git", ".codelab", IGNORE_FILE];

/// What [`Workspace::ignored_entries`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IgnoredEntries {
    /// Each ignored path and whether it is a directory.
    pub paths: Vec<(PathBuf, bool)>,
    /// Whether the whole workspace was walked.
    pub complete: bool,
}

/// A workspace folder with its ignore rules.
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
    ignore: Gitignore,
}

impl Workspace {
    /// Opens the workspace at `root` (which must exist).
    ///
    /// # Errors
    /// When `root` cannot be canonicalized.
    pub fn new(root: &Path) -> std::io::Result<Self> {
        let root = root.canonicalize()?;
        let mut builder = GitignoreBuilder::new(&root);
        let file = root.join(IGNORE_FILE);
        if file.exists()
            && let Some(e) = builder.add(&file)
        {
            tracing::warn!(file = %file.display(), error = %e, "cannot read the ignore file");
        }
        let ignore = builder.build().unwrap_or_else(|_| Gitignore::empty());
        Ok(Self { root, ignore })
    }

    /// The canonical root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Resolves `path` (relative to the root, or absolute inside it) to an
    /// absolute path inside the workspace. The file need not exist.
    ///
    /// # Errors
    /// [`PathError`] when the path is malformed or leads outside.
    pub fn resolve(&self, path: &str) -> Result<PathBuf, PathError> {
        let invalid = |reason| PathError::Invalid {
            path: path.to_owned(),
            reason,
        };
        if path.contains('\0') {
            return Err(invalid("it contains a NUL byte"));
        }
        if path.contains('\\') {
            return Err(invalid("use / as the separator, not \\"));
        }
        if path.starts_with('~') {
            return Err(invalid(
                "~ is not expanded; give a path relative to the workspace",
            ));
        }
        if path.len() > 4096 {
            return Err(invalid("it is longer than 4096 bytes"));
        }
        let lower = path.to_ascii_lowercase();
        if lower.contains("%2e") || lower.contains("%2f") {
            return Err(invalid(
                "percent-encoded characters are not decoded; give the plain path",
            ));
        }
        let outside = || PathError::Outside {
            path: path.to_owned(),
            root: self.root.display().to_string(),
        };
        let given = Path::new(path);
        let joined = if given.is_absolute() {
            given.to_path_buf()
        } else {
            self.root.join(given)
        };
        // Lexical normalisation: `..` may not climb above the filesystem root.
        let mut normal = PathBuf::new();
        for c in joined.components() {
            match c {
                Component::ParentDir => {
                    if !normal.pop() {
                        return Err(outside());
                    }
                }
                Component::CurDir => {}
                other => normal.push(other.as_os_str()),
            }
        }
        if !normal.starts_with(&self.root) {
            return Err(outside());
        }
        for c in normal
            .strip_prefix(&self.root)
            .map_err(|_| outside())?
            .components()
        {
            if c.as_os_str().len() > 255 {
                return Err(invalid("a name in it is longer than 255 bytes"));
            }
        }
        // Symlinks: the deepest existing ancestor, resolved, must stay inside.
        let mut existing = normal.as_path();
        loop {
            if existing.symlink_metadata().is_ok() {
                break;
            }
            match existing.parent() {
                Some(p) => existing = p,
                None => return Err(outside()),
            }
        }
        let real = existing.canonicalize().map_err(|_| outside())?;
        if !real.starts_with(&self.root) {
            return Err(outside());
        }
        let rest = normal.strip_prefix(existing).map_err(|_| outside())?;
        Ok(if rest.as_os_str().is_empty() {
            real
        } else {
            real.join(rest)
        })
    }

    /// Resolves a path for reading, listing or searching: also refuses ignored paths.
    ///
    /// # Errors
    /// As [`Self::resolve`], and [`PathError::Ignored`].
    pub fn resolve_visible(&self, path: &str) -> Result<PathBuf, PathError> {
        let abs = self.resolve(path)?;
        if abs.strip_prefix(&self.root).is_ok_and(|rel| {
            rel.components()
                .next()
                .is_some_and(|c| c.as_os_str() == ".git")
        }) {
            return Err(PathError::Invalid {
                path: path.to_owned(),
                reason: "git's internals are not readable; use git commands",
            });
        }
        if self.is_ignored(&abs) {
            return Err(PathError::Ignored {
                path: path.to_owned(),
            });
        }
        Ok(abs)
    }

    /// Resolves a path for writing: also refuses ignored paths (an agent must
    /// not overwrite what it may not see). `.git` stays writable, behind the
    /// gate's approval.
    ///
    /// # Errors
    /// As [`Self::resolve`], and [`PathError::Ignored`].
    pub fn resolve_writable(&self, path: &str) -> Result<PathBuf, PathError> {
        let abs = self.resolve(path)?;
        if self.is_ignored(&abs) {
            return Err(PathError::Ignored {
                path: path.to_owned(),
            });
        }
        Ok(abs)
    }

    /// The paths `.codelabignore` excludes, outermost first (an ignored
    /// directory is listed, not what it holds), as `(path, is_dir)`; found
    /// by walking the workspace without following symlinks and without
    /// entering `.git`. The walk stops after `max_entries` entries or
    /// `max_paths` ignored paths (then `complete` is false). Without
    /// ignore rules nothing is walked.
    pub fn ignored_entries(&self, max_entries: usize, max_paths: usize) -> IgnoredEntries {
        let mut out = IgnoredEntries {
            paths: Vec::new(),
            complete: true,
        };
        if self.ignore.is_empty() {
            return out;
        }
        let mut visited = 0usize;
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                visited += 1;
                if visited > max_entries || out.paths.len() >= max_paths {
                    out.complete = false;
                    return out;
                }
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_symlink() {
                    continue;
                }
                let path = entry.path();
                if self.ignore.matched(&path, kind.is_dir()).is_ignore() {
                    out.paths.push((path, kind.is_dir()));
                } else if kind.is_dir() && entry.file_name() != ".git" {
                    stack.push(path);
                }
            }
        }
        out
    }

    /// Whether `.codelabignore` excludes an absolute path (or a parent of it).
    pub fn is_ignored(&self, abs: &Path) -> bool {
        // Nothing outside the root is ignored (and the matcher would panic).
        if abs == self.root || !abs.starts_with(&self.root) {
            return false;
        }
        let is_dir = abs.is_dir();
        self.ignore
            .matched_path_or_any_parents(abs, is_dir)
            .is_ignore()
    }

    /// Whether `.codelabignore` excludes this entry of a walk, whose
    /// parents the walk already checked (it does not descend into an
    /// excluded directory): one match, no file-system call.
    pub fn ignores_entry(&self, abs: &Path, is_dir: bool) -> bool {
        !self.ignore.is_empty()
            && abs != self.root
            && abs.starts_with(&self.root)
            && self.ignore.matched(abs, is_dir).is_ignore()
    }

    /// Whether writing `abs` always needs approval.
    pub fn is_protected(&self, abs: &Path) -> bool {
        let Ok(rel) = abs.strip_prefix(&self.root) else {
            return true;
        };
        let mut parts = rel.components();
        match parts
            .next()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
        {
            Some(first) => {
                first == ".codelab"
                    || first == ".git"
                    || (first == IGNORE_FILE && parts.next().is_none())
            }
            None => false,
        }
    }

    /// The path relative to the root, with `/` separators.
    pub fn relative(&self, abs: &Path) -> String {
        abs.strip_prefix(&self.root)
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .unwrap_or_else(|_| abs.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("src")).expect("mkdir");
        std::fs::write(dir.path().join("src/a.rs"), "a").expect("write");
        std::fs::write(dir.path().join(IGNORE_FILE), "secrets/\n*.key\n").expect("write");
        let w = Workspace::new(dir.path()).expect("workspace");
        (dir, w)
    }

    #[test]
    fn inside_paths_resolve() {
        let (_d, w) = ws();
        assert_eq!(
            w.resolve("src/a.rs").expect("ok"),
            w.root().join("src/a.rs")
        );
        assert_eq!(
            w.resolve("./src/../src/new.rs").expect("ok"),
            w.root().join("src/new.rs")
        );
        assert_eq!(w.resolve("").expect("root"), w.root());
        let abs = w.root().join("src/a.rs");
        assert_eq!(w.resolve(abs.to_str().expect("utf8")).expect("ok"), abs);
        assert_eq!(
            w.resolve("deep/new/dir/file.txt").expect("ok"),
            w.root().join("deep/new/dir/file.txt")
        );
    }

    #[test]
    fn escapes_are_refused() {
        let (d, w) = ws();
        for p in [
            "../x",
            "src/../../x",
            "/etc/passwd",
            "~/.ssh/id_rsa",
            "a\0b",
            "..\\x",
            "%2e%2e/x",
            "src/%2E%2E/%2e%2e/x",
        ] {
            assert!(w.resolve(p).is_err(), "{p} must be refused");
        }
        let outside = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink(outside.path(), d.path().join("link")).expect("symlink");
        std::os::unix::fs::symlink(d.path().join("link"), d.path().join("chain")).expect("symlink");
        for p in ["link", "link/file", "chain/new/file"] {
            assert!(
                matches!(w.resolve(p), Err(PathError::Outside { .. })),
                "{p} escapes through a symlink"
            );
        }
        std::os::unix::fs::symlink(d.path().join("src"), d.path().join("inner")).expect("symlink");
        assert_eq!(
            w.resolve("inner/a.rs").expect("an inside symlink is fine"),
            w.root().join("src/a.rs")
        );
    }

    #[test]
    fn ignored_entries_lists_the_outermost_ignored_paths_within_limits() {
        let d = tempfile::tempdir().expect("tempdir");
        let root = d.path();
        std::fs::write(root.join(IGNORE_FILE), "*.env\nkeys/\n").expect("write");
        for dir in ["keys/deep", "src/conf", ".git"] {
            std::fs::create_dir_all(root.join(dir)).expect("mkdir");
        }
        for file in [
            "a.env",
            "keys/deep/k",
            "src/conf/b.env",
            "src/main.rs",
            ".git/c.env",
        ] {
            std::fs::write(root.join(file), "x").expect("write");
        }
        std::os::unix::fs::symlink(root.join("a.env"), root.join("link.env")).expect("symlink");
        let w = Workspace::new(root).expect("workspace");
        let found = w.ignored_entries(1000, 1000);
        assert!(found.complete);
        let mut rel: Vec<(String, bool)> = found
            .paths
            .iter()
            .map(|(p, dir)| (w.relative(p), *dir))
            .collect();
        rel.sort();
        assert_eq!(
            rel,
            [
                ("a.env".to_owned(), false),
                ("keys".to_owned(), true),
                ("src/conf/b.env".to_owned(), false),
            ]
        );
        assert!(!w.ignored_entries(2, 1000).complete, "entry limit");
        assert!(!w.ignored_entries(1000, 1).complete, "path limit");
        std::fs::remove_file(root.join(IGNORE_FILE)).expect("rm");
        let none = Workspace::new(root)
            .expect("workspace")
            .ignored_entries(0, 0);
        assert!(none.complete && none.paths.is_empty(), "no rules, no walk");
    }

    #[test]
    fn ignore_and_protection() {
        let (_d, w) = ws();
        assert!(matches!(
            w.resolve_visible("secrets/db.txt"),
            Err(PathError::Ignored { .. })
        ));
        assert!(matches!(
            w.resolve_visible("src/server.key"),
            Err(PathError::Ignored { .. })
        ));
        assert!(w.resolve_visible("src/a.rs").is_ok());
        for p in [
            ".codelab/config.toml",
            ".codelabignore",
            ".git/config",
            ".git",
        ] {
            assert!(w.is_protected(&w.resolve(p).expect("resolves")), "{p}");
        }
        assert!(!w.is_protected(&w.resolve("src/a.rs").expect("resolves")));
        assert!(!w.is_protected(&w.resolve(".gitignore").expect("resolves")));
    }
}
