//! Running commands so that they never hang the agent and never leave a
//! process behind.
//!
//! Every command is started through the launcher ([`launcher`], a hidden
//! mode of the binary, `codelab-agent __launch SPEC`): a child subreaper
//! that leads the command's process group, ends every descendant when the
//! command's shell exits (also those that left the group with `setsid` or a
//! double fork), passes `SIGTERM` on and `SIGKILL`s after a grace, and, for a
//! sandboxed command, sets up the namespaces and Landlock ([`sandbox`]).
//!
//! [`spawn`] starts one and hands back a [`Spawned`]: a supervisor task owns
//! the child and two pumps read its stdout and stderr into a bounded
//! [`OutputLog`] (the beginning and the end are kept). A command is complete
//! when its own process exits: what is still in the pipes is drained for
//! [`DRAIN`] at most, then the result is final, whatever a stray descendant
//! still holds open. [`Spawned::stop`] asks it to stop (`SIGTERM` to the
//! group, which the launcher passes on; `SIGKILL` after the grace), and a
//! [`StopOnDrop`] guard stops a foreground command whose tool call is
//! dropped (a cancelled turn). Background commands live in [`Processes`].
//!
//! When the binary cannot act as the launcher (an embedding process, unit
//! tests), commands run as `sh -c` directly in their own process group: the
//! group is still killed, but descendants that leave it are not found, and
//! nothing is sandboxed ([`Launcher::direct`]).

pub mod background;
mod cgroup;
pub mod launcher;
pub mod output;
pub mod sandbox;

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use background::{BackgroundInfo, ProcessError, Processes};
pub use launcher::LaunchSpec;
pub use output::OutputLog;
pub use sandbox::{SandboxSpec, Support};

/// How long output still in the pipes is read after the command's process
/// exited.
pub const DRAIN: Duration = Duration::from_millis(300);
/// How long the server waits, beyond the grace, for a launcher asked to stop
/// before it kills the group itself.
const LAUNCHER_MARGIN: Duration = Duration::from_millis(500);

/// How commands are started here.
#[derive(Debug, Clone)]
pub struct Launcher {
    exe: Option<PathBuf>,
    support: Support,
}

impl Launcher {
    /// Commands run as `sh -c` directly, unsandboxed.
    pub fn direct(reason: &str) -> Self {
        Self {
            exe: None,
            support: Support::Unavailable(reason.to_owned()),
        }
    }

    /// Commands run through `exe __launch`; probes whether the launcher
    /// works and whether it can sandbox (a sandboxed `echo` must run).
    /// Blocks for as long as the probes take (milliseconds).
    pub fn detect(exe: PathBuf, tmp: &std::path::Path) -> Self {
        let plain = LaunchSpec {
            command: format!("echo {}", launcher::PROBE_OK),
            cwd: tmp.to_path_buf(),
            grace_ms: 100,
            sandbox: None,
            init: false,
            exec: false,
            max_processes: 0,
            private_tmp: false,
        };
        if let Err(why) = probe(&exe, &plain) {
            tracing::warn!(exe = %exe.display(), "the command launcher does not work ({why}); commands run directly, unsandboxed");
            return Self::direct(&format!("the command launcher does not work: {why}"));
        }
        let sandboxed = LaunchSpec {
            sandbox: Some(SandboxSpec {
                writable: vec![],
                read_only: vec![],
                network: false,
                tmpdir: tmp.to_path_buf(),
                mask_ignored: None,
                absent: vec![],
            }),
            ..plain
        };
        let support = match probe(&exe, &sandboxed) {
            Ok(()) => Support::Available,
            Err(why) => Support::Unavailable(why),
        };
        Self {
            exe: Some(exe),
            support,
        }
    }

    /// Whether commands can be sandboxed, and why not.
    pub fn support(&self) -> &Support {
        &self.support
    }

    /// Whether descendants that leave the process group are found too.
    pub fn supervised(&self) -> bool {
        self.exe.is_some()
    }
}

/// Runs a probe launch to completion (10 s at most).
fn probe(exe: &std::path::Path, spec: &LaunchSpec) -> Result<(), String> {
    let json = serde_json::to_string(spec).map_err(|e| e.to_string())?;
    let mut child = std::process::Command::new(exe)
        .arg(launcher::LAUNCH_ARG)
        .arg(json)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("the probe did not finish".into());
            }
        }
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() && stdout.trim() == launcher::PROBE_OK {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let why = stderr
        .lines()
        .find_map(|l| l.strip_prefix("codelab-agent launcher: "))
        .map_or_else(
            || format!("the probe failed ({})", out.status),
            str::to_owned,
        );
    Err(why)
}

