//! In-process benchmarks (divan): document edits, apply_diff, store appends.
//! Each checks its result so it cannot be fast by doing nothing.

#![allow(clippy::unwrap_used)]

use codelab_agent::documents::{Change, Documents, Pos, PositionEncoding};

fn main() {
    divan::main();
}

fn document(lines: usize) -> String {
    (0..lines)
        .map(|i| format!("line {i}: some text with ünïcode 😀 and more\n"))
        .collect()
}

/// 10,000 incremental edits at spread positions on a 100,000-line document.
#[divan::bench(sample_count = 10)]
fn did_change_10k_edits_on_100k_lines(b: divan::Bencher) {
    let text = document(100_000);
    b.with_inputs(|| {
        let mut docs = Documents::default();
        docs.open("file:///big".into(), "text".into(), 1, &text);
        docs
    })
    .bench_local_values(|mut docs| {
        for i in 0..10_000u32 {
            let line = (i * 7919) % 100_000;
            let c = Change {
                range: Some((Pos { line, character: 5 }, Pos { line, character: 6 })),
                text: "X".into(),
            };
            docs.change(
                "file:///big",
                i as i32 + 2,
                std::slice::from_ref(&c),
                PositionEncoding::Utf16,
            );
        }
        let len = docs.get("file:///big").unwrap().text.len_chars();
        assert_eq!(
            len,
            text.chars().count(),
            "each edit replaced one char with one char"
        );
        docs
    });
}

fn diff_blocks(file: &str, fuzzy: bool) -> String {
    let lines: Vec<&str> = file.lines().collect();
    let mut d = String::new();
    for k in 0..20 {
        let at = k * 490 + 3;
        let search: Vec<String> = lines[at..at + 3]
            .iter()
            .map(|l| {
                if fuzzy {
                    l.replacen("text", "txet", 1)
                } else {
                    (*l).to_owned()
                }
            })
            .collect();
        d.push_str(&format!(
            "<<<<<<< SEARCH\n:start_line:{}\n-------\n{}\n=======\nreplaced {k}\n>>>>>>> REPLACE\n",
            at + 1,
            search.join("\n")
        ));
    }
    d
}

/// apply_diff with 20 blocks on a 10,000-line file, exact matches.
#[divan::bench(args = [false, true], sample_count = 10)]
fn apply_diff_20_blocks_on_10k_lines(b: divan::Bencher, fuzzy: bool) {
    let file = document(10_000);
    let blocks = codelab_agent::diff::parse(&diff_blocks(&file, fuzzy)).unwrap();
    let threshold = if fuzzy { 0.9 } else { 1.0 };
    b.bench(|| {
        let (out, results) = codelab_agent::diff::apply(&file, &blocks, threshold);
        let applied = results
            .iter()
            .filter(|r| matches!(r, codelab_agent::diff::BlockResult::Applied { .. }))
            .count();
        assert_eq!(applied, 20);
        out.len()
    });
}
