//! The command sandbox (Linux): what a sandboxed command may write, and the
//! namespaces and Landlock rules that enforce it.
//!
//! A sandboxed command runs in new user, PID and mount namespaces (and a new,
//! empty network namespace when the network is off). Inside, Landlock lets
//! it read and execute everywhere but write only beneath [`SandboxSpec::
//! writable`] (the workspace in `workspace-write` mode, the session's temp
//! dir given as `TMPDIR`, configured extra paths) and a few devices
//! (`/dev/null` and the like). Landlock cannot carve a read-only exception out
//! of a writable directory, so the protected paths inside the workspace
//! (`.git`, `.codelab`, `.codelabignore`) are bind-mounted read-only over
//! themselves in the command's mount namespace; a sandboxed thread can no
//! longer change mounts. Landlock's signal and abstract-socket scoping (ABI 6)
//! keeps it from signalling or connecting to processes outside.
//!
//! The user namespace maps the server's user to root inside (as `unshare -r`
//! does), which lets the init mount `/proc` and the bind mounts; the init
//! then enters a nested user namespace where it has the server's own user
//! and group ids again, so the command runs as the user, and whatever
//! capabilities it has hold only in that nested namespace, which owns no
//! mount. When the server itself runs as root the ids are root's: the
//! command still cannot load modules, reboot, change mounts or enter the
//! host's network namespace, but files owned by root are its own, so
//! Landlock and the read-only mounts are what confine its writes (see
//! SECURITY.md).
//!
//! [`probe`] runs a real sandboxed launch at start-up: when the kernel lacks
//! Landlock or user namespaces the server says so and runs every command
//! unsandboxed, asking first.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What a sandboxed command may do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxSpec {
    /// Directories (and files) it may write beneath.
    pub writable: Vec<PathBuf>,
    /// Paths mounted read-only (existing protected paths inside writable ones).
    pub read_only: Vec<PathBuf>,
    /// Whether it keeps the network (else it gets an empty network namespace).
    pub network: bool,
    /// The per-session temp dir, given as `TMPDIR` (and writable).
    pub tmpdir: PathBuf,
    /// A workspace whose `.codelabignore`d files and directories the command
    /// cannot see: each is covered by an unreadable mount.
    #[serde(default)]
    pub mask_ignored: Option<PathBuf>,
    /// Protected paths that did not exist when the command started. A bind
    /// mount needs something to cover, so these cannot be made read-only:
    /// when the command has created one, the supervisor moves it away after
    /// the sandbox has ended (every process of it is gone by then) and says
    /// so in the command's output.
    #[serde(default)]
    pub absent: Vec<PathBuf>,
}

/// Entries of a workspace walked, at most, to find its ignored paths.
pub const MASK_WALK_LIMIT: usize = 200_000;
/// Ignored paths masked, at most.
pub const MASK_LIMIT: usize = 4_096;
/// The prefix of the sandbox's own notes in a command's output.
pub const NOTE_PREFIX: &str = "codelab-agent sandbox: ";

/// Why a sandbox could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A namespace could not be created (unprivileged user namespaces off?).
    #[error("cannot create namespaces: {0}")]
    Namespaces(nix::Error),
    /// The user namespace's id maps could not be written.
    #[error("cannot map the user into the sandbox: {0}")]
    IdMap(std::io::Error),
    /// A mount failed.
    #[error("cannot mount {path}: {error}")]
    Mount {
        /// What was being mounted.
        path: PathBuf,
        /// Why.
        error: nix::Error,
    },
    /// Landlock is missing or refused the rules.
    #[error("Landlock: {0}")]
    Landlock(String),
    /// The process limit could not be set.
    #[error("cannot limit the processes: {0}")]
    Limit(nix::Error),
    /// no_new_privs could not be set.
    #[error("cannot set no_new_privs: {0}")]
    NoNewPrivs(nix::Error),
    /// A mount point could not be made in the session's temp dir.
    #[error("cannot prepare {path}: {error}")]
    Prepare {
        /// What was being made.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
}

