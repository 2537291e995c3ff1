//! Open editor documents, kept in sync with the editor through incremental
//! `textDocument/didChange` edits.
//!
//! Invariants:
//! - Changes are applied in the order they are received, synchronously, with
//!   no `.await` between receiving a notification and applying it.
//! - Lines break only at `\n`, `\r\n` and `\r`, as LSP says (ropey is built
//!   with `cr_lines` and without `unicode_lines`).
//! - Positions are read in the encoding negotiated at `initialize`; a position
//!   past the end of a line means the end of that line, and a line past the end
//!   of the document means its end.

use std::collections::HashMap;

use ropey::Rope;

/// How LSP positions count characters within a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PositionEncoding {
    /// UTF-8 code units (bytes).
    Utf8,
    /// UTF-16 code units: LSP's default.
    #[default]
    Utf16,
}

impl PositionEncoding {
    /// The LSP name of the encoding.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Utf8 => "utf-8",
            Self::Utf16 => "utf-16",
        }
    }
}

/// A position: zero-based line and character offset in the negotiated encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    /// Zero-based line.
    pub line: u32,
    /// Offset within the line, in code units of the encoding.
    pub character: u32,
}

/// One change of a `didChange` notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The replaced range; `None` replaces the whole document.
    pub range: Option<(Pos, Pos)>,
    /// The new text.
    pub text: String,
}

/// An open document.
#[derive(Debug, Clone)]
pub struct Document {
    /// The editor's version of the text.
    pub version: i32,
    /// The language id the editor gave.
    pub language_id: String,
    /// The text.
    pub text: Rope,
}

impl Document {
    /// Converts a position to a char index, clamping as LSP says.
    pub fn char_index(&self, pos: Pos, encoding: PositionEncoding) -> usize {
        let rope = &self.text;
        let line = pos.line as usize;
        if line >= rope.len_lines() {
            return rope.len_chars();
        }
        let start = rope.line_to_char(line);
        let slice = rope.line(line);
        let content_chars = slice.len_chars() - line_break_len(&slice);
        let end = start + content_chars;
        let target = match encoding {
            PositionEncoding::Utf16 => {
                let start_cu = rope.char_to_utf16_cu(start);
                let end_cu = rope.char_to_utf16_cu(end);
                let cu = (start_cu + pos.character as usize).min(end_cu);
                rope.utf16_cu_to_char(cu)
            }
            PositionEncoding::Utf8 => {
                let start_b = rope.char_to_byte(start);
                let end_b = rope.char_to_byte(end);
                let b = (start_b + pos.character as usize).min(end_b);
                rope.byte_to_char(b)
            }
        };
        target.clamp(start, end)
    }

    /// Applies one change.
    pub fn apply(&mut self, change: &Change, encoding: PositionEncoding) {
        match change.range {
            None => self.text = Rope::from_str(&change.text),
            Some((from, to)) => {
                let a = self.char_index(from, encoding);
                let b = self.char_index(to, encoding);
                let (a, b) = if a <= b { (a, b) } else { (b, a) };
                self.text.remove(a..b);
                self.text.insert(a, &change.text);
            }
        }
    }
}

/// The number of chars of the line break ending `line` (0, 1 or 2).
fn line_break_len(line: &ropey::RopeSlice<'_>) -> usize {
    let n = line.len_chars();
    if n == 0 {
        return 0;
    }
    match line.char(n - 1) {
        '\n' if n >= 2 && line.char(n - 2) == '\r' => 2,
        '\n' | '\r' => 1,
        _ => 0,
    }
}

/// The documents a client has open, by URI.
#[derive(Debug, Default)]
pub struct Documents {
    docs: HashMap<String, Document>,
}

impl Documents {
    /// Opens (or reopens) a document.
    pub fn open(&mut self, uri: String, language_id: String, version: i32, text: &str) {
        self.docs.insert(
            uri,
            Document {
                version,
                language_id,
                text: Rope::from_str(text),
            },
        );
    }

    /// Applies changes in order. Returns false when the document is not open.
    pub fn change(
        &mut self,
        uri: &str,
        version: i32,
        changes: &[Change],
        encoding: PositionEncoding,
    ) -> bool {
        let Some(doc) = self.docs.get_mut(uri) else {
            return false;
        };
        for c in changes {
            doc.apply(c, encoding);
        }
        doc.version = version;
        true
    }

    /// Closes a document.
    pub fn close(&mut self, uri: &str) -> bool {
        self.docs.remove(uri).is_some()
    }

    /// An open document.
    pub fn get(&self, uri: &str) -> Option<&Document> {
        self.docs.get(uri)
    }

    /// Replaces the text on save when the client includes it.
    pub fn saved(&mut self, uri: &str, text: Option<&str>) {
        if let (Some(doc), Some(text)) = (self.docs.get_mut(uri), text) {
            doc.text = Rope::from_str(text);
        }
    }

