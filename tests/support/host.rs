//! What the suites that drive outside programs (Node, Neovim, Chromium,
//! code-server) share: the repository, the mock model's binary, bounded runs
//! and copies of source folders.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `mock-llm` binary beside the test binary (`scripts/test.sh` builds it
/// first: `cargo build -p mock-llm --bins`).
pub fn mock_llm_bin() -> PathBuf {
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

/// Runs `cmd` under coreutils' `timeout` (`secs`, then SIGKILL 10 s later);
/// its stdout, or a panic with its output on failure.
pub fn run_bounded(what: &str, secs: u32, cmd: &mut Command) -> String {
    let mut bounded = Command::new("timeout");
    bounded
        .arg("--kill-after=10")
        .arg(secs.to_string())
        .arg(cmd.get_program())
        .args(cmd.get_args());
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

/// The last line a script of the repository prints (what it installed),
/// which must succeed.
pub fn script_output(script: &str, args: &[&str]) -> String {
    let out = Command::new("bash")
        .arg(repo().join(script))
        .args(args)
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{script} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Copies `from` into `to`, leaving out the entries (at any depth) `skip`
/// names.
pub fn copy_dir(from: &Path, to: &Path, skip: &dyn Fn(&str) -> bool) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if skip(&name.to_string_lossy()) {
            continue;
        }
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&path, &to.join(&name), skip);
        } else {
            std::fs::copy(&path, to.join(&name)).unwrap();
        }
    }
}