/// A command to start.
#[derive(Debug, Clone)]
pub struct Start {
    /// The command line (`sh -c`).
    pub command: String,
    /// Its working directory.
    pub cwd: PathBuf,
    /// Between `SIGTERM` and `SIGKILL`.
    pub grace: Duration,
    /// The sandbox, if it runs in one.
    pub sandbox: Option<SandboxSpec>,
    /// Bytes of output kept (head and tail).
    pub output_cap: usize,
    /// Processes it may run at once (0: no limit).
    pub max_processes: u64,
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// Its exit code (`128 + N` when signal N killed it); `None` when the
    /// launcher itself was killed.
    pub code: Option<i32>,
    /// Whether it was asked to stop.
    pub stopped: bool,
}

/// Live output, for a foreground command's clients: (stream, text).
pub type Sink = Arc<dyn Fn(&'static str, String) + Send + Sync>;

/// A started command.
#[derive(Clone)]
pub struct Spawned {
    /// The launcher's pid, which is also the process group.
    pub pid: u32,
    output: Arc<Mutex<OutputLog>>,
    written: watch::Receiver<u64>,
    exit: watch::Receiver<Option<Exit>>,
    stop: CancellationToken,
}

impl std::fmt::Debug for Spawned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spawned")
            .field("pid", &self.pid)
            .field("exit", &*self.exit.borrow())
            .finish_non_exhaustive()
    }
}

/// The program and arguments that run `start`'s command as [`spawn`] does:
/// `exe __launch SPEC` (supervised, and sandboxed when `start` says so) when
/// there is a launcher, else `sh -c COMMAND`. For a command another process
/// starts: an ACP client's terminal.
///
/// # Errors
/// When the launch spec cannot be encoded.
pub fn argv(launcher: &Launcher, start: &Start) -> std::io::Result<(PathBuf, Vec<String>)> {
    match &launcher.exe {
        Some(exe) => {
            let spec = LaunchSpec {
                command: start.command.clone(),
                cwd: start.cwd.clone(),
                grace_ms: u64::try_from(start.grace.as_millis()).unwrap_or(u64::MAX),
                sandbox: start.sandbox.clone(),
                init: false,
                exec: false,
                max_processes: start.max_processes,
                private_tmp: false,
            };
            let json = serde_json::to_string(&spec).map_err(std::io::Error::other)?;
            Ok((exe.clone(), vec![launcher::LAUNCH_ARG.to_owned(), json]))
        }
        None => Ok((
            PathBuf::from("sh"),
            vec!["-c".to_owned(), start.command.clone()],
        )),
    }
}

/// Starts a command; `sink` receives its live output.
///
/// # Errors
/// When the process cannot be started.
pub fn spawn(launcher: &Launcher, start: Start, sink: Option<Sink>) -> std::io::Result<Spawned> {
    let (program, args) = argv(launcher, &start)?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args);
    let mut child = cmd
        .current_dir(&start.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let pid = child.id().unwrap_or(0);
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(std::io::Error::other("the command's output cannot be read"));
    };
    let output = Arc::new(Mutex::new(OutputLog::new(start.output_cap)));
    let (written_tx, written) = watch::channel(0u64);
    let written_tx = Arc::new(written_tx);
    let (exit_tx, exit) = watch::channel(None);
    let stop = CancellationToken::new();
    let pumps = [
        tokio::spawn(pump(
            stdout,
            "stdout",
            Arc::clone(&output),
            Arc::clone(&written_tx),
            sink.clone(),
        )),
        tokio::spawn(pump(
            stderr,
            "stderr",
            Arc::clone(&output),
            written_tx,
            sink,
        )),
    ];
    let grace = start.grace;
    let stopping = stop.clone();
    tokio::spawn(async move {
        let status = tokio::select! {
            s = child.wait() => s,
            () = stopping.cancelled() => {
                signal_group(pid, Signal::SIGTERM);
                match tokio::time::timeout(grace + LAUNCHER_MARGIN, child.wait()).await {
                    Ok(s) => s,
                    Err(_) => {
                        signal_group(pid, Signal::SIGKILL);
                        cgroup::kill_all(pid);
                        child.wait().await
                    }
                }
            }
        };
        tracing::debug!(pid, ?status, "command exited");
        cgroup::remove_for(pid);
        // Whatever is left of the group goes with it (the launcher already
        // ended its descendants; without it, this is all there is).
        signal_group(pid, Signal::SIGKILL);
        let [a, b] = pumps;
        let (abort_a, abort_b) = (a.abort_handle(), b.abort_handle());
        if tokio::time::timeout(DRAIN, async {
            let _ = a.await;
            let _ = b.await;
        })
        .await
        .is_err()
        {
            abort_a.abort();
            abort_b.abort();
        }
        let code = status.ok().and_then(|s| {
            use std::os::unix::process::ExitStatusExt;
            s.code().or_else(|| s.signal().map(|n| 128 + n))
        });
        tracing::debug!(pid, ?code, "command output drained");
        let _ = exit_tx.send(Some(Exit {
            code,
            stopped: stopping.is_cancelled(),
        }));
    });
    tracing::debug!(pid, command = %start.command, sandboxed = start.sandbox.is_some(), "command started");
    Ok(Spawned {
        pid,
        output,
        written,
        exit,
        stop,
    })
}

