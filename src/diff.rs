//! SEARCH/REPLACE blocks: parsing and matching, for `apply_diff`. Pure: text
//! in, text and a per-block report out.
//!
//! A block:
//! ```text
//! <<<<<<< SEARCH
//! :start_line:12
//! -------
//! old lines
//! =======
//! new lines
//! >>>>>>> REPLACE
//! ```
//! `:start_line:` and `-------` are optional. Each block is located in the
//! text as the earlier blocks left it: exactly at `start_line`; else exactly
//! nearby (searching outward up to [`NEARBY`] lines); else anywhere exactly
//! (if unique); else ignoring whitespace at line ends and starts; else the
//! most similar window of the same length, if its similarity reaches the
//! threshold (1.0, the default, means exact matches only).

/// How far from `start_line` an exact match is searched first.
pub const NEARBY: usize = 40;

/// One parsed block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The hinted 1-based line.
    pub start_line: Option<usize>,
    /// The lines to find.
    pub search: Vec<String>,
    /// The lines to put instead.
    pub replace: Vec<String>,
}

/// Parses a diff into blocks.
///
/// # Errors
/// A message naming the line where the format breaks.
pub fn parse(diff: &str) -> Result<Vec<Block>, String> {
    let lines: Vec<&str> = diff
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_end();
        if line.is_empty() {
            i += 1;
            continue;
        }
        if !is_marker(line, '<', "SEARCH") {
            return Err(format!(
                "line {}: expected `<<<<<<< SEARCH`, found {:?}",
                i + 1,
                truncate(line)
            ));
        }
        i += 1;
        let mut start_line = None;
        if let Some(rest) = lines
            .get(i)
            .and_then(|l| l.trim().strip_prefix(":start_line:"))
        {
            let n: usize = rest
                .trim()
                .parse()
                .map_err(|_| format!("line {}: `:start_line:` needs a number", i + 1))?;
            if n == 0 {
                return Err(format!("line {}: `:start_line:` is 1-based", i + 1));
            }
            start_line = Some(n);
            i += 1;
        }
        if lines.get(i).is_some_and(|l| l.trim() == "-------") {
            i += 1;
        }
        let mut search = Vec::new();
        loop {
            let Some(l) = lines.get(i) else {
                return Err("a SEARCH block has no `=======` line".to_owned());
            };
            if l.trim_end() == "=======" {
                i += 1;
                break;
            }
            if is_marker(l.trim_end(), '<', "SEARCH") || is_marker(l.trim_end(), '>', "REPLACE") {
                return Err(format!(
                    "line {}: expected `=======` before {:?}",
                    i + 1,
                    truncate(l)
                ));
            }
            search.push((*l).to_owned());
            i += 1;
        }
        let mut replace = Vec::new();
        loop {
            let Some(l) = lines.get(i) else {
                return Err("a block has no `>>>>>>> REPLACE` line".to_owned());
            };
            if is_marker(l.trim_end(), '>', "REPLACE") {
                i += 1;
                break;
            }
            if l.trim_end() == "=======" || is_marker(l.trim_end(), '<', "SEARCH") {
                return Err(format!(
                    "line {}: expected `>>>>>>> REPLACE` before {:?}",
                    i + 1,
                    truncate(l)
                ));
            }
            replace.push((*l).to_owned());
            i += 1;
        }
        blocks.push(Block {
            start_line,
            search,
            replace,
        });
    }
    if blocks.is_empty() {
        return Err("no `<<<<<<< SEARCH` block found".to_owned());
    }
    Ok(blocks)
}

fn is_marker(line: &str, c: char, word: &str) -> bool {
    let count = line.chars().take_while(|x| *x == c).count();
    count >= 7 && line[count..].trim() == word
}

fn truncate(s: &str) -> String {
    s.chars().take(60).collect()
}

/// How a block was matched.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Strategy {
    /// Exactly at `start_line`.
    ExactAtHint,
    /// Exactly, near `start_line` or anywhere.
    Exact,
    /// Ignoring leading and trailing whitespace on each line.
    Whitespace,
    /// By similarity.
    Fuzzy(f64),
}

/// What happened to one block.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockResult {
    /// Applied at this 1-based line.
    Applied {
        /// The line.
        line: usize,
        /// How it was found.
        strategy: Strategy,
    },
    /// Not applied.
    Failed {
        /// Why.
        reason: String,
        /// The most similar place: 1-based line, similarity, text.
        best: Option<(usize, f64, String)>,
    },
}

/// Line-level similarity: 1 - Levenshtein distance / length of the longer.
pub fn similarity(a: &str, b: &str) -> f64 {
    if a == b {
        return 1.0;
    }
    let len = a.chars().count().max(b.chars().count());
    if len == 0 {
        return 1.0;
    }
    1.0 - strsim::levenshtein(a, b) as f64 / len as f64
}

