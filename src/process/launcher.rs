//! The launcher: a hidden mode of the binary itself (`codelab-agent __launch
//! SPEC`) that the server runs for every command, so that process set-up
//! needs no `unsafe` (`pre_exec` would).
//!
//! It runs in two stages:
//!
//! 1. **The supervisor**, the server's direct child and the leader of the
//!    command's process group. It makes itself a *child subreaper*, so every
//!    descendant that is orphaned (a double fork, `setsid`) is re-parented to
//!    it rather than to init; it blocks `SIGTERM`/`SIGINT`/`SIGHUP` and reads
//!    them (and `SIGCHLD`) from a `signalfd`. When the sandbox is on it
//!    first unshares a user, PID, mount and (network off) network namespace.
//!    It then starts its one child: `sh -c COMMAND`, or stage 2.
//! 2. **The init** (sandbox only), PID 1 of the new PID namespace: it mounts
//!    a fresh `/proc`, bind-mounts the protected paths read-only, restricts
//!    itself with Landlock (see [`super::sandbox`]) and starts `sh -c
//!    COMMAND`. When it exits, the kernel kills every process left in the
//!    namespace.
//!
//! Both stages run the same loop ([`supervise`]): wait for the child; on
//! `SIGTERM` (a timeout, a cancel, the server going away: the supervisor's
//! parent-death signal) pass `SIGTERM` on to every descendant and, after the
//! grace, `SIGKILL`; when the child exits, `SIGKILL` every descendant that is
//! left (found through `/proc`), reap them all, and exit with the child's
//! status (`128 + signal` when it was killed). So a command never leaves a
//! process behind, whatever it forks.
//!
//! The launcher writes nothing to its stdout; set-up failures go to stderr,
//! prefixed `codelab-agent launcher:`, where the command's output is read,
//! and end it with [`SETUP_FAILED`].

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::sandbox::{self, SandboxSpec};

/// The first argument that selects the launcher mode.
pub const LAUNCH_ARG: &str = "__launch";
/// The exit code of a launcher whose set-up failed (as `env` and `timeout` do).
pub const SETUP_FAILED: u8 = 125;
/// What a probe launch prints on success.
pub const PROBE_OK: &str = "codelab-launcher-ok";

/// What the server asks the launcher to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchSpec {
    /// The command line, run by `sh -c`.
    pub command: String,
    /// The working directory.
    pub cwd: PathBuf,
    /// Milliseconds between `SIGTERM` and `SIGKILL`.
    pub grace_ms: u64,
    /// The sandbox, if the command runs in one.
    #[serde(default)]
    pub sandbox: Option<SandboxSpec>,
    /// Stage 2: this launcher is the init of the sandbox's PID namespace.
    #[serde(default)]
    pub init: bool,
    /// The last step: unblock every signal and become `sh -c COMMAND`. (A
    /// supervisor blocks the signals it reads from its signalfd, and a
    /// child inherits that mask; without `pre_exec`, which is `unsafe`, a
    /// fresh process of our own is how the shell starts with none blocked.)
    #[serde(default)]
    pub exec: bool,
    /// Processes the command may run at once: a pids cgroup where one can
    /// be made, and `RLIMIT_NPROC` in the sandbox (0: no limit).
    #[serde(default)]
    pub max_processes: u64,
    /// Set by the init for the exec step: `/tmp` is the session's temp dir
    /// (so `TMPDIR` is `/tmp`).
    #[serde(default)]
    pub private_tmp: bool,
}

/// Runs the launcher when the process was started as `codelab-agent
/// __launch SPEC`; `None` otherwise (the binary goes on as the server).
/// Called first thing in `main`, before argument parsing and logging.
pub fn dispatch() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != LAUNCH_ARG {
        return None;
    }
    let spec = args.next().and_then(|a| a.into_string().ok());
    let Some(spec) = spec.and_then(|s| serde_json::from_str::<LaunchSpec>(&s).ok()) else {
        return Some(fail("usage: __launch SPEC (a JSON launch spec)"));
    };
    Some(run(spec))
}

/// Reports a set-up failure on stderr (the command's output) and returns
/// [`SETUP_FAILED`].
fn fail(msg: impl std::fmt::Display) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "codelab-agent launcher: {msg}");
    ExitCode::from(SETUP_FAILED)
}

