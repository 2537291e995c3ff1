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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn mock_llm_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("mock-llm"))
        .unwrap_or_default();
    assert!(
        bin.exists(),
        "build it first: cargo build -p mock-llm --bins ({} missing)",
        bin.display()
    );
    bin
}

/// Runs `cmd` under coreutils' `timeout`; panics with its output on failure.
fn run(what: &str, secs: u32, cmd: &mut Command) -> String {
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(ToOwned::to_owned).collect();
    let mut bounded = Command::new("timeout");
    bounded
        .arg("--kill-after=10")
        .arg(secs.to_string())
        .arg(program)
        .args(args);
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => bounded.env(k, v),
            None => bounded.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        bounded.current_dir(dir);
    }
    let out = bounded
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "node_modules" || name == "dist" || name.to_string_lossy().ends_with(".vsix") {
            continue;
        }
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&path, &to.join(&name));
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}

#[test]
fn the_extension_works_in_a_real_vscode() {
    let deps = run(
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
    copy_dir(&repo().join("editors/vscode"), &ext);
    std::fs::create_dir_all(work.path().join("protocol")).unwrap();
    std::fs::copy(
        repo().join("protocol/codelab-protocol.ts"),
        work.path().join("protocol/codelab-protocol.ts"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&modules, ext.join("node_modules")).unwrap();
    let npx = |what: &str, secs: u32, args: &[&str]| {
        run(
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
    let out = run(
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