fn find_all(lines: &[String], search: &[String], eq: impl Fn(&str, &str) -> bool) -> Vec<usize> {
    if search.len() > lines.len() {
        return Vec::new();
    }
    (0..=lines.len() - search.len())
        .filter(|&i| search.iter().enumerate().all(|(k, s)| eq(&lines[i + k], s)))
        .collect()
}

fn locate(
    lines: &[String],
    block: &Block,
    threshold: f64,
) -> Result<(usize, Strategy), BlockResult> {
    let n = block.search.len();
    let exact = |a: &str, b: &str| a == b;
    let loose = |a: &str, b: &str| a.trim() == b.trim();
    if let Some(hint) = block.start_line.map(|h| h - 1) {
        if hint + n <= lines.len() && (0..n).all(|k| lines[hint + k] == block.search[k]) {
            return Ok((hint, Strategy::ExactAtHint));
        }
        let all = find_all(lines, &block.search, exact);
        if let Some(&near) = all
            .iter()
            .filter(|&&i| i.abs_diff(hint) <= NEARBY)
            .min_by_key(|&&i| i.abs_diff(hint))
        {
            return Ok((near, Strategy::Exact));
        }
    }
    for (eq, strategy) in [
        (&exact as &dyn Fn(&str, &str) -> bool, Strategy::Exact),
        (&loose, Strategy::Whitespace),
    ] {
        let all = find_all(lines, &block.search, eq);
        match (all.len(), block.start_line) {
            (0, _) => {}
            (1, _) => return Ok((all[0], strategy)),
            (_, Some(h)) => {
                let best = all
                    .iter()
                    .min_by_key(|&&i| i.abs_diff(h - 1))
                    .copied()
                    .unwrap_or(all[0]);
                return Ok((best, strategy));
            }
            (_, None) => {
                let at: Vec<String> = all.iter().map(|i| (i + 1).to_string()).collect();
                return Err(BlockResult::Failed {
                    reason: format!(
                        "the SEARCH text occurs {} times (lines {}); add `:start_line:` to choose",
                        all.len(),
                        at.join(", ")
                    ),
                    best: None,
                });
            }
        }
    }
    // The most similar window of the same length: near the hint first, then
    // everywhere. A window whose length alone rules it out is skipped
    // (the edit distance is at least the difference in length).
    let wanted = block.search.join("\n");
    let wanted_len = wanted.chars().count();
    let mut best: Option<(usize, f64)> = None;
    if n <= lines.len() {
        let last = lines.len() - n;
        let consider = |i: usize, best: &mut Option<(usize, f64)>| {
            let window = lines[i..i + n].join("\n");
            let len = window.chars().count();
            let longest = len.max(wanted_len).max(1);
            let bound = 1.0 - len.abs_diff(wanted_len) as f64 / longest as f64;
            if best.is_some_and(|(_, b)| bound <= b) {
                return;
            }
            let s = similarity(&window, &wanted);
            if best.is_none_or(|(_, b)| s > b) {
                *best = Some((i, s));
            }
        };
        if let Some(hint) = block.start_line.map(|h| h - 1) {
            for i in hint.saturating_sub(NEARBY)..=(hint + NEARBY).min(last) {
                consider(i, &mut best);
            }
        }
        if best.is_none_or(|(_, b)| b < threshold) {
            for i in 0..=last {
                consider(i, &mut best);
            }
        }
    }
    match best {
        Some((i, s)) if s >= threshold && threshold < 1.0 => Ok((i, Strategy::Fuzzy(s))),
        Some((i, s)) => Err(BlockResult::Failed {
            reason: format!(
                "the SEARCH text was not found (best match {:.0}% similar at line {}, below the {:.0}% required)",
                s * 100.0,
                i + 1,
                threshold * 100.0
            ),
            best: Some((i + 1, s, lines[i..i + n].join("\n"))),
        }),
        None => Err(BlockResult::Failed {
            reason: "the SEARCH text is longer than the file".to_owned(),
            best: None,
        }),
    }
}

