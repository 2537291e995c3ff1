//! The client side: `--stdio`'s forwarder (connect to the daemon, starting
//! it when none answers, then copy bytes both ways), and `daemon status` /
//! `daemon stop`.
//!
//! Everything here is blocking: the forwarder is two threads copying bytes
//! (stdin to the socket, the socket to stdout), with no async runtime, no
//! buffering beyond one read and no parsing, so it adds next to nothing to
//! an editor's latency.
//!
//! Starting a daemon: under `start.lock` (so two editors starting at the
//! same instant start one daemon), the client asks the socket again; when
//! nothing answers and no daemon holds `daemon.lock`, it spawns
//! `codelab-agent daemon run --detach` (the same binary, in the data
//! directory, stdin from `/dev/null`, stderr appended to the log file, its
//! environment the client's own) and waits for its `ready` line.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::handshake::{self, BusyKind, Front, Greeting, Refusal, Reply, Request, Status};
use super::lock;
use super::paths::{Paths, check_socket};
use super::{DaemonError, is_newer, version};

/// How long the daemon has to greet and to answer a request.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client waits for another client that is starting the daemon.
const START_LOCK_WAIT: Duration = Duration::from_secs(90);
/// How long a new daemon has to say it is ready (opening a large store may
/// migrate it).
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a stopping daemon has to exit.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a daemon that holds its lock but does not answer is waited for.
const UNANSWERED_WAIT: Duration = Duration::from_secs(10);
/// The log is rotated (to `daemon.log.1`) past this size when a daemon starts.
const MAX_LOG_BYTES: u64 = 8 * 1024 * 1024;

/// What a client needs to start a daemon.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The daemon's idle time.
    pub idle_exit: Duration,
    /// The daemon's `--log-level`.
    pub log_level: String,
    /// The daemon's `--log-format` (`text` or `json`).
    pub log_format: String,
    /// What the connection speaks.
    pub front: Front,
}

/// An open connection to a daemon that has greeted.
struct Probe {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
    greeting: Greeting,
    socket: PathBuf,
}

/// An LSP connection to a daemon, after the handshake.
pub struct Connected {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
    /// The daemon's greeting.
    pub greeting: Greeting,
    /// The socket.
    pub socket: PathBuf,
}

