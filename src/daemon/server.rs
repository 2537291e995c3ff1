//! The daemon: takes the data directory's daemon lock, opens the core,
//! listens on the private socket, and runs each accepted LSP connection
//! through [`serve_io`] over the shared core. Exits when idle (no LSP
//! connection and no running work for the idle time), on a `stop` request,
//! or on SIGTERM/SIGINT.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

use super::handshake::{self, BusyKind, Greeting, HANDSHAKE, Refusal, Reply, Request, Status};
use super::lock::{self, LockFile};
use super::paths::{Paths, check_socket, euid};
use super::{DaemonError, version};
use crate::config::Config;
use crate::core::Core;
use crate::server::stdio::serve_io;

/// How long a client has to send its request after the greeting.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// How the daemon runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The process settings (the data directory among them).
    pub config: Config,
    /// Exit after this long with no LSP connection and no running work.
    pub idle_exit: Duration,
    /// Started by a client: leave the client's session (`setsid`), and say
    /// `ready` on stdout once listening, then point stdout at `/dev/null`.
    pub detached: bool,
}

/// A daemon that has stopped. Keep it until the process exits: its lock
/// tells clients the daemon is gone only once the process has ended.
#[derive(Debug)]
pub struct Stopped {
    /// The daemon lock, still held.
    pub lock: LockFile,
    /// Why it stopped.
    pub reason: String,
}

struct State {
    connections: usize,
    stopping: Option<String>,
    /// When the daemon last had a connection or running work.
    last_busy: Instant,
    /// When the last connection ended (or the daemon started).
    unconnected_since: Instant,
    /// Whether "work keeps the daemon" was logged in this idle period.
    noted_work: bool,
}

struct Daemon {
    core: Arc<Core>,
    paths: Paths,
    idle_exit: Duration,
    version: String,
    started: Instant,
    started_at: chrono::DateTime<chrono::Utc>,
    state: Mutex<State>,
    stop: CancellationToken,
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Runs the daemon until it stops.
///
/// # Errors
/// Another daemon holds the lock, the directory or socket is not private,
/// the core cannot open (store locked by a standalone process, an invalid
/// configuration), or the socket cannot be bound.
pub async fn run(opts: Options) -> Result<Stopped, DaemonError> {
    if opts.detached
        && let Err(e) = nix::unistd::setsid()
    {
        tracing::warn!(error = %e, "cannot start a new session");
    }
    let paths = Paths::prepare(&opts.config.data_dir)?;
    let mut lock = lock::try_lock(&paths.lock)
        .map_err(DaemonError::io("cannot lock", &paths.lock))?
        .ok_or_else(|| DaemonError::AlreadyRunning {
            pid: lock::read_content(&paths.lock).and_then(|p| p.parse().ok()),
            data_dir: paths.data_dir.clone(),
        })?;
    lock.write_content(&std::process::id().to_string())
        .map_err(DaemonError::io("cannot write", &paths.lock))?;
    let mut config = opts.config.clone();
    config.data_dir.clone_from(&paths.data_dir);
    let core = Arc::new(Core::open(config)?);
    tracing::info!(store = %core.runtime.store().describe(), "store open");
    core.start_background();
    // Holding the daemon lock, nothing else listens here: whatever socket is
    // left is stale (a daemon that was killed), and is replaced.
    check_socket(&paths.socket)?;
    match std::fs::remove_file(&paths.socket) {
        Ok(()) => tracing::info!(socket = %paths.socket.display(), "removed a stale socket"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(DaemonError::io(
                "cannot remove the stale socket",
                &paths.socket,
            )(e));
        }
    }
    let listener = UnixListener::bind(&paths.socket)
        .map_err(DaemonError::io("cannot listen on", &paths.socket))?;
    std::fs::set_permissions(&paths.socket, std::fs::Permissions::from_mode(0o600))
        .map_err(DaemonError::io("cannot restrict", &paths.socket))?;
    let inode = std::fs::symlink_metadata(&paths.socket)
        .map(|m| m.ino())
        .map_err(DaemonError::io("cannot inspect", &paths.socket))?;
    let version = version();
    tracing::info!(
        pid = std::process::id(),
        %version,
        socket = %paths.socket.display(),
        idle_exit_secs = opts.idle_exit.as_secs(),
        "daemon listening"
    );
    if opts.detached {
        announce_ready().map_err(DaemonError::io("cannot report readiness on", "stdout"))?;
    }
    let now = Instant::now();
    let daemon = Arc::new(Daemon {
        core,
        paths,
        idle_exit: opts.idle_exit,
        version,
        started: now,
        started_at: chrono::Utc::now(),
        state: Mutex::new(State {
            connections: 0,
            stopping: None,
            last_busy: now,
            unconnected_since: now,
            noted_work: false,
        }),
        stop: CancellationToken::new(),
    });
    daemon.serve(listener).await;
    // Only our own socket is removed (a later daemon's never is: it cannot
    // exist while we hold the lock, but the check costs nothing).
    if std::fs::symlink_metadata(&daemon.paths.socket).is_ok_and(|m| m.ino() == inode) {
        let _ = std::fs::remove_file(&daemon.paths.socket);
    }
    daemon.core.runtime.store().close().await;
    let reason = daemon
        .lock_state()
        .stopping
        .clone()
        .unwrap_or_else(|| "stopped".into());
    tracing::info!(%reason, "daemon stopped");
    Ok(Stopped { lock, reason })
}

/// Tells the client that started us that we listen, then detaches stdout.
fn announce_ready() -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(b"ready\n")?;
    out.flush()?;
    drop(out);
    let null = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
    nix::unistd::dup2_stdout(&null).map_err(std::io::Error::from)
}