/// The system temporary directory, which a sandboxed command gets as its
/// own: the session's temp dir is mounted over it.
pub const SYSTEM_TMP: &str = "/tmp";

/// What stays visible under a private `/tmp`: the outermost of the paths
/// the command needs that lie under the system temp dir (its writable paths,
/// the workspace it reads, the launcher binary). `None` when `/tmp` cannot be
/// made private: it is a symlink, or one of those paths is `/tmp` itself or
/// holds the session's temp dir.
pub fn private_tmp_plan(
    spec: &SandboxSpec,
    exe: Option<&Path>,
    cwd: Option<&Path>,
) -> Option<Vec<PathBuf>> {
    let tmp = Path::new(SYSTEM_TMP);
    if tmp.symlink_metadata().ok()?.file_type().is_symlink() {
        return None;
    }
    let mut keep: Vec<PathBuf> = spec
        .writable
        .iter()
        .chain(spec.mask_ignored.as_ref())
        .map(PathBuf::as_path)
        .chain(exe)
        .chain(cwd)
        .filter(|p| p.starts_with(tmp))
        .map(Path::to_path_buf)
        .collect();
    if keep
        .iter()
        .any(|k| k.as_path() == tmp || spec.tmpdir.starts_with(k))
    {
        return None;
    }
    keep.sort();
    let mut outer: Vec<PathBuf> = Vec::new();
    for k in keep {
        if !outer.iter().any(|o| k.starts_with(o)) {
            outer.push(k);
        }
    }
    Some(outer)
}

/// Mounts the session's temp dir over `/tmp`, the paths of
/// [`private_tmp_plan`] bound into it first at their places, so they stay
/// where they were (read-only unless they are writable paths; a writable
/// path nested in a read-only one is not kept apart). Other directories under `/tmp` (other programs' files,
/// other sessions') are out of sight. Returns whether `/tmp` is private.
fn private_tmp(spec: &SandboxSpec, cwd: &Path) -> Result<bool, SandboxError> {
    use nix::mount::{MsFlags, mount};
    let exe = std::env::current_exe().ok();
    let Some(keep) = private_tmp_plan(spec, exe.as_deref(), Some(cwd)) else {
        return Ok(false);
    };
    let none: Option<&str> = None;
    let prepare = |path: &Path, error| SandboxError::Prepare {
        path: path.to_path_buf(),
        error,
    };
    std::fs::create_dir_all(&spec.tmpdir).map_err(|e| prepare(&spec.tmpdir, e))?;
    for k in &keep {
        let Ok(rel) = k.strip_prefix(SYSTEM_TMP) else {
            continue;
        };
        let at = spec.tmpdir.join(rel);
        if k.is_dir() {
            std::fs::create_dir_all(&at).map_err(|e| prepare(&at, e))?;
        } else {
            if let Some(parent) = at.parent() {
                std::fs::create_dir_all(parent).map_err(|e| prepare(parent, e))?;
            }
            if at.symlink_metadata().is_err() {
                std::fs::File::create(&at).map_err(|e| prepare(&at, e))?;
            }
        }
        // Beneath the new /tmp, Landlock's writable /tmp would cover a kept
        // path too: what the command may only read is bound read-only.
        if spec.writable.iter().any(|w| k.starts_with(w)) {
            mount(
                Some(k.as_path()),
                &at,
                none,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                none,
            )
            .map_err(|error| SandboxError::Mount {
                path: k.clone(),
                error,
            })?;
        } else {
            bind(k, &at, MsFlags::empty())?;
        }
    }
    mount(
        Some(spec.tmpdir.as_path()),
        SYSTEM_TMP,
        none,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        none,
    )
    .map_err(|error| SandboxError::Mount {
        path: SYSTEM_TMP.into(),
        error,
    })?;
    Ok(true)
}

/// Devices every command may write (besides its writable paths).
const DEVICES: [&str; 8] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/pts",
    "/dev/shm",
];

