//! The VS Code extension (`editors/vscode`) in a real VS Code.
//!
//! `scripts/vscode-deps.sh` installs, outside the clone, Node 24, code-server,
//! Debian's Chromium and the extension's npm packages. Then, in a copy of the
//! extension in a temporary folder (nothing is written into the clone): the
//! type check, the unit tests (Node's test runner), the bundle (esbuild) and
//! the `.vsix` (`@vscode/vsce`); and `test/e2e/run.mjs`, which installs that
//! `.vsix` into code-server and drives it with Playwright against the real
//! binary and the mock LLM process. Every step is bounded in time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use support::host::{copy_dir, mock_llm_bin, repo, run_bounded};

#[test]
fn the_extension_works_in_a_real_vscode() {
    let deps = run_bounded(
        "scripts/vscode-deps.sh",
        2400,
        Command::new("bash").arg(repo().join("scripts/vscode-deps.sh")),
    );
    let deps: HashMap<&str, &str> = deps.lines().filter_map(|l| l.split_once('=')).collect();
    let get = |k: &str| -> PathBuf {
        let v = deps
            .get(k)
            .unwrap_or_else(|| panic!("vscode-deps.sh did not print {k}"));
        PathBuf::from(v)
    };
    let (node, modules) = (get("NODE"), get("EXT_MODULES"));
    let path = format!(
        "{}:{}",
        node.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );

    // The extension and the protocol types it imports, copied side by side.
    let work = tempfile::tempdir().unwrap();
    let ext = work.path().join("editors/vscode");
    copy_dir(&repo().join("editors/vscode"), &ext, &|name| {
        name == "node_modules" || name == "dist" || name.ends_with(".vsix")
    });
    std::fs::create_dir_all(work.path().join("protocol")).unwrap();
    std::fs::copy(
        repo().join("protocol/codelab-protocol.ts"),
        work.path().join("protocol/codelab-protocol.ts"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&modules, ext.join("node_modules")).unwrap();
    let npx = |what: &str, secs: u32, args: &[&str]| {
        run_bounded(
            what,
            secs,
            Command::new(&node)
                .args(args)
                .current_dir(&ext)
                .env("PATH", &path),
        )
    };

    npx(
        "the type check",
        300,
        &["node_modules/typescript/bin/tsc", "--noEmit", "-p", "."],
    );
    let unit = npx(
        "the unit tests",
        300,
        &["--test", "--test-reporter=tap", "test/unit/*.test.ts"],
    );
    let passed = unit
        .lines()
        .find_map(|l| l.strip_prefix("# pass "))
        .and_then(|n| n.trim().parse::<usize>().ok());
    assert!(
        passed.is_some_and(|n| n >= 10),
        "fewer unit tests passed than there are:\n{unit}"
    );
    assert!(unit.contains("# fail 0"), "{unit}");

    npx("the bundle", 300, &["build.mjs"]);
    let vsix = work.path().join("codelab.vsix");
    npx(
        "vsce package",
        300,
        &[
            "node_modules/@vscode/vsce/vsce",
            "package",
            "--no-dependencies",
            "--allow-missing-repository",
            "--skip-license",
            "--no-rewrite-relative-links",
            "-o",
            vsix.to_str().unwrap(),
        ],
    );
    assert!(vsix.is_file(), "no .vsix was written");

    let mut e2e = Command::new(&node);
    // Where the e2e test saves its screenshots (the README's, and the page
    // when it fails), if you want them.
    if let Some(dir) = std::env::var_os("CODELAB_VSCODE_SCREENSHOTS") {
        e2e.env("SCREENSHOTS", dir);
    }
    let out = run_bounded(
        "the end-to-end test in code-server",
        900,
        e2e.arg(ext.join("test/e2e/run.mjs"))
            .current_dir(&ext)
            .env("PATH", &path)
            .env("CODELAB_BIN", env!("CARGO_BIN_EXE_codelab-agent"))
            .env("MOCK_LLM_BIN", mock_llm_bin())
            .env("CODE_SERVER", get("CODE_SERVER"))
            .env("CHROMIUM", get("CHROMIUM"))
            .env("VSIX", &vsix)
            .env("WORK", work.path().join("e2e"))
            .env_remove("CODELAB_DAEMON_VERSION_OVERRIDE")
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY"),
    );
    assert!(out.contains("PASS"), "{out}");
}