/// How often the idle state is checked.
fn check_interval(idle: Duration) -> Duration {
    (idle / 4).clamp(Duration::from_millis(50), Duration::from_secs(5))
}

/// Counts an LSP connection while it lives.
struct Registered(Arc<Daemon>);

impl Drop for Registered {
    fn drop(&mut self) {
        let mut st = self.0.lock_state();
        st.connections = st.connections.saturating_sub(1);
        if st.connections == 0 {
            let now = Instant::now();
            st.unconnected_since = now;
            st.last_busy = now;
            st.noted_work = false;
        }
    }
}

impl Daemon {
    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn serve(self: &Arc<Self>, listener: UnixListener) {
        let mut tasks = tokio::task::JoinSet::new();
        let period = check_interval(self.idle_exit);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut term = signal(tokio::signal::unix::SignalKind::terminate());
        let mut int = signal(tokio::signal::unix::SignalKind::interrupt());
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let daemon = Arc::clone(self);
                        tasks.spawn(async move { daemon.handle(stream).await });
                    }
                    Err(e) => {
                        // Out of descriptors, most likely: let connections end.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                _ = tick.tick() => self.check_idle(),
                () = self.stop.cancelled() => break,
                Some(()) = recv(&mut term) => self.begin_stop("SIGTERM"),
                Some(()) = recv(&mut int) => self.begin_stop("SIGINT"),
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        drop(listener);
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }

    fn begin_stop(&self, reason: &str) {
        let mut st = self.lock_state();
        if st.stopping.is_none() {
            st.stopping = Some(reason.to_owned());
        }
        drop(st);
        self.stop.cancel();
    }

    fn check_idle(&self) {
        let work = self.core.runtime.has_running_work();
        let mut st = self.lock_state();
        if st.stopping.is_some() || st.connections > 0 {
            return;
        }
        let now = Instant::now();
        if work {
            st.last_busy = now;
            if !st.noted_work && now.duration_since(st.unconnected_since) >= self.idle_exit {
                st.noted_work = true;
                tracing::info!(
                    running_turns = self.core.runtime.running_turns(),
                    "no editor connected for the idle time, but work is running: \
                     staying until it ends"
                );
            }
            return;
        }
        let idle = now.duration_since(st.last_busy);
        if idle >= self.idle_exit {
            st.stopping = Some(format!("idle for {} s", idle.as_secs()));
            drop(st);
            self.stop.cancel();
        }
    }

    /// Counts a new LSP connection, unless the daemon is stopping.
    fn register(self: &Arc<Self>) -> Option<Registered> {
        let mut st = self.lock_state();
        if st.stopping.is_some() {
            return None;
        }
        st.connections += 1;
        st.noted_work = false;
        Some(Registered(Arc::clone(self)))
    }

    fn status(&self) -> Status {
        let connections = self.lock_state().connections;
        Status {
            pid: std::process::id(),
            version: self.version.clone(),
            data_dir: self.paths.data_dir.clone(),
            socket: self.paths.socket.clone(),
            log: self.paths.log.clone(),
            started_at: self.started_at.to_rfc3339(),
            uptime_secs: self.started.elapsed().as_secs(),
            connections,
            running_turns: self.core.runtime.running_turns(),
            idle_exit_secs: self.idle_exit.as_secs(),
        }
    }

    /// Decides a stop request: `Err` (what keeps it busy) while one of
    /// `refuse_if` holds; otherwise the daemon is marked as stopping (no new
    /// connection is accepted from here on) and the caller answers, then
    /// cancels.
    fn decide_stop(&self, refuse_if: &[BusyKind]) -> Result<(), String> {
        let mut st = self.lock_state();
        if st.stopping.is_some() {
            return Ok(());
        }
        let mut busy = Vec::new();
        if refuse_if.contains(&BusyKind::Turns) && self.core.runtime.has_running_work() {
            busy.push(plural(
                self.core.runtime.running_turns(),
                "running turn",
                "running turns",
            ));
        }
        if refuse_if.contains(&BusyKind::Connections) && st.connections > 0 {
            busy.push(format!(
                "{} connected",
                plural(st.connections, "editor", "editors")
            ));
        }
        if !busy.is_empty() {
            return Err(busy.join(", "));
        }
        st.stopping = Some("stop requested".into());
        Ok(())
    }

