//! The layering of ARCHITECTURE.md holds in the code: a module imports only
//! from its own layer or the ones below, and no two modules import each
//! other, directly or around a loop.
//!
//! The layer table is read from ARCHITECTURE.md itself (the rows of the
//! "Layers" table whose first cell is a number), so the document and the
//! code cannot drift apart.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `module -> layer`, from ARCHITECTURE.md.
fn layers() -> BTreeMap<String, u32> {
    let doc = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let section = doc
        .split("\n## Layers")
        .nth(1)
        .expect("ARCHITECTURE.md has a `## Layers` section");
    let mut out = BTreeMap::new();
    for line in section.lines().take_while(|l| !l.starts_with("## ")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() < 3 {
            continue;
        }
        let Ok(layer) = cells[1].parse::<u32>() else {
            continue;
        };
        for module in cells[2].split('`').skip(1).step_by(2) {
            assert!(
                out.insert(module.to_owned(), layer).is_none(),
                "{module} is in two layers"
            );
        }
    }
    assert!(out.len() > 10, "the layer table was not found: {out:?}");
    out
}

/// Every `.rs` file below `dir`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None` for the crate
/// roots).
fn module_of(file: &Path) -> Option<String> {
    let rel = file.strip_prefix(root().join("src")).unwrap();
    let first = rel.components().next()?.as_os_str().to_str()?.to_owned();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_owned();
    (name != "lib" && name != "main").then_some(name)
}

/// The modules a file names as `crate::x`, outside comments.
fn imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let code = strip_strings(line.split("//").next().unwrap_or(""));
        let mut rest = code.as_str();
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let len = name.len();
            if !name.is_empty() {
                out.insert(name);
            } else if after.starts_with('{') {
                // `use crate::{a, b::c}`: the top-level names in the braces.
                let inner = &after[1..after.find('}').unwrap_or(after.len())];
                for part in inner.split(',') {
                    let n: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !n.is_empty() {
                        out.insert(n);
                    }
                }
            }
            rest = &after[len..];
        }
    }
    out
}

/// A line without its string literals (`"..."`, escapes honoured).
fn strip_strings(line: &str) -> String {
    let mut out = String::new();
    let mut in_str = false;
    let mut escaped = false;
    for c in line.chars() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
        } else if c == '"' {
            in_str = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// `module -> modules it imports`, over all of `src/`.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut all = Vec::new();
    files(&root().join("src"), &mut all);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in all {
        let Some(m) = module_of(&f) else { continue };
        let text = std::fs::read_to_string(&f).unwrap();
        let deps = g.entry(m.clone()).or_default();
        for i in imports(&text) {
            if i != m {
                deps.insert(i);
            }
        }
    }
    g
}

#[test]
fn every_module_is_in_a_layer_and_imports_only_downward() {
    let layers = layers();
    let g = graph();
    let mut problems = Vec::new();
    for (m, deps) in &g {
        let Some(&lm) = layers.get(m) else {
            problems.push(format!(
                "module `{m}` is not in ARCHITECTURE.md's layer table"
            ));
            continue;
        };
        for d in deps {
            match layers.get(d) {
                Some(&ld) if ld > lm => problems.push(format!(
                    "`{m}` (layer {lm}) imports `{d}` (layer {ld}), a layer above it"
                )),
                Some(_) => {}
                None => problems.push(format!("`{m}` imports `{d}`, which is in no layer")),
            }
        }
    }
    for m in layers.keys() {
        if !g.contains_key(m) {
            problems.push(format!(
                "ARCHITECTURE.md names `{m}`, which is not a module"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_module_imports_itself_around_a_loop() {
    let g = graph();
    // Depth-first search for a back edge; report the loop it closes.
    fn visit<'a>(
        m: &'a str,
        g: &'a BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
        loops: &mut Vec<String>,
    ) {
        if let Some(at) = path.iter().position(|x| *x == m) {
            let mut cycle: Vec<&str> = path[at..].to_vec();
            cycle.push(m);
            loops.push(cycle.join(" -> "));
            return;
        }
        if done.contains(m) {
            return;
        }
        path.push(m);
        for d in g.get(m).into_iter().flatten() {
            if g.contains_key(d) {
                visit(d, g, path, done, loops);
            }
        }
        path.pop();
        done.insert(m);
    }
    let mut loops = Vec::new();
    let mut done = BTreeSet::new();
    for m in g.keys() {
        visit(m, &g, &mut Vec::new(), &mut done, &mut loops);
    }
    assert!(loops.is_empty(), "import loops:\n{}", loops.join("\n"));
}

#[test]
fn the_import_reader_sees_what_it_must() {
    let text = "use crate::a::X;\nuse crate::{b, c::D};\n// use crate::comment;\nlet x = crate::e::f();\nlet s = \"use crate::in_a_string;\";";
    let got: Vec<String> = imports(text).into_iter().collect();
    assert_eq!(got, ["a", "b", "c", "e"]);
}
