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

/// One change of a text: the range of the old text it replaces (positions
/// in the old text, in the negotiated encoding) and the text put there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextChange {
    /// Where the replaced range starts.
    pub start: Pos,
    /// Where it ends (exclusive).
    pub end: Pos,
    /// The new text.
    pub text: String,
}

/// How long the line diff of [`minimal_changes`] may search before it
/// settles for a coarser (still correct) answer.
const DIFF_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(500);

/// The changes that turn `old` into `new`, as LSP text edits of one
/// `TextDocumentEdit`: every range refers to `old`, none overlap, in order.
///
/// Each changed region of a line diff is one change, trimmed to the
/// characters that differ, so text outside it (and the editor's cursors,
/// marks, folds and breakpoints there) is not touched. A cut never falls
/// just after a `\r`, so a `\r\n` is never split and no position falls
/// inside a line break. Lines added at the end of a text that ends in a
/// line break are inserted before that break (the same text), so no change
/// starts on the empty "line" after the last break. Positions count code units of `encoding`; lines
/// break at `\n`, `\r\n` and `\r`, as in [`Document`]. Empty when the texts are
/// equal.
pub fn minimal_changes(old: &str, new: &str, encoding: PositionEncoding) -> Vec<TextChange> {
    if old == new {
        return Vec::new();
    }
    let diff = similar::TextDiff::configure()
        .timeout(DIFF_TIMEOUT)
        .diff_lines(old, new);
    let starts = |slices: &[&str]| {
        let mut at = Vec::with_capacity(slices.len() + 1);
        let mut n = 0;
        at.push(0);
        for s in slices {
            n += s.len();
            at.push(n);
        }
        at
    };
    let old_at = starts(diff.old_slices());
    let new_at = starts(diff.new_slices());
    // Changed regions as byte ranges, adjacent ones merged.
    // The ops come in order; their lengths are what counts (the index an
    // insert or a delete reports on its empty side is only an anchor).
    let mut hunks: Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> = Vec::new();
    let (mut oi, mut ni) = (0, 0);
    for op in diff.ops() {
        let (tag, o, n) = op.as_tag_tuple();
        let (o_len, n_len) = (o.len(), n.len());
        let o = old_at[oi]..old_at[oi + o_len];
        let n = new_at[ni]..new_at[ni + n_len];
        oi += o_len;
        ni += n_len;
        if tag == similar::DiffTag::Equal {
            continue;
        }
        match hunks.last_mut() {
            Some((lo, ln)) if lo.end == o.start && ln.end == n.start => {
                lo.end = o.end;
                ln.end = n.end;
            }
            _ => hunks.push((o, n)),
        }
    }
    let lines = LineIndex::new(old);
    hunks
        .into_iter()
        .filter_map(|(o, n)| {
            let (a, b) = (&old[o.clone()], &new[n.clone()]);
            let after_cr = |text: &str, at: usize| text[..at].ends_with('\r');
            let mut prefix = a
                .char_indices()
                .zip(b.chars())
                .find(|((_, x), y)| x != y)
                .map_or_else(|| a.len().min(b.len()), |((i, _), _)| i);
            // `a` and `b` agree up to `prefix`, so `b` needs no check of its own.
            while prefix > 0 && after_cr(old, o.start + prefix) {
                prefix -= 1;
            }
            let (ra, rb) = (&a[prefix..], &b[prefix..]);
            let mut suffix = ra
                .chars()
                .rev()
                .zip(rb.chars().rev())
                .take_while(|(x, y)| x == y)
                .map(|(x, _)| x.len_utf8())
                .sum::<usize>();
            while suffix > 0 && (after_cr(old, o.end - suffix) || after_cr(new, n.end - suffix)) {
                // The suffix gives up its first char (the same in both texts).
                suffix -= old[o.end - suffix..]
                    .chars()
                    .next()
                    .map_or(1, char::len_utf8);
            }
            let mut start = o.start + prefix;
            let mut end = o.end - suffix;
            let mut text = new[n.start + prefix..n.end - suffix].to_owned();
            // Lines added after the final line break go in before it, the
            // same text: an editor that keeps lines (Neovim) has no line
            // after the last break to insert on.
            let last_break = final_line_break(old);
            if start == end
                && start == old.len()
                && !last_break.is_empty()
                && text.ends_with(last_break)
            {
                start -= last_break.len();
                end = start;
                text = format!("{last_break}{}", &text[..text.len() - last_break.len()]);
            }
            (start != end || !text.is_empty()).then(|| TextChange {
                start: lines.position(old, start, encoding),
                end: lines.position(old, end, encoding),
                text,
            })
        })
        .collect()
}

