//! Configuration errors that name the file, the line and the key, and the
//! TOML plumbing that finds them.
//!
//! Every configuration file is parsed with `toml`'s spanned document parser;
//! serde errors get their dotted key from `serde_path_to_error` and their
//! line from the span `toml` attaches. Checks made after parsing (a range,
//! a known tool name, a regex, a glob) read the span of the value they check
//! (`toml::Spanned`) so their errors name the line too.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// An invalid or unreadable configuration file.
///
/// Displays as `FILE:LINE: KEY: REASON`, for example
/// `/home/u/.local/share/codelab-agent/codelab.toml:7: agent.diff_threshold: must be between 0.5 and 1.0`
/// (the line or the key is left out when unknown, as for a syntax error that
/// is not inside any key).
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    /// The file exists but cannot be read.
    #[error("{}: {error}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: Arc<std::io::Error>,
    },
    /// The file's content is invalid.
    #[error("{}{}: {}{message}", .path.display(), Line(*.line), Key(.key.as_deref()))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The 1-based line, when known.
        line: Option<usize>,
        /// The dotted key (`llm.timeouts.idle_secs`, `policy.rules[2].path`), when known.
        key: Option<String>,
        /// What is wrong.
        message: String,
    },
}

struct Line(Option<usize>);

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(l) => write!(f, ":{l}"),
            None => Ok(()),
        }
    }
}

struct Key<'a>(Option<&'a str>);

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(k) if !k.is_empty() => write!(f, "{k}: "),
            _ => Ok(()),
        }
    }
}

impl ConfigError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::Read { path, .. } | Self::Invalid { path, .. } => path,
        }
    }

    /// The 1-based line, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            Self::Read { .. } => None,
            Self::Invalid { line, .. } => *line,
        }
    }

    /// The dotted key, when known.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Read { .. } => None,
            Self::Invalid { key, .. } => key.as_deref(),
        }
    }
}

/// Reads a configuration file; `None` when it does not exist.
///
/// # Errors
/// [`ConfigError::Read`] when it exists but cannot be read.
pub fn read_optional(path: &Path) -> Result<Option<String>, ConfigError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ConfigError::Read {
            path: path.to_path_buf(),
            error: Arc::new(e),
        }),
    }
}

/// A TOML file's path and text, to parse it and to locate errors in it.
#[derive(Debug, Clone, Copy)]
pub struct TomlDoc<'a> {
    path: &'a Path,
    text: &'a str,
}

impl<'a> TomlDoc<'a> {
    /// A document read from `path`.
    pub fn new(path: &'a Path, text: &'a str) -> Self {
        Self { path, text }
    }

    /// The file.
    pub fn path(&self) -> &'a Path {
        self.path
    }

    /// The 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    }

    /// An error about the value at `span` (of key `key`).
    pub fn error(
        &self,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        message: impl fmt::Display,
    ) -> ConfigError {
        let key = key.into();
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line: span.map(|s| self.line(s.start)),
            key: (!key.is_empty()).then_some(key),
            message: message.to_string(),
        }
    }

    /// Parses the document into its top-level table (syntax only).
    ///
    /// # Errors
    /// A syntax error, with its line.
    pub fn parse(&self) -> Result<DeTable<'a>, ConfigError> {
        DeTable::parse(self.text)
            .map(Spanned::into_inner)
            .map_err(|e| self.error(e.span(), "", e.message()))
    }

    /// Deserializes the value of the top-level key `key`.
    ///
    /// # Errors
    /// A type error, an unknown field or a missing field, naming the line and
    /// the full dotted key.
    pub fn value<T: Deserialize<'a>>(
        &self,
        key: &str,
        value: Spanned<DeValue<'a>>,
    ) -> Result<T, ConfigError> {
        self.deserialize(key, ValueDeserializer::from(value))
    }

    /// Deserializes a whole table (the rest of a document).
    ///
    /// # Errors
    /// As [`Self::value`].
    pub fn table<T: Deserialize<'a>>(&self, table: DeTable<'a>) -> Result<T, ConfigError> {
        let span = 0..self.text.len();
        self.deserialize("", toml::de::Deserializer::from(Spanned::new(span, table)))
    }

    fn deserialize<T: Deserialize<'a>>(
        &self,
        prefix: &str,
        de: impl serde::Deserializer<'a, Error = toml::de::Error>,
    ) -> Result<T, ConfigError> {
        serde_path_to_error::deserialize(de).map_err(|e| {
            let key = dotted(prefix, e.path());
            let inner = e.into_inner();
            self.error(inner.span(), key, inner.message())
        })
    }
}

/// Appends a key to a dotted path, quoting it unless it is a bare TOML key.
pub fn push_key(out: &mut String, key: &str) {
    if !out.is_empty() {
        out.push('.');
    }
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        out.push_str(key);
    } else {
        out.push_str(&format!("{key:?}"));
    }
}

/// `prefix` followed by serde's path, without `toml::Spanned`'s internal keys.
fn dotted(prefix: &str, path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = prefix.to_owned();
    for segment in path.iter() {
        match segment {
            Segment::Map { key } if key.starts_with("$__serde_spanned_private") => {}
            Segment::Map { key } | Segment::Enum { variant: key } => push_key(&mut out, key),
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Unknown => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Section {
        #[allow(dead_code)]
        n: Option<Spanned<u64>>,
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let path = Path::new("/d/codelab.toml");
        let text = "# comment\n[a]\n\n\n[a.\"x.y\".b]\nn = \"many\"\n";
        let doc = TomlDoc::new(path, text);
        let mut root = doc.parse().expect("valid syntax");
        let a = root.remove("a").expect("a");
        #[derive(Debug, Deserialize)]
        struct A {
            #[allow(dead_code)]
            #[serde(rename = "x.y")]
            xy: std::collections::BTreeMap<String, Section>,
        }
        let err = doc.value::<A>("a", a).expect_err("n is a string");
        assert_eq!(
            err.to_string(),
            "/d/codelab.toml:6: a.\"x.y\".b.n: invalid type: string \"many\", expected u64"
        );
        assert_eq!(err.line(), Some(6));
        assert_eq!(err.key(), Some("a.\"x.y\".b.n"));

        let err = TomlDoc::new(path, "a = 1\nb = \n")
            .parse()
            .expect_err("syntax");
        assert!(err.to_string().starts_with("/d/codelab.toml:2: "), "{err}");
        assert_eq!(err.key(), None);
    }
}