/// Stage 1: the supervisor leaves the server's namespaces. Its next child is
/// PID 1 of a new PID namespace, in a new user namespace (and a new network
/// namespace unless the network is on); the server's user is root inside.
///
/// # Errors
/// When the kernel refuses a namespace or the id maps.
pub fn unshare(spec: &SandboxSpec) -> Result<(), SandboxError> {
    use nix::sched::CloneFlags;
    let uid = nix::unistd::getuid();
    let gid = nix::unistd::getgid();
    // The mount namespace is the init's own (see `enter`): the supervisor
    // must keep seeing the host's /proc to find its descendants.
    let mut flags = CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWPID;
    if !spec.network {
        flags |= CloneFlags::CLONE_NEWNET;
    }
    nix::sched::unshare(flags).map_err(SandboxError::Namespaces)?;
    // Unprivileged processes must give up setgroups before mapping their group.
    match std::fs::write("/proc/self/setgroups", "deny") {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(SandboxError::IdMap(e)),
    }
    std::fs::write("/proc/self/uid_map", format!("0 {uid} 1\n")).map_err(SandboxError::IdMap)?;
    std::fs::write("/proc/self/gid_map", format!("0 {gid} 1\n")).map_err(SandboxError::IdMap)?;
    Ok(())
}

/// Stage 2, PID 1 of the sandbox: its own mount namespace with a fresh
/// `/proc` and the protected paths read-only, a process limit, then
/// Landlock on itself (inherited by the command).
///
/// # Errors
/// Any step that fails: the command does not run.
pub fn enter(spec: &SandboxSpec, cwd: &Path, max_processes: u64) -> Result<bool, SandboxError> {
    use nix::mount::{MsFlags, mount};
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).map_err(SandboxError::Namespaces)?;
    let none: Option<&str> = None;
    mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none).map_err(|error| {
        SandboxError::Mount {
            path: "/".into(),
            error,
        }
    })?;
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        none,
    )
    .map_err(|error| SandboxError::Mount {
        path: "/proc".into(),
        error,
    })?;
    // First: the mounts below resolve their paths through the new /tmp.
    let private = private_tmp(spec, cwd)?;
    for path in &spec.read_only {
        read_only_bind(path)?;
    }
    if let Some(root) = &spec.mask_ignored {
        mask_ignored(root)?;
    }
    // A fork bomb is capped: the limit counts the processes of this user
    // namespace (the kernel exempts a server running as root in the host,
    // whose commands get a pids cgroup instead).
    if max_processes > 0 {
        nix::sys::resource::setrlimit(
            nix::sys::resource::Resource::RLIMIT_NPROC,
            max_processes,
            max_processes,
        )
        .map_err(SandboxError::Limit)?;
    }
    become_user()?;
    nix::sys::prctl::set_no_new_privs().map_err(SandboxError::NoNewPrivs)?;
    landlock(spec, private)?;
    Ok(private)
}

/// Leaves root of the sandbox's user namespace for a nested one where the
/// process has the server's own user and group ids again (as `bwrap` does):
/// the command runs as the user, with no capability over the sandbox's
/// mounts or its init.
fn become_user() -> Result<(), SandboxError> {
    let outer = |file: &str| -> Option<u32> {
        std::fs::read_to_string(format!("/proc/self/{file}"))
            .ok()?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    let uid = outer("uid_map").unwrap_or(0);
    let gid = outer("gid_map").unwrap_or(0);
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).map_err(SandboxError::Namespaces)?;
    std::fs::write("/proc/self/setgroups", "deny").map_err(SandboxError::IdMap)?;
    std::fs::write("/proc/self/uid_map", format!("{uid} 0 1\n")).map_err(SandboxError::IdMap)?;
    std::fs::write("/proc/self/gid_map", format!("{gid} 0 1\n")).map_err(SandboxError::IdMap)?;
    Ok(())
}

/// Bind-mounts `path` over itself, read-only (keeping the flags the kernel
/// locks on mounts inherited into a user namespace).
fn read_only_bind(path: &Path) -> Result<(), SandboxError> {
    bind(path, path, nix::mount::MsFlags::empty())
}