    async fn handle(self: Arc<Self>, stream: UnixStream) {
        match stream.peer_cred() {
            Ok(cred) if cred.uid() == euid() || cred.uid() == 0 => {}
            Ok(cred) => {
                tracing::warn!(uid = cred.uid(), "refusing a connection from another user");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the peer's credentials; refusing");
                return;
            }
        }
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        let greeting = Greeting {
            codelab: "daemon".into(),
            handshake: HANDSHAKE,
            version: self.version.clone(),
            pid: std::process::id(),
        };
        if write_line(&mut w, &greeting).await.is_err() {
            return;
        }
        let line = match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake::read_line(&mut r)).await
        {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => {
                tracing::debug!("a client left during the handshake");
                return;
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "a broken handshake");
                return;
            }
            Err(_) => {
                tracing::debug!("a client sent no request in time");
                return;
            }
        };
        let request: Request = match handshake::parse(&line) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "an invalid handshake request");
                let _ = write_line(&mut w, &Reply::refused(Refusal::BadRequest, e)).await;
                return;
            }
        };
        match request {
            Request::Lsp { version, pid } => {
                let Some(registered) = self.register() else {
                    let _ = write_line(
                        &mut w,
                        &Reply::refused(Refusal::Stopping, "the daemon is stopping"),
                    )
                    .await;
                    return;
                };
                if write_line(&mut w, &Reply::ok()).await.is_err() {
                    return;
                }
                tracing::info!(client_pid = pid, client_version = %version, "editor connected");
                let end = tokio::select! {
                    end = serve_io(Arc::clone(&self.core), r, w) => Some(end),
                    () = self.stop.cancelled() => None,
                };
                tracing::info!(client_pid = pid, ?end, "editor disconnected");
                drop(registered);
            }
            Request::Acp { version, pid } => {
                let Some(registered) = self.register() else {
                    let _ = write_line(
                        &mut w,
                        &Reply::refused(Refusal::Stopping, "the daemon is stopping"),
                    )
                    .await;
                    return;
                };
                if write_line(&mut w, &Reply::ok()).await.is_err() {
                    return;
                }
                tracing::info!(client_pid = pid, client_version = %version, "ACP editor connected");
                // The ACP SDK's futures are not `Send`: the connection runs
                // on a thread of its own, inside this runtime (so turns and
                // I/O stay on the shared workers), and ends with the daemon.
                let (done, ended) = tokio::sync::oneshot::channel();
                let core = Arc::clone(&self.core);
                let stop = self.stop.clone();
                let handle = tokio::runtime::Handle::current();
                let spawned = std::thread::Builder::new()
                    .name("codelab-acp".into())
                    .spawn(move || {
                        let end = handle.block_on(async move {
                            tokio::select! {
                                end = crate::acp::serve_io(core, r, w) => Some(end),
                                () = stop.cancelled() => None,
                            }
                        });
                        let _ = done.send(end);
                    });
                match spawned {
                    Ok(_) => {
                        let end = ended.await.ok().flatten();
                        tracing::info!(client_pid = pid, ?end, "ACP editor disconnected");
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot start a thread for an ACP connection")
                    }
                }
                drop(registered);
            }
            Request::Status => {
                let reply = Reply {
                    status: Some(self.status()),
                    ..Reply::ok()
                };
                let _ = write_line(&mut w, &reply).await;
            }
            Request::Stop { refuse_if } => match self.decide_stop(&refuse_if) {
                Ok(()) => {
                    tracing::info!(?refuse_if, "stopping on request");
                    let _ = write_line(&mut w, &Reply::ok()).await;
                    let _ = w.shutdown().await;
                    self.stop.cancel();
                }
                Err(busy) => {
                    tracing::info!(%busy, "refusing to stop: busy");
                    let _ = write_line(&mut w, &Reply::refused(Refusal::Busy, busy)).await;
                }
            },
        }
    }
}

async fn write_line<W, T>(w: &mut W, value: &T) -> std::io::Result<()>
where
    W: tokio::io::AsyncWrite + Unpin,
    T: serde::Serialize,
{
    w.write_all(&handshake::line(value)?).await?;
    w.flush().await
}

fn signal(kind: tokio::signal::unix::SignalKind) -> Option<tokio::signal::unix::Signal> {
    match tokio::signal::unix::signal(kind) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for a signal");
            None
        }
    }
}

async fn recv(s: &mut Option<tokio::signal::unix::Signal>) -> Option<()> {
    match s {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}