    /// Every open document, by URI.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Document)> {
        self.docs.iter()
    }

    /// How many documents are open.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    /// Whether none are open.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: u32, character: u32) -> Pos {
        Pos { line, character }
    }

    fn edit(a: Pos, b: Pos, text: &str) -> Change {
        Change {
            range: Some((a, b)),
            text: text.into(),
        }
    }

    fn run(initial: &str, changes: &[Change], enc: PositionEncoding) -> String {
        let mut docs = Documents::default();
        docs.open("file:///t".into(), "text".into(), 1, initial);
        assert!(docs.change("file:///t", 2, changes, enc));
        docs.get("file:///t")
            .map(|d| d.text.to_string())
            .unwrap_or_default()
    }

    const INITIAL: &str = "a😀b\r\ncafé 🎉!\r\nlast";

    #[test]
    fn utf16_sequence_with_emoji_and_crlf() {
        // 😀 is 2 UTF-16 units, é is 1, 🎉 is 2.
        let changes = [
            // Replace "b" (after the emoji: a=1, 😀=2 → offset 3) with "B".
            edit(p(0, 3), p(0, 4), "B"),
            // Insert after "café " (5 units) on line 1: "x".
            edit(p(1, 5), p(1, 5), "x"),
            // Delete the 🎉 (now at 6..8).
            edit(p(1, 6), p(1, 8), ""),
            // Join line 0 and 1 by deleting the CRLF: from end of line 0 (past end clamps) to (1,0).
            edit(p(0, 99), p(1, 0), " "),
            // Append at a line past the end.
            edit(p(40, 0), p(40, 0), "\n"),
        ];
        assert_eq!(
            run(INITIAL, &changes, PositionEncoding::Utf16),
            "a😀B café x!\r\nlast\n"
        );
    }

    #[test]
    fn utf8_sequence_with_emoji_and_crlf() {
        // 😀 is 4 bytes, é is 2, 🎉 is 4.
        let changes = [
            edit(p(0, 5), p(0, 6), "B"),
            edit(p(1, 6), p(1, 6), "x"),
            edit(p(1, 7), p(1, 11), ""),
            edit(p(0, 99), p(1, 0), " "),
            edit(p(40, 0), p(40, 0), "\n"),
        ];
        assert_eq!(
            run(INITIAL, &changes, PositionEncoding::Utf8),
            "a😀B café x!\r\nlast\n"
        );
    }

    #[test]
    fn lone_cr_breaks_lines_but_unicode_separators_do_not() {
        let doc = "one\rtwo\u{2028}still two\nthree";
        let changes = [edit(p(1, 0), p(1, 0), ">"), edit(p(2, 0), p(2, 0), ">")];
        assert_eq!(
            run(doc, &changes, PositionEncoding::Utf16),
            "one\r>two\u{2028}still two\n>three"
        );
    }

    #[test]
    fn position_inside_a_surrogate_pair_does_not_split_it() {
        let doc = "😀x";
        let changes = [edit(p(0, 1), p(0, 1), "-")];
        let out = run(doc, &changes, PositionEncoding::Utf16);
        assert!(out == "-😀x" || out == "😀-x", "{out}");
    }

    #[test]
    fn full_replacement_and_close() {
        let mut docs = Documents::default();
        docs.open("u".into(), "rust".into(), 1, "old");
        let full = Change {
            range: None,
            text: "new\r\n".into(),
        };
        assert!(docs.change("u", 2, &[full], PositionEncoding::Utf16));
        assert_eq!(
            docs.get("u").map(|d| (d.version, d.text.to_string())),
            Some((2, "new\r\n".into()))
        );
        assert!(!docs.change("other", 1, &[], PositionEncoding::Utf16));
        assert!(docs.close("u"));
        assert!(docs.is_empty());
    }
}

/// The open documents of every connection, so that tools read unsaved text
/// whichever editor holds it.
#[derive(Debug, Default)]
pub struct DocRegistry {
    conns: std::sync::Mutex<HashMap<u64, std::sync::Arc<std::sync::Mutex<Documents>>>>,
}

impl DocRegistry {
    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<u64, std::sync::Arc<std::sync::Mutex<Documents>>>> {
        self.conns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The documents of a new connection.
    pub fn register(&self, conn: u64) -> std::sync::Arc<std::sync::Mutex<Documents>> {
        let docs = std::sync::Arc::new(std::sync::Mutex::new(Documents::default()));
        self.lock().insert(conn, std::sync::Arc::clone(&docs));
        docs
    }

    /// Forgets a closed connection's documents.
    pub fn unregister(&self, conn: u64) {
        self.lock().remove(&conn);
    }

    /// Calls `f` on every open document of every connection (with its path)
    /// until it returns false.
    pub fn each(&self, mut f: impl FnMut(&std::path::Path, &Document) -> bool) {
        let conns: Vec<_> = self.lock().values().cloned().collect();
        for docs in conns {
            let docs = docs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (uri, doc) in docs.iter() {
                if let Some(path) = crate::workspace::uri_to_path(uri)
                    && !f(&path, doc)
                {
                    return;
                }
            }
        }
    }
}