/// Hides the workspace's `.codelabignore`d paths from the command: an
/// ignored directory is covered by an empty read-only tmpfs, an ignored file
/// by `/dev/null` mounted `nodev`, which makes every open of it fail with
/// "Permission denied" (reads and writes alike; it cannot be removed or
/// renamed either, being a mount point). Symlinks are left alone: what they
/// lead to is masked where it is itself ignored. When the workspace is too
/// large to walk whole, the command is told which part went unchecked.
fn mask_ignored(root: &Path) -> Result<(), SandboxError> {
    use nix::mount::{MsFlags, mount};
    let Ok(ws) = crate::workspace::Workspace::new(root) else {
        return Ok(()); // no workspace left to mask
    };
    let found = ws.ignored_entries(MASK_WALK_LIMIT, MASK_LIMIT);
    let locked = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    for (path, is_dir) in &found.paths {
        if *is_dir {
            mount(
                Some("tmpfs"),
                path.as_path(),
                Some("tmpfs"),
                locked | MsFlags::MS_RDONLY,
                Some("size=4k,mode=0555"),
            )
            .map_err(|error| SandboxError::Mount {
                path: path.clone(),
                error,
            })?;
        } else {
            bind(Path::new("/dev/null"), path, locked)?;
        }
    }
    if !found.complete {
        let _ = writeln!(
            std::io::stderr(),
            "{NOTE_PREFIX}the workspace has more than {MASK_WALK_LIMIT} entries or {MASK_LIMIT} ignored paths; \
             .codelabignore was applied to the first {} ignored paths only.",
            found.paths.len()
        );
    }
    Ok(())
}

/// Bind-mounts `src` over `dst`, then makes it read-only with `extra` flags
/// (keeping the flags the kernel locks on mounts inherited into a user
/// namespace).
fn bind(src: &Path, dst: &Path, extra: nix::mount::MsFlags) -> Result<(), SandboxError> {
    use nix::mount::{MsFlags, mount};
    use nix::sys::statvfs::{FsFlags, statvfs};
    let none: Option<&str> = None;
    let path = dst;
    let err = |error| SandboxError::Mount {
        path: path.to_path_buf(),
        error,
    };
    mount(
        Some(src),
        dst,
        none,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        none,
    )
    .map_err(err)?;
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | extra;
    if let Ok(st) = statvfs(path) {
        let f = st.flags();
        for (fs, ms) in [
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if f.contains(fs) {
                flags |= ms;
            }
        }
    }
    mount(none, path, none, flags, none).map_err(err)
}

/// Restricts this process (and what it starts) with Landlock: read and
/// execute everywhere, write only beneath the writable paths and devices.
fn landlock(spec: &SandboxSpec, private_tmp: bool) -> Result<(), SandboxError> {
    use landlock::{
        ABI, Access, AccessFs, CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetCreatedAttr,
        RulesetStatus, Scope, path_beneath_rules,
    };
    let abi = ABI::V6;
    let err = |e: landlock::RulesetError| SandboxError::Landlock(e.to_string());
    let mut writable: Vec<&Path> = spec.writable.iter().map(PathBuf::as_path).collect();
    writable.push(&spec.tmpdir);
    if private_tmp {
        writable.push(Path::new(SYSTEM_TMP));
    }
    let devices: Vec<&Path> = DEVICES
        .iter()
        .map(Path::new)
        .filter(|p| p.exists())
        .collect();
    let status = Ruleset::default()
        // File-system rights are required; ABI 1 is enough to confine writes.
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(ABI::V1))
        .map_err(err)?
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .map_err(err)?
        .scope(Scope::from_all(abi))
        .map_err(err)?
        .create()
        .map_err(err)?
        .add_rules(path_beneath_rules(["/"], AccessFs::from_read(abi)))
        .map_err(err)?
        .add_rules(path_beneath_rules(writable, AccessFs::from_all(abi)))
        .map_err(err)?
        .add_rules(path_beneath_rules(devices, AccessFs::from_all(abi)))
        .map_err(err)?
        .restrict_self()
        .map_err(err)?;
    if status.ruleset == RulesetStatus::NotEnforced {
        return Err(SandboxError::Landlock("not enforced by this kernel".into()));
    }
    Ok(())
}