fn run(spec: LaunchSpec) -> ExitCode {
    if spec.exec {
        return exec_shell(&spec);
    }
    let parent = nix::unistd::getppid();
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
    ] {
        mask.add(s);
    }
    if let Err(e) = mask.thread_block() {
        return fail(format!("cannot block signals: {e}"));
    }
    let sfd = match SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC) {
        Ok(s) => s,
        Err(e) => return fail(format!("cannot read signals: {e}")),
    };
    let mut child = if spec.init {
        // Stage 2: PID 1 of the sandbox.
        let Some(sb) = &spec.sandbox else {
            return fail("init without a sandbox");
        };
        match sandbox::enter(sb, &spec.cwd, spec.max_processes) {
            Ok(private) => shell(&LaunchSpec {
                private_tmp: private,
                ..spec.clone()
            }),
            Err(e) => return fail(format!("cannot set up the sandbox: {e}")),
        }
    } else {
        if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
            return fail(format!("cannot become a child subreaper: {e}"));
        }
        // Before any namespace: the cgroup is made in the server's.
        if spec.max_processes > 0 {
            super::cgroup::enter(spec.max_processes);
        }
        match &spec.sandbox {
            Some(sb) => {
                if let Err(e) = sandbox::unshare(sb) {
                    return fail(format!("cannot set up the sandbox: {e}"));
                }
                // Entering a user namespace clears the parent-death signal:
                // set it (again) after.
                watch_parent(parent);
                let exe = match std::env::current_exe() {
                    Ok(e) => e,
                    Err(e) => return fail(format!("cannot find the launcher binary: {e}")),
                };
                let stage2 = LaunchSpec {
                    init: true,
                    ..spec.clone()
                };
                let json = match serde_json::to_string(&stage2) {
                    Ok(j) => j,
                    Err(e) => return fail(e),
                };
                let mut c = Command::new(exe);
                c.arg(LAUNCH_ARG).arg(json).current_dir(&spec.cwd);
                c
            }
            None => {
                watch_parent(parent);
                shell(&spec)
            }
        }
    };
    let child = match child.spawn() {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot start the command: {e}")),
    };
    let pid = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    // The child is reaped by `supervise` (waitpid), not through `Child`.
    drop(child);
    let mut code = supervise(&sfd, pid, Duration::from_millis(spec.grace_ms));
    if spec.max_processes > 0 && !spec.init {
        super::cgroup::leave();
    }
    if !spec.init
        && let Some(sb) = &spec.sandbox
        && quarantine_created(sb) > 0
        && code == 0
    {
        code = 1;
    }
    ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX))
}

/// Moves away the protected paths a sandboxed command created (see
/// [`SandboxSpec::absent`]), into the session's temp dir (or, on another
/// file system, beside themselves under a name nothing reads), and says so
/// on stderr. Runs after the sandbox's last process has ended. Returns how
/// many were moved.
fn quarantine_created(sb: &SandboxSpec) -> usize {
    let mut moved = 0;
    for path in &sb.absent {
        if path.symlink_metadata().is_err() {
            continue;
        }
        let name = path
            .file_name()
            .map_or_else(|| "path".into(), |n| n.to_string_lossy().into_owned());
        let stamp = format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        );
        let kept = sb.tmpdir.join("quarantine").join(&stamp).join(&name);
        let to = match kept
            .parent()
            .map(std::fs::create_dir_all)
            .and_then(Result::ok)
            .and_then(|()| std::fs::rename(path, &kept).ok())
        {
            Some(()) => kept,
            None => {
                let beside = path.with_file_name(format!("{name}.codelab-quarantine-{stamp}"));
                if std::fs::rename(path, &beside).is_err() {
                    let _ = writeln!(
                        std::io::stderr(),
                        "{}the command created `{}`, a protected path, and it could not be moved away: remove it yourself.",
                        sandbox::NOTE_PREFIX,
                        path.display()
                    );
                    moved += 1;
                    continue;
                }
                beside
            }
        };
        moved += 1;
        let _ = writeln!(
            std::io::stderr(),
            "{}the command created `{}`, a protected path (.git, .codelab and .codelabignore cannot be created or changed inside the sandbox), so it was moved to `{}`. Retry with `sandbox: false` to run outside the sandbox (the user is asked).",
            sandbox::NOTE_PREFIX,
            path.display(),
            to.display()
        );
    }
    moved
}

/// The server going away counts as a request to stop: `SIGTERM` when the
/// parent dies, or now if it already did.
fn watch_parent(parent: Pid) {
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGTERM);
    if nix::unistd::getppid() != parent {
        let _ = nix::sys::signal::raise(Signal::SIGTERM);
    }
}

