//! A pids limit for one command: a cgroup of its own, where the kernel lets
//! this process make one (root, or a delegated cgroup v2 subtree), so that a
//! fork bomb hits `pids.max` instead of the machine. Best effort: where no
//! cgroup can be made the command runs without (a sandboxed one still has
//! its `RLIMIT_NPROC`, see [`super::sandbox`]).

use std::path::{Path, PathBuf};

/// Where the `pids` controller is mounted and this process's cgroup in it:
/// cgroup v1's `pids` hierarchy, else the unified (v2) one.
fn own_pids_cgroup() -> Option<(PathBuf, bool)> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    let cgroups = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let v1_mount = mounts.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 3 && f[2] == "cgroup" && f[3].split(',').any(|o| o == "pids"))
            .then(|| PathBuf::from(f[1]))
    });
    if let Some(mount) = v1_mount {
        let path = cgroups.lines().find_map(|l| {
            let mut p = l.splitn(3, ':');
            let (_, controllers, path) = (p.next()?, p.next()?, p.next()?);
            controllers.split(',').any(|c| c == "pids").then_some(path)
        })?;
        return Some((join(&mount, path), true));
    }
    let v2_mount = mounts.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.len() > 2 && f[2] == "cgroup2").then(|| PathBuf::from(f[1]))
    })?;
    let path = cgroups.lines().find_map(|l| l.strip_prefix("0::"))?;
    Some((join(&v2_mount, path), false))
}

fn join(mount: &Path, path: &str) -> PathBuf {
    mount.join(path.trim_start_matches('/'))
}

/// The cgroup of the launcher with this pid (a child of the server's).
fn dir_for(pid: u32) -> Option<PathBuf> {
    let (own, _) = own_pids_cgroup()?;
    Some(own.join(format!("codelab-command-{pid}")))
}

/// Makes a cgroup limited to `max` processes and moves this process (the
/// launcher, before it starts the command) into it. Returns whether it did.
pub fn enter(max: u64) -> bool {
    enter_inner(max).is_some()
}

fn enter_inner(max: u64) -> Option<()> {
    {
        let (own, v1) = own_pids_cgroup()?;
        if !v1 {
            // The controller must be available to children of our cgroup.
            let controllers = std::fs::read_to_string(own.join("cgroup.controllers")).ok()?;
            if !controllers.split_whitespace().any(|c| c == "pids") {
                return None;
            }
            let _ = std::fs::write(own.join("cgroup.subtree_control"), "+pids");
        }
        let dir = own.join(format!("codelab-command-{}", std::process::id()));
        std::fs::create_dir(&dir).ok()?;
        let limited = std::fs::write(dir.join("pids.max"), max.to_string()).is_ok()
            && std::fs::write(dir.join("cgroup.procs"), std::process::id().to_string()).is_ok();
        if !limited {
            let _ = std::fs::remove_dir(&dir);
            return None;
        }
        Some(())
    }
}

/// The launcher, done: moves itself back to the parent cgroup and removes
/// its own (then empty).
pub fn leave() {
    if let Some((own, _)) = own_pids_cgroup()
        && let Some(parent) = own.parent()
        && own
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("codelab-command-"))
    {
        let _ = std::fs::write(parent.join("cgroup.procs"), std::process::id().to_string());
        let _ = std::fs::remove_dir(&own);
    }
}

/// Kills every process in the cgroup of the launcher with this pid: what
/// the server does when the launcher itself had to be killed, so that
/// nothing it supervised survives it.
pub fn kill_all(pid: u32) {
    let Some(dir) = dir_for(pid) else {
        return;
    };
    let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
        return;
    };
    for p in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(p),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// Removes the (empty) cgroup of a launcher that exited, if it could not
/// itself; the server calls it.
pub fn remove_for(pid: u32) {
    if let Some(dir) = dir_for(pid) {
        let _ = std::fs::remove_dir(dir);
    }
}