/// Whether commands can be sandboxed here, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Support {
    /// A probe command ran sandboxed.
    Available,
    /// Commands run unsandboxed (and ask), for this reason.
    Unavailable(String),
}

impl Support {
    /// Whether the sandbox works.
    pub fn available(&self) -> bool {
        matches!(self, Self::Available)
    }

    /// Why not, if it does not.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Available => None,
            Self::Unavailable(r) => Some(r),
        }
    }
}

/// Error messages that mean the file system refused a write.
const FS_DENIALS: [&str; 3] = [
    "Permission denied",
    "Read-only file system",
    "Operation not permitted",
];
/// The error message of a path that does not exist (inside a hidden directory).
const NOT_FOUND: &str = "No such file or directory";
/// Every error message that means a path does not exist (`sh` and `dash`
/// say the second when a redirection's directory is missing).
const NOT_FOUND_ALL: [&str; 3] = [NOT_FOUND, "Directory nonexistent", "nonexistent directory"];
/// Error messages that mean there was no network.
const NET_DENIALS: [&str; 6] = [
    "Network is unreachable",
    "Temporary failure in name resolution",
    "Could not resolve host",
    "Name or service not known",
    "No address associated with hostname",
    "getaddrinfo",
];

/// Reads a failed sandboxed command's output for what the sandbox refused,
/// and says it plainly for the model: which path could not be written and
/// why, or that the network is off. `None` when nothing in the output looks
/// like a refusal.
///
/// `ignored` tells whether a path the output names is excluded by
/// `.codelabignore` (the sandbox hides those): such a path is reported as
/// hidden, not as a refused write.
pub fn explain_denials(
    output: &str,
    spec: &SandboxSpec,
    workspace_writable: bool,
    ignored: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let mut paths: Vec<String> = Vec::new();
    let mut hidden: Vec<String> = Vec::new();
    let mut network = false;
    // Under a private /tmp, other directories of /tmp do not exist.
    let exe = std::env::current_exe().ok();
    let tmp_kept = private_tmp_plan(spec, exe.as_deref(), None);
    let mut tmp_hidden = false;
    for line in output.lines() {
        if NET_DENIALS.iter().any(|d| line.contains(d)) && !spec.network {
            network = true;
        }
        let denied = FS_DENIALS.iter().any(|d| line.contains(d));
        let missing = NOT_FOUND_ALL.iter().any(|d| line.contains(d));
        if (denied || missing)
            && let Some(p) = path_in(line)
        {
            let under_hidden_tmp = tmp_kept.as_ref().is_some_and(|kept| {
                let path = Path::new(&p);
                path.starts_with(SYSTEM_TMP)
                    && !path.starts_with(&spec.tmpdir)
                    && !kept.iter().any(|k| path.starts_with(k))
            });
            if spec.mask_ignored.is_some() && ignored(&p) {
                if !hidden.contains(&p) {
                    hidden.push(p);
                }
            } else if (denied || under_hidden_tmp) && !paths.contains(&p) {
                tmp_hidden |= under_hidden_tmp;
                paths.push(p);
            }
        }
    }
    if paths.is_empty() && hidden.is_empty() && !network {
        return None;
    }
    let mut writable: Vec<String> = spec
        .writable
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    writable.push(format!("{} ($TMPDIR)", spec.tmpdir.display()));
    let mut note = String::from("[sandbox] This command ran in the sandbox");
    note.push_str(if workspace_writable {
        " (workspace-write)."
    } else {
        " (read-only)."
    });
    for p in paths.iter().take(5) {
        note.push_str(&format!(" Writing `{p}` was refused."));
    }
    if !paths.is_empty() {
        note.push_str(&format!(
            " Writable: {}; .git, .codelab and .codelabignore are read-only.",
            writable.join(", ")
        ));
    }
    if tmp_hidden {
        note.push_str(
            " Inside the sandbox /tmp is this session's own temp dir ($TMPDIR): other directories under /tmp are out of sight.",
        );
    }
    for p in hidden.iter().take(5) {
        note.push_str(&format!(
            " `{p}` is excluded by .codelabignore, so the sandbox hides it (reading and writing it are refused)."
        ));
    }
    if network {
        note.push_str(" Network access was refused: the network is off in the sandbox.");
    }
    note.push_str(
        " Work within these limits, or retry with `sandbox: false` to run outside the sandbox (the user is asked).",
    );
    Some(note)
}