/// The line break that ends `text` (`""` when it does not end in one).
fn final_line_break(text: &str) -> &'static str {
    if text.ends_with("\r\n") {
        "\r\n"
    } else if text.ends_with('\n') {
        "\n"
    } else if text.ends_with('\r') {
        "\r"
    } else {
        ""
    }
}

/// Where each line of a text starts, with lines broken as LSP breaks them.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                    i += 2;
                    starts.push(i);
                }
                b'\r' | b'\n' => {
                    i += 1;
                    starts.push(i);
                }
                _ => i += 1,
            }
        }
        Self { starts }
    }

    /// The position of byte `at` (a char boundary, not inside a line break).
    fn position(&self, text: &str, at: usize, encoding: PositionEncoding) -> Pos {
        let line = self.starts.partition_point(|s| *s <= at).saturating_sub(1);
        let before = &text[self.starts[line]..at];
        let character = match encoding {
            PositionEncoding::Utf8 => before.len(),
            PositionEncoding::Utf16 => before.encode_utf16().count(),
        };
        Pos {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            character: u32::try_from(character).unwrap_or(u32::MAX),
        }
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

#[cfg(test)]
mod minimal_changes_tests {
    use super::*;

    fn change(a: (u32, u32), b: (u32, u32), text: &str) -> TextChange {
        TextChange {
            start: Pos {
                line: a.0,
                character: a.1,
            },
            end: Pos {
                line: b.0,
                character: b.1,
            },
            text: text.into(),
        }
    }

    /// Applies LSP-style edits (all relative to `old`) as an editor would:
    /// last first, through [`Document::apply`] and its position handling.
    fn apply(old: &str, changes: &[TextChange], enc: PositionEncoding) -> String {
        let mut doc = Document {
            version: 1,
            language_id: "text".into(),
            text: Rope::from_str(old),
        };
        for c in changes.iter().rev() {
            doc.apply(
                &Change {
                    range: Some((c.start, c.end)),
                    text: c.text.clone(),
                },
                enc,
            );
        }
        doc.text.to_string()
    }

    fn check(old: &str, new: &str, enc: PositionEncoding) -> Vec<TextChange> {
        let changes = minimal_changes(old, new, enc);
        assert_eq!(
            apply(old, &changes, enc),
            new,
            "{old:?} -> {new:?}: {changes:?}"
        );
        for w in changes.windows(2) {
            let (a, b) = (&w[0].end, &w[1].start);
            assert!(
                (a.line, a.character) <= (b.line, b.character),
                "{changes:?}"
            );
        }
        changes
    }

    const BOTH: [PositionEncoding; 2] = [PositionEncoding::Utf8, PositionEncoding::Utf16];

    #[test]
    fn equal_texts_need_no_change() {
        assert!(minimal_changes("a\nb\n", "a\nb\n", PositionEncoding::Utf16).is_empty());
        assert!(minimal_changes("", "", PositionEncoding::Utf16).is_empty());
    }

    #[test]
    fn one_changed_line_is_one_change_trimmed_to_what_differs() {
        let old = "fn a() {}\nfn b() { 1 }\nfn c() {}\n";
        let new = "fn a() {}\nfn b() { 2 }\nfn c() {}\n";
        assert_eq!(
            check(old, new, PositionEncoding::Utf16),
            [change((1, 9), (1, 10), "2")]
        );
    }

    #[test]
    fn positions_count_utf16_or_utf8_code_units() {
        // 😀 is two UTF-16 units and four bytes; é is one unit and two bytes.
        let old = "😀é x 😀\nsame\nlast 😀";
        let new = "😀é y 😀\nsame\nlast 😀!";
        assert_eq!(
            check(old, new, PositionEncoding::Utf16),
            [change((0, 4), (0, 5), "y"), change((2, 7), (2, 7), "!")]
        );
        assert_eq!(
            check(old, new, PositionEncoding::Utf8),
            [change((0, 7), (0, 8), "y"), change((2, 9), (2, 9), "!")]
        );
    }

    #[test]
    fn crlf_is_never_split() {
        let enc = PositionEncoding::Utf16;
        assert_eq!(
            check("one\r\ntwo\r\nthree\r\n", "one\r\n2\r\nthree\r\n", enc),
            [change((1, 0), (1, 3), "2")]
        );
        // Line endings converted: the whole break is replaced, never half of it.
        assert_eq!(check("a\r\nb", "a\nb", enc), [change((0, 1), (1, 0), "\n")]);
        assert_eq!(
            check("a\nb", "a\r\nb", enc),
            [change((0, 1), (1, 0), "\r\n")]
        );
        check("a\rb\r\nc", "a\r\nb\rc\n", enc);
        check("x\r", "x\r\n", enc);
        check("x\r\n", "x\r", enc);
        check("\r\n\r\n", "\r\r\n\n", enc);
    }

    #[test]
    fn edits_at_the_start_and_the_end() {
        let enc = PositionEncoding::Utf16;
        assert_eq!(
            check("x\nrest\n", "y\nrest\n", enc),
            [change((0, 0), (0, 1), "y")]
        );
        assert_eq!(check("b\n", "a\nb\n", enc), [change((0, 0), (0, 0), "a\n")]);
        assert_eq!(
            check("a\nb", "a\nb\nc", enc),
            [change((1, 1), (1, 1), "\nc")]
        );
        // Added lines go in before the final line break, not after it.
        assert_eq!(
            check("a\nb\n", "a\nb\nc\n", enc),
            [change((1, 1), (1, 1), "\nc")]
        );
        assert_eq!(
            check("a\r\nb\r\n", "a\r\nb\r\nc\r\n", enc),
            [change((1, 1), (1, 1), "\r\nc")]
        );
        // Nothing to go before: an empty text gets the lines at its start.
        assert_eq!(check("", "c\n", enc), [change((0, 0), (0, 0), "c\n")]);
        assert_eq!(check("a\nb\n", "a\nb", enc), [change((1, 1), (2, 0), "")]);
    }

    #[test]
    fn deletions() {
        let enc = PositionEncoding::Utf16;
        assert_eq!(
            check("a\nb\nc\n", "a\nc\n", enc),
            [change((1, 0), (2, 0), "")]
        );
        assert_eq!(
            check("keep\ndrop 😀\ndrop\nkeep\n", "keep\nkeep\n", enc),
            [change((1, 0), (3, 0), "")]
        );
    }

    #[test]
    fn an_empty_file_gains_or_loses_everything() {
        let enc = PositionEncoding::Utf16;
        assert_eq!(
            check("", "hello\n", enc),
            [change((0, 0), (0, 0), "hello\n")]
        );
        assert_eq!(check("x\ny", "", enc), [change((0, 0), (1, 1), "")]);
        assert_eq!(check("\n", "", enc), [change((0, 0), (1, 0), "")]);
    }

    #[test]
    fn separate_regions_are_separate_changes() {
        let old: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let new = old
            .replace("line 10\n", "line ten\n")
            .replace("line 90\n", "");
        assert_eq!(
            check(&old, &new, PositionEncoding::Utf16),
            [
                change((10, 5), (10, 7), "ten"),
                change((90, 0), (91, 0), "")
            ]
        );
    }

    /// Random texts over an alphabet rich in line breaks and wide
    /// characters: applying the changes always gives the new text.
    #[test]
    fn random_texts_round_trip() {
        const ALPHABET: [&str; 9] = ["a", "b", "\n", "\r", "\r\n", "😀", "é", " ", "x\n"];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..5000 {
            let len = next(30);
            let old: String = (0..len).map(|_| ALPHABET[next(ALPHABET.len())]).collect();
            let mut new = old.clone();
            for _ in 0..=next(3) {
                let mut at = next(new.len() + 1);
                while !new.is_char_boundary(at) {
                    at -= 1;
                }
                if next(2) == 0 {
                    new.insert_str(at, ALPHABET[next(ALPHABET.len())]);
                } else if let Some(c) = new[at..].chars().next() {
                    new.replace_range(at..at + c.len_utf8(), "");
                }
            }
            for enc in BOTH {
                check(&old, &new, enc);
            }
        }
    }
}
