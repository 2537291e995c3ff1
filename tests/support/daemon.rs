//! The daemon of a test's data dir, through the real binary's `daemon`
//! commands, the process list and the daemon's own lock.

#![allow(dead_code, clippy::unwrap_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use codelab_agent::daemon::Paths;
use codelab_agent::daemon::handshake::Status;

use super::{TIMEOUT, command};

/// The idle exit of test daemons, in seconds: a backstop (every test stops
/// its daemon, also when it fails, through a [`Guard`]), long enough that no
/// daemon exits between two steps of a test.
pub const TEST_IDLE_SECS: &str = "30";

/// `codelab-agent --data-dir D daemon ARGS`, with the environment test
/// clients have plus `env`.
pub async fn cli(data_dir: &Path, args: &[&str], env: &[(&str, String)]) -> std::process::Output {
    let mut cmd = command(data_dir);
    cmd.arg("daemon")
        .args(args)
        .stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::time::timeout(TIMEOUT, cmd.output())
        .await
        .expect("the daemon command ends")
        .expect("run the daemon command")
}

/// `daemon status --json`: `None` when no daemon runs (exit code 3).
pub async fn status(data_dir: &Path) -> Option<Status> {
    status_env(data_dir, &[]).await
}

/// [`status`] with extra environment variables.
pub async fn status_env(data_dir: &Path, env: &[(&str, String)]) -> Option<Status> {
    let out = cli(data_dir, &["status", "--json"], env).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => Some(serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "status output: {e}: {}\n{stderr}",
                String::from_utf8_lossy(&out.stdout)
            )
        })),
        Some(3) => {
            assert!(out.stdout.is_empty());
            assert!(stderr.contains("no daemon is running"), "{stderr}");
            None
        }
        other => panic!("daemon status exited with {other:?}: {stderr}"),
    }
}

/// `daemon stop --force`, which waits until the daemon has exited; returns
/// the pid it stopped.
pub async fn stop(data_dir: &Path) -> Option<u32> {
    stop_env(data_dir, &[]).await
}

/// [`stop`] with extra environment variables.
pub async fn stop_env(data_dir: &Path, env: &[(&str, String)]) -> Option<u32> {
    let out = cli(data_dir, &["stop", "--force"], env).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "daemon stop: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid = stdout
        .split("stopped the daemon (pid ")
        .nth(1)
        .map(|r| r.trim_end_matches([')', '\n']).parse().unwrap());
    if let Some(pid) = pid {
        wait_pid_gone(pid).await;
        assert!(!pids(data_dir).contains(&pid));
    }
    pid
}

/// Waits until process `pid` has ended (gone, or a zombie nobody reaped
/// yet). `daemon stop` returns once the daemon released its lock, which the
/// kernel does while the process exits, a moment before it is a zombie.
/// The daemon's status once it counts no editor connection: a forwarder
/// that exited closed its socket, but the daemon sees the end of that
/// connection a moment later (20 s at most).
pub async fn status_when_idle(data_dir: &Path) -> Option<Status> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let s = status(data_dir).await;
        if s.as_ref().is_none_or(|s| s.connections == 0) || tokio::time::Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

pub async fn wait_pid_gone(pid: u32) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| s.rsplit(") ").next().and_then(|r| r.chars().next()));
        if matches!(state, None | Some('Z' | 'X')) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "process {pid} did not exit"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The daemon's files for a test data dir (the socket directory in the data
/// dir, as test clients run without `XDG_RUNTIME_DIR`).
pub fn paths(data_dir: &Path) -> Paths {
    Paths::locate(data_dir.canonicalize().unwrap(), None)
}

/// Waits until the daemon that holds the data dir's daemon lock has exited
/// (the kernel releases the lock when the process ends, however it ends).
pub async fn wait_exited(paths: &Paths) {
    let lock = paths.lock.clone();
    let held = tokio::task::spawn_blocking(move || {
        codelab_agent::daemon::lock::lock_within(&lock, TIMEOUT).unwrap()
    })
    .await
    .unwrap()
    .unwrap_or_else(|| panic!("the daemon holding {} did not exit", paths.lock.display()));
    drop(held);
}

/// The pids of live `codelab-agent daemon run` processes for `data_dir`,
/// from the process list (zombies are not alive).
pub fn pids(data_dir: &Path) -> Vec<u32> {
    let dir = data_dir
        .canonicalize()
        .unwrap_or_else(|_| data_dir.to_path_buf());
    let dir = dir.as_os_str().as_encoded_bytes();
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_daemon = args.windows(2).any(|w| w[0] == b"daemon" && w[1] == b"run")
            && args.contains(&dir)
            && args.first().is_some_and(|a| a.ends_with(b"codelab-agent"));
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|s| s.rsplit(") ").next().map(|r| r.starts_with('Z')))
            .unwrap_or(true);
        if is_daemon && !zombie {
            out.push(pid);
        }
    }
    out
}

/// The daemon's log so far.
pub fn log(data_dir: &Path) -> String {
    std::fs::read_to_string(data_dir.join(codelab_agent::daemon::paths::LOG_FILE))
        .unwrap_or_default()
}

/// Waits until the daemon's log contains `needle` (the log is a file the
/// daemon appends to: it is read again until the line is there).
pub async fn wait_for_log(data_dir: &Path, needle: &str) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        if log(data_dir).contains(needle) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the daemon never logged {needle:?}; log:\n{}",
            log(data_dir)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Stops the data dir's daemon when dropped, also when the test fails: no
/// test leaves a daemon behind.
pub struct Guard {
    data_dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Guard {
    /// For a data dir whose clients run with the test defaults.
    pub fn new(data_dir: &Path) -> Self {
        Self::with_env(data_dir, &[])
    }

    /// For a data dir whose clients run with `env` (`XDG_RUNTIME_DIR`).
    pub fn with_env(data_dir: &Path, env: &[(&str, String)]) -> Self {
        Self {
            data_dir: data_dir.to_path_buf(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let mut cmd = std::process::Command::new(super::binary());
        cmd.arg("--data-dir")
            .arg(&self.data_dir)
            .args(["daemon", "stop", "--force"])
            .env_remove("XDG_RUNTIME_DIR")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Err(e) = cmd.status() {
            eprintln!("cannot stop the test daemon: {e}");
        }
    }
}