/// The path an error line names: the field before the error
/// (`sh: 1: cannot create .git/hooks/x: Read-only file system`,
/// `touch: cannot touch '/root/x': Permission denied`), else the first
/// quoted one, else the first absolute one.
fn path_in(line: &str) -> Option<String> {
    if let Some(at) = FS_DENIALS
        .iter()
        .chain(NOT_FOUND_ALL.iter())
        .filter_map(|d| line.find(d))
        .min()
    {
        let before = line[..at].trim_end().trim_end_matches(':');
        let field = before.rsplit(": ").next().unwrap_or(before).trim();
        let field = [
            "cannot create directory ",
            "cannot create regular file ",
            "cannot create ",
            "can't create ",
            "cannot touch ",
            "cannot open ",
            "cannot remove ",
            "cannot make directory ",
        ]
        .iter()
        .find_map(|p| field.strip_prefix(p))
        .unwrap_or(field);
        let field = field.trim_matches(|c| "'\"‘’`".contains(c));
        if !field.is_empty() && !field.contains(' ') && (field.contains('/') || field.contains('.'))
        {
            return Some(field.to_owned());
        }
    }
    for (open, close) in [('\'', '\''), ('‘', '’'), ('"', '"'), ('`', '\'')] {
        if let Some(start) = line.find(open) {
            let rest = &line[start + open.len_utf8()..];
            if let Some(end) = rest.find(close) {
                let p = &rest[..end];
                if !p.is_empty() && !p.contains(' ') {
                    return Some(p.to_owned());
                }
            }
        }
    }
    line.split_whitespace()
        .map(|w| w.trim_end_matches(':').trim_end_matches(','))
        .find(|w| w.starts_with('/') && w.len() > 1)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> SandboxSpec {
        SandboxSpec {
            writable: vec!["/ws".into()],
            read_only: vec![],
            network: false,
            tmpdir: "/data/tmp/s".into(),
            mask_ignored: None,
            absent: vec![],
        }
    }

    #[test]
    fn refusals_name_the_path_or_the_network() {
        let out = "sh: 1: cannot create /root/x: Permission denied\n";
        let note = explain_denials(out, &spec(), true, &|_| false).expect("a refusal");
        assert!(note.contains("Writing `/root/x` was refused"), "{note}");
        assert!(note.contains("/ws, /data/tmp/s ($TMPDIR)"), "{note}");
        let out = "touch: cannot touch '.git/hooks/x': Read-only file system\n";
        let note = explain_denials(out, &spec(), true, &|_| false).expect("a refusal");
        assert!(
            note.contains("Writing `.git/hooks/x` was refused"),
            "{note}"
        );
        let out = "curl: (6) Could not resolve host: example.com\n";
        let note = explain_denials(out, &spec(), true, &|_| false).expect("a refusal");
        assert!(note.contains("the network is off"), "{note}");
        assert_eq!(
            explain_denials("all fine\n", &spec(), true, &|_| false),
            None
        );
        let hidden = SandboxSpec {
            mask_ignored: Some("/ws".into()),
            ..spec()
        };
        let out = "cat: secret.env: Permission denied\ncat: keys/a: No such file or directory\n";
        let note = explain_denials(out, &hidden, true, &|p| {
            p == "secret.env" || p.starts_with("keys")
        })
        .expect("a refusal");
        assert!(
            note.contains("`secret.env` is excluded by .codelabignore"),
            "{note}"
        );
        assert!(
            note.contains("`keys/a` is excluded by .codelabignore"),
            "{note}"
        );
        assert!(!note.contains("Writing"), "{note}");
        let out = "cat: nothere: No such file or directory\n";
        assert_eq!(explain_denials(out, &hidden, true, &|_| false), None);
    }
}