fn signal_group(pid: u32, sig: Signal) {
    if let Ok(p) = i32::try_from(pid)
        && p > 0
    {
        let _ = killpg(Pid::from_raw(p), sig);
    }
}

async fn pump(
    mut from: impl AsyncRead + Unpin,
    stream: &'static str,
    output: Arc<Mutex<OutputLog>>,
    written: Arc<watch::Sender<u64>>,
    sink: Option<Sink>,
) {
    let mut buf = vec![0u8; 8192];
    let mut pending = Vec::new();
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let total = {
                    let mut log = output.lock().unwrap_or_else(PoisonError::into_inner);
                    log.push(&buf[..n]);
                    log.total()
                };
                written.send_replace(total);
                if let Some(sink) = &sink {
                    pending.extend_from_slice(&buf[..n]);
                    let text = output::take_text(&mut pending);
                    if !text.is_empty() {
                        sink(stream, text);
                    }
                }
            }
        }
    }
    if let Some(sink) = &sink
        && !pending.is_empty()
    {
        sink(stream, String::from_utf8_lossy(&pending).into_owned());
    }
}

impl Spawned {
    /// Asks the command to stop: `SIGTERM` to its group (passed on to every
    /// descendant by the launcher), `SIGKILL` after the grace.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// How it ended, once it did (and its output was drained).
    pub fn exit(&self) -> Option<Exit> {
        *self.exit.borrow()
    }

    /// Waits until it ended and its output was drained.
    pub async fn wait(&self) -> Exit {
        let mut rx = self.exit.clone();
        loop {
            if let Some(e) = *rx.borrow_and_update() {
                return e;
            }
            if rx.changed().await.is_err() {
                return Exit {
                    code: None,
                    stopped: true,
                };
            }
        }
    }

    /// Everything kept of its output.
    pub fn render(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .render()
    }

    /// Output from `offset` on (see [`OutputLog::since`]).
    pub fn since(&self, offset: u64) -> (String, u64) {
        self.output
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .since(offset)
    }

    /// Waits until more than `seen` bytes were written, or it ended.
    pub async fn more_than(&self, seen: u64) {
        let mut w = self.written.clone();
        let mut e = self.exit.clone();
        loop {
            if *w.borrow_and_update() > seen || e.borrow_and_update().is_some() {
                return;
            }
            tokio::select! {
                r = w.changed() => if r.is_err() { return },
                r = e.changed() => if r.is_err() { return },
            }
        }
    }
}

/// Stops a foreground command when dropped before it ended (its tool call
/// was dropped: the turn was cancelled).
#[derive(Debug)]
pub struct StopOnDrop(pub Spawned);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if self.0.exit().is_none() {
            self.0.stop();
        }
    }
}

/// What the command tools need: how to start a command, the session's
/// background commands, and the sandbox this call runs in.
#[derive(Debug, Clone)]
pub struct CommandEnv {
    /// How commands start here.
    pub launcher: Arc<Launcher>,
    /// Every session's background commands.
    pub processes: Arc<Processes>,
    /// The sandbox this call's command runs in; `None`: unsandboxed.
    pub sandbox: Option<SandboxSpec>,
    /// Between `SIGTERM` and `SIGKILL` when a command is stopped.
    pub grace: Duration,
    /// Processes a command may run at once (see [`Start::max_processes`]).
    pub max_processes: u64,
}

/// Processes a command may run at once by default: a fork bomb stops here.
pub const DEFAULT_MAX_PROCESSES: u64 = 4096;

/// The default grace between `SIGTERM` and `SIGKILL`.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(2);

impl Default for CommandEnv {
    /// Commands run directly and unsandboxed (tests, embedding).
    fn default() -> Self {
        Self {
            launcher: Arc::new(Launcher::direct("no launcher configured")),
            processes: Arc::new(Processes::default()),
            sandbox: None,
            grace: DEFAULT_GRACE,
            max_processes: DEFAULT_MAX_PROCESSES,
        }
    }
}