/// The shell, started through the launcher's exec step (see
/// [`LaunchSpec::exec`]).
fn shell(spec: &LaunchSpec) -> Command {
    let last = LaunchSpec {
        exec: true,
        ..spec.clone()
    };
    let mut c = match std::env::current_exe() {
        Ok(exe) => Command::new(exe),
        // Cannot happen once running; the exec step then reports it.
        Err(_) => Command::new(LAUNCH_ARG),
    };
    c.arg(LAUNCH_ARG)
        .arg(serde_json::to_string(&last).unwrap_or_default())
        .current_dir(&spec.cwd);
    c
}

/// The exec step: no signal blocked, then `sh -c COMMAND` in this process
/// (with `TMPDIR` in a sandbox). Returns only when the exec failed.
fn exec_shell(spec: &LaunchSpec) -> ExitCode {
    use std::os::unix::process::CommandExt;
    if let Err(e) = SigSet::all().thread_unblock() {
        return fail(format!("cannot unblock signals: {e}"));
    }
    let mut c = Command::new("sh");
    c.arg("-c").arg(&spec.command).current_dir(&spec.cwd);
    if spec.private_tmp {
        c.env("TMPDIR", sandbox::SYSTEM_TMP);
    } else if let Some(sb) = &spec.sandbox {
        c.env("TMPDIR", &sb.tmpdir);
    }
    let e = c.exec();
    fail(format!("cannot start sh: {e}"))
}

/// Waits for `main` (reaping every other child that ends meanwhile), passes
/// termination requests on, then ends every descendant left. Returns the
/// exit code to exit with.
fn supervise(sfd: &SignalFd, main: Pid, grace: Duration) -> i32 {
    let me = nix::unistd::getpid();
    let mut status: Option<i32> = None;
    let mut kill_at: Option<Instant> = None;
    while status.is_none() {
        // Reap whatever ended.
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) if pid == main => status = Some(code),
                Ok(WaitStatus::Signaled(pid, sig, _)) if pid == main => {
                    status = Some(128 + sig as i32);
                }
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(_) => {}
            }
        }
        if status.is_some() {
            break;
        }
        if let Some(at) = kill_at
            && Instant::now() >= at
        {
            signal_descendants(me, Signal::SIGKILL);
            kill_at = None;
        }
        let timeout = match kill_at {
            Some(at) => PollTimeout::try_from(at.saturating_duration_since(Instant::now()))
                .unwrap_or(PollTimeout::MAX),
            None => PollTimeout::NONE,
        };
        let mut fds = [PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
        while let Ok(Some(info)) = sfd.read_signal() {
            let signo = i32::try_from(info.ssi_signo).unwrap_or(0);
            if signo != Signal::SIGCHLD as i32 && kill_at.is_none() {
                // A request to stop: SIGTERM to everything below, SIGKILL after the grace.
                signal_descendants(me, Signal::SIGTERM);
                kill_at = Some(Instant::now() + grace);
            }
        }
    }
    // The command's own process ended: nothing it started outlives it.
    loop {
        signal_descendants(me, Signal::SIGKILL);
        match waitpid(None, None) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => break, // ECHILD: no child left
        }
    }
    status.unwrap_or(SETUP_FAILED.into())
}

/// Sends `sig` to every descendant of `root` (found through `/proc`).
fn signal_descendants(root: Pid, sig: Signal) {
    for pid in descendants(root) {
        if pid.as_raw() > 1 && pid != root {
            let _ = kill(pid, sig);
        }
    }
}

/// Every process below `root`, from the parent links in `/proc/*/stat`.
pub fn descendants(root: Pid) -> Vec<Pid> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(ppid) = parent_of(pid) {
            children.entry(ppid).or_default().push(pid);
        }
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![root.as_raw()];
    while let Some(p) = stack.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or_default() {
            if seen.insert(c) {
                out.push(Pid::from_raw(c));
                stack.push(c);
            }
        }
    }
    out
}

/// The parent of a process, from `/proc/PID/stat` (the field after the
/// command name, which may itself hold spaces and parentheses).
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_of_reads_past_a_command_name_with_parentheses() {
        let me = std::process::id() as i32;
        let parent = parent_of(me).expect("own stat");
        assert_eq!(parent, nix::unistd::getppid().as_raw());
    }

    #[test]
    fn the_spec_round_trips_as_json() {
        let spec = LaunchSpec {
            command: "echo hi".into(),
            cwd: "/tmp".into(),
            grace_ms: 2000,
            sandbox: None,
            init: false,
            exec: false,
            max_processes: 0,
            private_tmp: false,
        };
        let json = serde_json::to_string(&spec).expect("json");
        assert_eq!(
            serde_json::from_str::<LaunchSpec>(&json).expect("parse"),
            spec
        );
    }
}