fn is_gone(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{BrokenPipe, ConnectionRefused, ConnectionReset, NotFound};
    matches!(
        e.kind(),
        NotFound | ConnectionRefused | ConnectionReset | BrokenPipe
    )
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Connects and reads the greeting; `None` when nothing listens or the
/// daemon closed before greeting (it is stopping).
fn probe(paths: &Paths) -> Result<Option<Probe>, DaemonError> {
    check_socket(&paths.socket)?;
    let socket = paths.socket.clone();
    let stream = match UnixStream::connect(&socket) {
        Ok(s) => s,
        Err(e) if is_gone(&e) => return Ok(None),
        Err(e) => return Err(DaemonError::io("cannot connect to", &socket)(e)),
    };
    stream
        .set_read_timeout(Some(ANSWER_TIMEOUT))
        .map_err(DaemonError::io("cannot configure", &socket))?;
    let mut reader = BufReader::new(
        stream
            .try_clone()
            .map_err(DaemonError::io("cannot use", &socket))?,
    );
    let line = match handshake::read_line_blocking(&mut reader) {
        Ok(Some(line)) => line,
        Ok(None) => return Ok(None),
        Err(e) if is_gone(&e) => return Ok(None),
        Err(e) if is_timeout(&e) => {
            return Err(DaemonError::Timeout(format!(
                "the daemon at {} did not greet within {} s",
                socket.display(),
                ANSWER_TIMEOUT.as_secs()
            )));
        }
        Err(e) => return Err(DaemonError::io("cannot read from", &socket)(e)),
    };
    let greeting: Greeting = handshake::parse(&line).map_err(|detail| DaemonError::Handshake {
        socket: socket.clone(),
        detail,
    })?;
    if greeting.codelab != "daemon" {
        return Err(DaemonError::Handshake {
            socket,
            detail: format!("not a codelab-agent daemon: {greeting:?}"),
        });
    }
    Ok(Some(Probe {
        stream,
        reader,
        greeting,
        socket,
    }))
}

impl Probe {
    /// Sends a request and reads the reply; `None` when the daemon closed
    /// first (it is stopping).
    fn request(&mut self, request: &Request) -> Result<Option<Reply>, DaemonError> {
        let socket = &self.socket;
        let bytes =
            handshake::line(request).map_err(DaemonError::io("cannot encode for", socket))?;
        match self.stream.write_all(&bytes) {
            Ok(()) => {}
            Err(e) if is_gone(&e) => return Ok(None),
            Err(e) => return Err(DaemonError::io("cannot write to", socket)(e)),
        }
        let line = match handshake::read_line_blocking(&mut self.reader) {
            Ok(Some(line)) => line,
            Ok(None) => return Ok(None),
            Err(e) if is_gone(&e) => return Ok(None),
            Err(e) if is_timeout(&e) => {
                return Err(DaemonError::Timeout(format!(
                    "the daemon at {} did not answer within {} s",
                    socket.display(),
                    ANSWER_TIMEOUT.as_secs()
                )));
            }
            Err(e) => return Err(DaemonError::io("cannot read from", socket)(e)),
        };
        handshake::parse(&line)
            .map(Some)
            .map_err(|detail| DaemonError::Handshake {
                socket: socket.clone(),
                detail,
            })
    }

    /// Asks for an LSP or ACP connection; `None` when the daemon is stopping.
    fn connect(mut self, front: Front) -> Result<Option<Connected>, DaemonError> {
        let (version, pid) = (version(), std::process::id());
        let request = match front {
            Front::Lsp => Request::Lsp { version, pid },
            Front::Acp => Request::Acp { version, pid },
        };
        match self.request(&request)? {
            Some(reply) if reply.ok => {
                self.stream
                    .set_read_timeout(None)
                    .map_err(DaemonError::io("cannot configure", &self.socket))?;
                Ok(Some(Connected {
                    stream: self.stream,
                    reader: self.reader,
                    greeting: self.greeting,
                    socket: self.socket,
                }))
            }
            Some(reply) if reply.refusal == Some(Refusal::Stopping) => Ok(None),
            None => Ok(None),
            Some(reply) => Err(DaemonError::Refused(
                reply.error.unwrap_or_else(|| "no reason given".into()),
            )),
        }
    }
}

/// Waits until the daemon holding `paths.lock` has exited.
fn wait_exit(paths: &Paths, pid: u32, timeout: Duration) -> Result<(), DaemonError> {
    match lock::lock_within(&paths.lock, timeout)
        .map_err(DaemonError::io("cannot lock", &paths.lock))?
    {
        Some(_released_at_once) => Ok(()),
        None => Err(DaemonError::Timeout(format!(
            "the daemon (pid {pid}) did not exit within {} s",
            timeout.as_secs()
        ))),
    }
}

/// Nothing answered on the socket. Either no daemon lives (its lock is
/// free: `None`, start one), or one lives but does not answer yet (it is
/// starting or stopping): wait until it answers or exits.
fn wait_unanswered(paths: &Paths) -> Result<Option<Probe>, DaemonError> {
    let deadline = Instant::now() + UNANSWERED_WAIT;
    loop {
        if lock::try_lock(&paths.lock)
            .map_err(DaemonError::io("cannot lock", &paths.lock))?
            .is_some()
        {
            return Ok(None);
        }
        if let Some(p) = probe(paths)? {
            return Ok(Some(p));
        }
        if Instant::now() >= deadline {
            let pid = lock::read_content(&paths.lock).unwrap_or_else(|| "unknown".into());
            return Err(DaemonError::Timeout(format!(
                "a daemon (pid {pid}) holds {} but does not answer on {}",
                paths.lock.display(),
                paths.socket.display()
            )));
        }
        // A rare state (a daemon between taking its lock and listening, or
        // between closing its socket and exiting): look again shortly.
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Asks an older daemon to stop if it is idle, and waits for it to exit.
fn replace(paths: &Paths, mut old: Probe) -> Result<(), DaemonError> {
    let (daemon_version, pid) = (old.greeting.version.clone(), old.greeting.pid);
    let request = Request::Stop {
        refuse_if: vec![BusyKind::Turns, BusyKind::Connections],
    };
    match old.request(&request)? {
        Some(reply) if reply.ok => {
            tracing::info!(
                pid,
                %daemon_version,
                client_version = %version(),
                "replacing an older idle daemon"
            );
        }
        Some(reply) if reply.refusal == Some(Refusal::Busy) => {
            return Err(DaemonError::Busy {
                daemon_version,
                client_version: version(),
                pid,
                busy: reply.error.unwrap_or_else(|| "busy".into()),
                data_dir: paths.data_dir.clone(),
            });
        }
        Some(reply) => {
            return Err(DaemonError::Refused(
                reply.error.unwrap_or_else(|| "no reason given".into()),
            ));
        }
        None => {}
    }
    drop(old);
    wait_exit(paths, pid, EXIT_TIMEOUT)
}

/// Connects to the data directory's daemon, starting it when none answers,
/// and replacing an idle older one.
///
/// # Errors
/// An insecure socket directory, a daemon that cannot start (with what it
/// logged), an older daemon that is busy ([`DaemonError::Busy`]), timeouts.
pub fn connect_or_start(opts: &StartOptions) -> Result<Connected, DaemonError> {
    let paths = Paths::prepare(&opts.data_dir)?;
    let mine = version();
    // The common case: a daemon answers, and is not older than this client.
    if let Some(p) = probe(&paths)?
        && !is_newer(&mine, &p.greeting.version)
        && let Some(c) = p.connect(opts.front)?
    {
        return Ok(c);
    }
    let _starting = lock::lock_within(&paths.start_lock, START_LOCK_WAIT)
        .map_err(DaemonError::io("cannot lock", &paths.start_lock))?
        .ok_or_else(|| {
            DaemonError::Timeout(format!(
                "another client has been starting the daemon for {} s ({} is held)",
                START_LOCK_WAIT.as_secs(),
                paths.start_lock.display()
            ))
        })?;
    for _ in 0..4 {
        let found = match probe(&paths)? {
            Some(p) => Some(p),
            None => wait_unanswered(&paths)?,
        };
        if let Some(p) = found {
            if is_newer(&mine, &p.greeting.version) {
                replace(&paths, p)?;
            } else {
                let pid = p.greeting.pid;
                if let Some(c) = p.connect(opts.front)? {
                    return Ok(c);
                }
                // It is stopping: let it finish, then start another.
                wait_exit(&paths, pid, EXIT_TIMEOUT)?;
            }
        }
        start(&paths, opts)?;
    }
    Err(DaemonError::Timeout(format!(
        "no daemon kept answering on {}",
        paths.socket.display()
    )))
}

/// The log file, opened for appending (rotated first when it is large).
fn open_log(path: &Path) -> Result<File, DaemonError> {
    if std::fs::metadata(path).is_ok_and(|m| m.len() > MAX_LOG_BYTES) {
        let mut old = path.as_os_str().to_owned();
        old.push(".1");
        let _ = std::fs::rename(path, PathBuf::from(old));
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(DaemonError::io("cannot open the daemon log", path))
}

/// What a daemon that failed logged from `offset` on: its warnings and
/// errors, else its last lines.
fn log_since(path: &Path, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        use std::io::Seek;
        let _ = f.seek(std::io::SeekFrom::Start(offset));
        let _ = f.take(256 * 1024).read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let serious: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("ERROR") || l.contains("\"level\":\"ERROR\""))
        .collect();
    let chosen = if serious.is_empty() { lines } else { serious };
    let tail = &chosen[chosen.len().saturating_sub(10)..];
    if tail.is_empty() {
        "it logged nothing".into()
    } else {
        tail.join("\n")
    }
}

/// Starts a daemon and waits until it listens.
fn start(paths: &Paths, opts: &StartOptions) -> Result<(), DaemonError> {
    let exe = std::env::current_exe().map_err(DaemonError::io(
        "cannot find this program",
        "/proc/self/exe",
    ))?;
    let log = open_log(&paths.log)?;
    let offset = log.metadata().map(|m| m.len()).unwrap_or(0);
    let mut child = Command::new(&exe)
        .arg("--data-dir")
        .arg(&paths.data_dir)
        .args(["--log-level", &opts.log_level])
        .args(["--log-format", &opts.log_format])
        .args(["daemon", "run", "--detach", "--idle-exit"])
        .arg(opts.idle_exit.as_secs().to_string())
        .current_dir(&paths.data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .map_err(DaemonError::io("cannot start the daemon", &exe))?;
    let pid = child.id();
    let stdout = child.stdout.take();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("codelab-daemon-ready".into())
        .spawn(move || {
            let mut line = String::new();
            if let Some(out) = stdout {
                let _ = BufReader::new(out).read_line(&mut line);
            }
            let _ = tx.send(line);
        })
        .map_err(DaemonError::io("cannot start a thread for", &exe))?;
    match rx.recv_timeout(READY_TIMEOUT) {
        Ok(line) if line.trim() == "ready" => {
            tracing::info!(pid, log = %paths.log.display(), "started the daemon");
            // Reaps it should it exit while this client lives; when the
            // client exits first, the daemon is adopted by init.
            let _ = std::thread::Builder::new()
                .name("codelab-daemon-reaper".into())
                .spawn(move || {
                    let _ = child.wait();
                });
            Ok(())
        }
        Ok(_) => {
            let status = child
                .wait()
                .map(|s| s.to_string())
                .unwrap_or_else(|e| format!("unknown: {e}"));
            Err(DaemonError::StartFailed {
                status,
                detail: log_since(&paths.log, offset),
                log: paths.log.clone(),
            })
        }
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(DaemonError::Timeout(format!(
                "the daemon did not become ready within {} s (log: {})",
                READY_TIMEOUT.as_secs(),
                paths.log.display()
            )))
        }
    }
}

impl Connected {
    /// Copies stdin to the daemon and the daemon's bytes to stdout until
    /// the daemon closes the connection (after `exit`, or when stdin closed
    /// and the daemon saw the end of it). Returns whether it ended cleanly.
    ///
    /// # Errors
    /// Duplicating stdin or stdout fails.
    pub fn forward_stdio(self) -> Result<bool, DaemonError> {
        let stdin = File::from(
            std::io::stdin()
                .as_fd()
                .try_clone_to_owned()
                .map_err(DaemonError::io("cannot use", "stdin"))?,
        );
        let stdout = File::from(
            std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .map_err(DaemonError::io("cannot use", "stdout"))?,
        );
        self.forward(stdin, stdout)
    }

    /// [`Self::forward_stdio`] over any reader and writer (unbuffered: each
    /// read is written at once).
    ///
    /// # Errors
    /// The socket cannot be duplicated.
    pub fn forward<R, W>(self, mut input: R, mut output: W) -> Result<bool, DaemonError>
    where
        R: Read + Send + 'static,
        W: Write,
    {
        let mut to_daemon = self
            .stream
            .try_clone()
            .map_err(DaemonError::io("cannot use", &self.socket))?;
        std::thread::Builder::new()
            .name("codelab-stdin".into())
            .spawn(move || {
                let r = pump(&mut input, &mut to_daemon);
                tracing::debug!(?r, "stdin ended");
                let _ = to_daemon.shutdown(std::net::Shutdown::Write);
            })
            .map_err(DaemonError::io("cannot start a thread for", &self.socket))?;
        let mut from_daemon = self.reader;
        match pump(&mut from_daemon, &mut output) {
            Ok(_) => {
                let _ = output.flush();
                tracing::debug!("the daemon closed the connection");
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                tracing::debug!("stdout closed");
                Ok(true)
            }
            Err(e) => {
                tracing::warn!(error = %e, pid = self.greeting.pid, "the connection to the daemon broke");
                Ok(false)
            }
        }
    }
}

/// Copies until EOF: each read is written at once.
///
/// Not [`std::io::copy`]: between a socket and a pipe it uses `splice(2)`,
/// which holds the pipe's lock while it waits for the socket, so an editor
/// reading our stdout (or writing our stdin) blocks until the other side
/// speaks: a deadlock for a request/response protocol.
fn pump(from: &mut impl Read, to: &mut impl Write) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// The running daemon's status; `None` when none runs.
///
/// # Errors
/// An insecure socket directory, a daemon that does not answer.
pub fn status(data_dir: &Path) -> Result<Option<Status>, DaemonError> {
    let Some(paths) = Paths::existing(data_dir)? else {
        return Ok(None);
    };
    let Some(mut p) = probe(&paths)? else {
        return Ok(None);
    };
    match p.request(&Request::Status)? {
        Some(Reply {
            ok: true,
            status: Some(s),
            ..
        }) => Ok(Some(s)),
        Some(r) => Err(DaemonError::Refused(
            r.error.unwrap_or_else(|| "no status".into()),
        )),
        None => Ok(None),
    }
}

/// Stops the running daemon and waits until it has exited; returns its
/// pid, or `None` when none runs. Without `force` a daemon with running
/// turns refuses; with it, they are interrupted as by a restart (pending
/// approvals and questions stay in the store and resume when decided).
///
/// # Errors
/// A refusal, an insecure socket directory, a daemon that does not exit.
pub fn stop(data_dir: &Path, force: bool) -> Result<Option<u32>, DaemonError> {
    let Some(paths) = Paths::existing(data_dir)? else {
        return Ok(None);
    };
    let Some(mut p) = probe(&paths)? else {
        return Ok(None);
    };
    let pid = p.greeting.pid;
    let refuse_if = if force {
        Vec::new()
    } else {
        vec![BusyKind::Turns]
    };
    match p.request(&Request::Stop { refuse_if })? {
        Some(r) if !r.ok => {
            return Err(DaemonError::Refused(format!(
                "the daemon (pid {pid}) is busy: {}; `codelab-agent daemon stop --force` \
                 stops it anyway (pending approvals and questions are kept)",
                r.error.unwrap_or_else(|| "busy".into())
            )));
        }
        _ => {}
    }
    drop(p);
    wait_exit(&paths, pid, EXIT_TIMEOUT)?;
    Ok(Some(pid))
}