/// Applies every block it can to `text`; returns the new text and one result per block.
pub fn apply(text: &str, blocks: &[Block], threshold: f64) -> (String, Vec<BlockResult>) {
    let crlf = text.contains("\r\n");
    let trailing_newline = text.ends_with('\n');
    let body = text.strip_suffix('\n').unwrap_or(text);
    let mut lines: Vec<String> = if text.is_empty() {
        Vec::new()
    } else {
        body.split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned())
            .collect()
    };
    let mut results = Vec::with_capacity(blocks.len());
    for block in blocks {
        if block.search.iter().all(|l| l.trim().is_empty()) {
            results.push(BlockResult::Failed {
                reason: "the SEARCH text is empty; use write_file to create a file".into(),
                best: None,
            });
            continue;
        }
        if block.search == block.replace {
            results.push(BlockResult::Failed {
                reason: "SEARCH and REPLACE are identical; nothing would change".into(),
                best: None,
            });
            continue;
        }
        match locate(&lines, block, threshold) {
            Ok((at, strategy)) => {
                lines.splice(at..at + block.search.len(), block.replace.iter().cloned());
                results.push(BlockResult::Applied {
                    line: at + 1,
                    strategy,
                });
            }
            Err(failed) => results.push(failed),
        }
    }
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut out = lines.join(eol);
    if trailing_newline && !lines.is_empty() {
        out.push_str(eol);
    }
    (out, results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(start: Option<usize>, search: &str, replace: &str) -> String {
        let hint = start
            .map(|s| format!(":start_line:{s}\n-------\n"))
            .unwrap_or_default();
        format!("<<<<<<< SEARCH\n{hint}{search}\n=======\n{replace}\n>>>>>>> REPLACE\n")
    }

    const FILE: &str = "fn a() {\n    1\n}\n\nfn b() {\n    2\n}\n\nfn c() {\n    1\n}\n";

    #[test]
    fn parses_blocks_with_and_without_hints() {
        let d = format!(
            "{}{}",
            block(Some(2), "    1", "    10"),
            block(None, "x", "y")
        );
        let b = parse(&d).expect("parses");
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].start_line, Some(2));
        assert_eq!(b[1].search, vec!["x"]);
        assert!(parse("<<<<<<< SEARCH\nx\n").is_err());
        assert!(parse("nonsense").is_err());
        assert!(parse("<<<<<<< SEARCH\n:start_line:0\nx\n=======\ny\n>>>>>>> REPLACE").is_err());
    }

    #[test]
    fn hint_nearby_unique_ambiguous() {
        let blocks = parse(&block(Some(10), "    1", "    100")).expect("parses");
        let (out, r) = apply(FILE, &blocks, 1.0);
        assert_eq!(
            r,
            vec![BlockResult::Applied {
                line: 10,
                strategy: Strategy::ExactAtHint
            }]
        );
        assert!(out.contains("fn c() {\n    100\n}"));
        let blocks = parse(&block(Some(7), "    1", "    100")).expect("parses");
        let (_, r) = apply(FILE, &blocks, 1.0);
        assert_eq!(
            r,
            vec![BlockResult::Applied {
                line: 10,
                strategy: Strategy::Exact
            }],
            "nearest to the hint"
        );
        let blocks = parse(&block(None, "    1", "    100")).expect("parses");
        let (out, r) = apply(FILE, &blocks, 1.0);
        assert!(matches!(&r[0], BlockResult::Failed { reason, .. } if reason.contains("2 times")));
        assert_eq!(out, FILE);
    }

    #[test]
    fn one_bad_block_does_not_stop_the_others_and_reports_the_best_candidate() {
        let d = format!(
            "{}{}",
            block(None, "fn b() {\n    2\n}", "fn b() {\n    20\n}"),
            block(None, "fn b() {\n    2000\n}", "gone")
        );
        let (out, r) = apply(FILE, &parse(&d).expect("parses"), 1.0);
        assert!(matches!(r[0], BlockResult::Applied { line: 5, .. }));
        match &r[1] {
            BlockResult::Failed {
                best: Some((line, sim, text)),
                ..
            } => {
                assert_eq!(*line, 5);
                assert!(*sim > 0.7 && *sim < 1.0, "{sim}");
                assert!(text.starts_with("fn b()"));
            }
            other => panic!("{other:?}"),
        }
        assert!(out.contains("    20"));
    }

    #[test]
    fn whitespace_fuzzy_identical_crlf() {
        let (out, r) = apply(
            FILE,
            &parse(&block(None, "fn b() {  \n  2\n}", "fn b() { 3 }")).expect("p"),
            1.0,
        );
        assert!(matches!(
            r[0],
            BlockResult::Applied {
                strategy: Strategy::Whitespace,
                ..
            }
        ));
        assert!(out.contains("fn b() { 3 }\n"));
        let (_, r) = apply(
            FILE,
            &parse(&block(None, "fn bb() {\n    2\n}", "X")).expect("p"),
            1.0,
        );
        assert!(
            matches!(r[0], BlockResult::Failed { .. }),
            "exact only by default"
        );
        let (out, r) = apply(
            FILE,
            &parse(&block(None, "fn bb() {\n    2\n}", "X")).expect("p"),
            0.8,
        );
        assert!(
            matches!(r[0], BlockResult::Applied { strategy: Strategy::Fuzzy(s), .. } if s > 0.8)
        );
        assert!(out.contains("\nX\n"));
        let (_, r) = apply(
            FILE,
            &parse(&block(None, "    2", "    2")).expect("p"),
            1.0,
        );
        assert!(
            matches!(&r[0], BlockResult::Failed { reason, .. } if reason.contains("identical"))
        );
        let crlf = FILE.replace('\n', "\r\n");
        let (out, r) = apply(
            &crlf,
            &parse(&block(Some(6), "    2", "    22")).expect("p"),
            1.0,
        );
        assert!(matches!(r[0], BlockResult::Applied { .. }));
        assert_eq!(
            out,
            FILE.replace("    2\n", "    22\n").replace('\n', "\r\n")
        );
    }
}
