//! One ACP connection: its state, its event pump and its lifecycle.
//!
//! The connection attaches to the sessions it opens (`session/new`,
//! `session/load`) with one [`EventQueue`]; the pump takes the events in
//! `seq` order, translates them (`events.rs`) and sends the updates, then
//! starts a permission request for each approval and question
//! (`permission.rs`) without waiting for it, and answers a prompt when its
//! turn ends. Updates are sent before the answer of the prompt they belong
//! to: the pump sends them, in order, before it hands the turn's end to the
//! waiting prompt.

use std::cell::{OnceCell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use agent_client_protocol::{self as acp, Client as _};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio_util::compat::{TokioAsyncReadCompatExt as _, TokioAsyncWriteCompatExt as _};
use tokio_util::sync::CancellationToken;

use super::buffers::ClientBuffers;
use super::editor::{AcpEditor, FsRequest};
use super::events::{Out, SYNTHETIC_QUESTION, SessionView, TurnEnd};
use super::{AcpError, agent, editor, permission, transport};
use crate::core::Core;
use crate::domain::{ApprovalId, Session, SessionEvent, SessionId, TurnId};
use crate::runtime::hub::EventQueue;
use crate::runtime::{ConnId, Runtime};
use crate::tools::Editor;

/// Turn ends kept for prompts that ask after the end arrived.
const FINISHED_KEPT: usize = 16;
/// How long a closing connection waits for the turns it cancelled.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// A session this connection opened.
struct Open {
    view: SessionView,
    waiting: HashMap<TurnId, oneshot::Sender<TurnEnd>>,
    finished: VecDeque<(TurnId, TurnEnd)>,
    /// The questions being asked: their tool call ids, and what stops the
    /// asking.
    questions: Vec<(String, oneshot::Sender<()>)>,
    /// A prompt is starting its turn.
    starting: bool,
    /// `session/cancel` came while a prompt was starting its turn.
    cancel_pending: bool,
    /// The session's title as this client last heard it.
    title: String,
}

/// The state of one ACP connection. Lives on the connection's `LocalSet`.
pub(super) struct Connection {
    /// The runtime.
    pub(super) rt: Arc<Runtime>,
    /// This connection, for the runtime.
    pub(super) id: ConnId,
    /// The queue of the sessions it opened.
    pub(super) queue: Arc<EventQueue>,
    /// How long the client may take to answer a write.
    pub(super) request_timeout: Duration,
    peer: OnceCell<Rc<acp::AgentSideConnection>>,
    client: RefCell<acp::ClientCapabilities>,
    sessions: RefCell<HashMap<SessionId, Open>>,
    approvals: RefCell<HashMap<ApprovalId, oneshot::Sender<()>>>,
    fs: mpsc::UnboundedSender<FsRequest>,
    /// The client's buffers held for the tools.
    pub(super) buffers: ClientBuffers,
}

/// The ACP id of a session.
pub(super) fn acp_id(id: SessionId) -> acp::SessionId {
    acp::SessionId::new(id.to_string())
}

impl Connection {
    /// The client, once connected.
    pub(super) fn peer(&self) -> Option<Rc<acp::AgentSideConnection>> {
        self.peer.get().cloned()
    }

    /// Who decides, for the audit log.
    pub(super) fn by(&self) -> String {
        format!("client:{}", self.id)
    }

    /// Whether the client offers form elicitation (`elicitation/create`).
    pub(super) fn elicits(&self) -> bool {
        self.client
            .borrow()
            .elicitation
            .as_ref()
            .is_some_and(|e| e.form.is_some())
    }

    /// Remembers what the client can do (from `initialize`).
    pub(super) fn set_client(&self, caps: acp::ClientCapabilities) {
        *self.client.borrow_mut() = caps;
    }

    /// The editor of a session: the client's `fs/read_text_file`,
    /// `fs/write_text_file` and `terminal/*`, those it offers; none when it
    /// offers none (the tools read and write the disk, commands run here).
    pub(super) fn editor(&self, session: SessionId) -> Option<Arc<dyn Editor>> {
        let client = self.client.borrow();
        let fs = &client.fs;
        if !fs.read_text_file && !fs.write_text_file && !client.terminal {
            return None;
        }
        Some(Arc::new(AcpEditor {
            session: acp_id(session),
            session_id: session,
            tx: self.fs.clone(),
            timeout: self.request_timeout,
            buffers: self.buffers.clone(),
            reads: fs.read_text_file,
            writes: fs.write_text_file,
            terminal: client.terminal,
        }))
    }

    /// Reads the files a prompt references from the client's buffers, when
    /// it offers `fs/read_text_file`.
    pub(super) async fn read_buffers(&self, session: &acp::SessionId, paths: Vec<PathBuf>) {
        if !self.client.borrow().fs.read_text_file {
            return;
        }
        let Some(peer) = self.peer() else { return };
        self.buffers
            .refresh(&peer, session, paths, self.request_timeout)
            .await;
    }

    /// Opens a session on this connection (idempotent): its events are
    /// translated from now on.
    pub(super) fn open(&self, session: &Session, root: Option<PathBuf>) {
        self.sessions
            .borrow_mut()
            .entry(session.id)
            .or_insert_with(|| Open {
                view: SessionView::new(root),
                waiting: HashMap::new(),
                finished: VecDeque::new(),
                questions: Vec::new(),
                starting: false,
                cancel_pending: false,
                title: session.title.clone(),
            });
    }

    /// Shows the client's terminal in the tool call whose command it runs.
    pub(super) async fn show_terminal(
        &self,
        session: SessionId,
        acp_session: &acp::SessionId,
        call: &str,
        terminal: acp::TerminalId,
    ) {
        let update = self
            .sessions
            .borrow_mut()
            .get_mut(&session)
            .and_then(|open| open.view.terminal(call, terminal));
        if let Some(update) = update {
            self.notify(acp_session, update).await;
        }
    }

    /// After a turn: a `session_info_update` when the session's title
    /// changed since the client last heard it (an untitled session takes
    /// its first message's), before the prompt's answer.
    async fn announce_title(&self, session: SessionId) {
        let s = match self.rt.get_session(session).await {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(%session, "cannot read the session's title: {e}");
                return;
            }
        };
        let changed = self
            .sessions
            .borrow_mut()
            .get_mut(&session)
            .is_some_and(|open| {
                let changed = open.title != s.title;
                open.title.clone_from(&s.title);
                changed
            });
        if changed {
            let info = acp::SessionInfoUpdate::new()
                .title(s.title)
                .updated_at(s.updated_at.to_rfc3339());
            self.notify(
                &acp_id(session),
                acp::SessionUpdate::SessionInfoUpdate(info),
            )
            .await;
        }
    }

    /// Closes a session on this connection (`session/close`): its running
    /// turn is cancelled, a prompt still waiting is answered `cancelled`,
    /// the MCP servers the client gave it stop, and its events stop
    /// reaching this connection. The session itself stays (other editors
    /// may use it; `session/load` reopens it with the servers it names).
    pub(super) async fn close_session(&self, session: SessionId) {
        if self.rt.is_running(session) {
            self.cancel_requested(session).await;
        }
        self.rt.drop_session_mcp_servers(session).await;
        self.rt.detach(session, self.id);
        let open = self.sessions.borrow_mut().remove(&session);
        if let Some(mut open) = open {
            for (_, q) in open.questions.drain(..) {
                let _ = q.send(());
            }
            for (_, tx) in open.waiting.drain() {
                let _ = tx.send(TurnEnd {
                    stop: crate::domain::StopReason::Cancelled,
                    error: None,
                });
            }
        }
    }

    /// Whether this connection opened the session.
    pub(super) fn is_open(&self, session: SessionId) -> bool {
        self.sessions.borrow().contains_key(&session)
    }

    /// The workspace folder of an open session.
    pub(super) fn root(&self, session: SessionId) -> Option<PathBuf> {
        self.sessions
            .borrow()
            .get(&session)
            .and_then(|o| o.view.root.clone())
    }

    /// Resolves with how a turn ended (at once if it already did).
    pub(super) fn wait_turn(&self, session: SessionId, turn: TurnId) -> oneshot::Receiver<TurnEnd> {
        let (tx, rx) = oneshot::channel();
        let mut sessions = self.sessions.borrow_mut();
        let Some(open) = sessions.get_mut(&session) else {
            return rx;
        };
        match open.finished.iter().position(|(t, _)| *t == turn) {
            Some(i) => {
                if let Some((_, end)) = open.finished.remove(i) {
                    let _ = tx.send(end);
                }
            }
            None => {
                open.waiting.insert(turn, tx);
            }
        }
        rx
    }

    fn turn_ended(&self, session: SessionId, turn: TurnId, end: TurnEnd) {
        let mut sessions = self.sessions.borrow_mut();
        let Some(open) = sessions.get_mut(&session) else {
            return;
        };
        for (_, q) in open.questions.drain(..) {
            let _ = q.send(());
        }
        match open.waiting.remove(&turn) {
            Some(tx) => {
                let _ = tx.send(end);
            }
            None => {
                open.finished.push_back((turn, end));
                if open.finished.len() > FINISHED_KEPT {
                    open.finished.pop_front();
                }
            }
        }
    }

    /// Sends one `session/update`.
    pub(super) async fn notify(&self, session: &acp::SessionId, update: acp::SessionUpdate) {
        let Some(peer) = self.peer() else { return };
        let n = acp::SessionNotification::new(session.clone(), update);
        if let Err(e) = peer.session_notification(n).await {
            tracing::debug!("cannot send a session update: {e}");
        }
    }

    /// A prompt starts its turn: a `session/cancel` that arrives before the
    /// turn is running is kept for it.
    pub(super) fn prompt_starting(&self, session: SessionId) {
        if let Some(open) = self.sessions.borrow_mut().get_mut(&session) {
            open.starting = true;
            open.cancel_pending = false;
        }
    }

    /// The prompt's turn runs (or did not start): whether a `session/cancel`
    /// came meanwhile.
    pub(super) fn prompt_started(&self, session: SessionId) -> bool {
        self.sessions
            .borrow_mut()
            .get_mut(&session)
            .is_some_and(|open| {
                open.starting = false;
                std::mem::take(&mut open.cancel_pending)
            })
    }

    /// `session/cancel`: cancels the running turn, or the one a prompt is
    /// starting.
    pub(super) async fn cancel_requested(&self, session: SessionId) {
        if let Some(open) = self.sessions.borrow_mut().get_mut(&session)
            && open.starting
        {
            open.cancel_pending = true;
        }
        self.cancel_turn(session).await;
    }

    /// Cancels a session's running turn, if any.
    pub(super) async fn cancel_turn(&self, session: SessionId) {
        if let Err(e) = self.rt.cancel_turn(session).await {
            tracing::debug!(%session, "cannot cancel: {e}");
        }
    }

    fn watch_approval(&self, id: ApprovalId) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        self.approvals.borrow_mut().insert(id, tx);
        rx
    }

    /// Stops watching an approval (its request was answered).
    pub(super) fn forget_approval(&self, id: ApprovalId) {
        self.approvals.borrow_mut().remove(&id);
    }

    /// Resolves when the question asked in tool call `call` is resolved
    /// (answered by anyone), or its turn ends.
    fn watch_question(&self, session: SessionId, call: &str) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        if let Some(open) = self.sessions.borrow_mut().get_mut(&session) {
            open.questions.push((call.to_owned(), tx));
        }
        rx
    }

    /// The question of tool call `call` was answered (by anyone): stop
    /// asking it, and any question shown in a made-up tool call (they
    /// belong to the same turn, which asks one question at a time).
    fn question_done(&self, session: SessionId, call: &str) {
        let done: Vec<(String, oneshot::Sender<()>)> = {
            let mut sessions = self.sessions.borrow_mut();
            let Some(open) = sessions.get_mut(&session) else {
                return;
            };
            let (done, asking) = std::mem::take(&mut open.questions)
                .into_iter()
                .partition(|(id, _)| id == call || id.starts_with(SYNTHETIC_QUESTION));
            open.questions = asking;
            done
        };
        for (_, tx) in done {
            let _ = tx.send(());
        }
    }

    /// Handles one event of an open session.
    async fn dispatch(self: &Rc<Self>, event: &SessionEvent) {
        let outs = {
            let mut sessions = self.sessions.borrow_mut();
            let Some(open) = sessions.get_mut(&event.session_id) else {
                return;
            };
            open.view.translate(event)
        };
        let sid = acp_id(event.session_id);
        for out in outs {
            match out {
                Out::Update(u) => self.notify(&sid, u).await,
                Out::Approval(approval, call) => {
                    let resolved = self.watch_approval(approval.id);
                    tokio::task::spawn_local(permission::ask_approval(
                        Rc::clone(self),
                        sid.clone(),
                        approval,
                        call,
                        resolved,
                    ));
                }
                Out::Question {
                    question,
                    call,
                    synthetic,
                } => {
                    let resolved = self.watch_question(event.session_id, &call.tool_call_id.0);
                    tokio::task::spawn_local(permission::ask_question(
                        Rc::clone(self),
                        sid.clone(),
                        question,
                        call,
                        synthetic,
                        resolved,
                    ));
                }
                Out::QuestionDone(call) => self.question_done(event.session_id, &call),
                Out::Resolved(id) => {
                    if let Some(tx) = self.approvals.borrow_mut().remove(&id) {
                        let _ = tx.send(());
                    }
                }
                Out::TurnEnded { turn, end } => {
                    self.announce_title(event.session_id).await;
                    self.turn_ended(event.session_id, turn, end);
                }
                Out::ConfigChanged => match self.rt.get_session(event.session_id).await {
                    Ok(session) => match super::agent::config_options(self, &session) {
                        Ok(options) => {
                            self.notify(
                                &sid,
                                acp::SessionUpdate::ConfigOptionUpdate(
                                    acp::ConfigOptionUpdate::new(options),
                                ),
                            )
                            .await;
                        }
                        Err(e) => tracing::debug!("no configuration options: {e}"),
                    },
                    Err(e) => tracing::debug!("no configuration options: {e}"),
                },
            }
        }
    }

    /// The client is gone: cancels the turns its prompts are waiting for and
    /// waits (bounded) for them to end, so their history is closed properly.
    async fn close(&self) {
        let running: Vec<(SessionId, Vec<TurnId>)> = self
            .sessions
            .borrow()
            .iter()
            .filter(|(_, o)| !o.waiting.is_empty())
            .map(|(s, o)| (*s, o.waiting.keys().copied().collect()))
            .collect();
        let mut ends = Vec::new();
        for (session, turns) in running {
            for turn in turns {
                let (tx, rx) = oneshot::channel();
                if let Some(open) = self.sessions.borrow_mut().get_mut(&session) {
                    // The prompt's own waiter is dropped with its connection.
                    open.waiting.insert(turn, tx);
                }
                ends.push(rx);
            }
            self.cancel_turn(session).await;
        }
        if !ends.is_empty()
            && tokio::time::timeout(CLOSE_WAIT, futures::future::join_all(ends))
                .await
                .is_err()
        {
            tracing::warn!("turns of a closed ACP connection did not end in time");
        }
        // The MCP servers this client gave its sessions go with it.
        let open: Vec<SessionId> = self.sessions.borrow().keys().copied().collect();
        for session in open {
            self.rt.drop_session_mcp_servers(session).await;
        }
    }
}

/// Takes the connection's events in order and handles them.
async fn pump(conn: Rc<Connection>, mut rx: mpsc::Receiver<Arc<SessionEvent>>) {
    while let Some(event) = conn.queue.next(&mut rx).await {
        conn.dispatch(&event).await;
    }
}

/// Serves one client until `input` ends (or the client stops reading its
/// events), then cancels what its prompts started.
pub(super) async fn run<R, W>(core: Arc<Core>, input: R, output: W) -> Result<(), AcpError>
where
    R: AsyncRead + Unpin + 'static,
    W: AsyncWrite + Unpin + 'static,
{
    let kick = CancellationToken::new();
    let (queue, events) = EventQueue::new(4096, 8 * 1024 * 1024, kick.clone());
    let (fs_tx, fs_rx) = mpsc::unbounded_channel();
    let id = core.next_conn_id();
    let conn = Rc::new(Connection {
        rt: Arc::clone(&core.runtime),
        id,
        buffers: ClientBuffers::new(core.runtime.docs().register(id)),
        queue,
        request_timeout: core.config.client_request_timeout,
        peer: OnceCell::new(),
        client: RefCell::new(acp::ClientCapabilities::default()),
        sessions: RefCell::new(HashMap::new()),
        approvals: RefCell::new(HashMap::new()),
        fs: fs_tx,
    });
    tracing::info!(conn = conn.id, "ACP connection open");

    // The client's lines reach the SDK through `to_sdk`; the SDK's output and
    // the framing's own answers reach stdout through `out`.
    let (to_sdk, sdk_in) = tokio::io::duplex(64 * 1024);
    let (sdk_out, from_sdk) = tokio::io::duplex(64 * 1024);
    let (out, out_rx) = mpsc::unbounded_channel();
    let writer = tokio::task::spawn_local(transport::write_lines(output, out_rx));
    let forward = tokio::task::spawn_local(transport::forward_lines(from_sdk, out.clone()));
    let (peer, io) = acp::AgentSideConnection::new(
        agent::CodelabAgent::new(Rc::clone(&conn)),
        sdk_out.compat_write(),
        sdk_in.compat(),
        |f| {
            tokio::task::spawn_local(f);
        },
    );
    let peer = Rc::new(peer);
    let _ = conn.peer.set(Rc::clone(&peer));
    let io = tokio::task::spawn_local(io);
    let pump = tokio::task::spawn_local(pump(Rc::clone(&conn), events));
    let fs = tokio::task::spawn_local(editor::serve(Rc::clone(&conn), peer, fs_rx));

    let reading = transport::read_lines(input, core.config.max_message_bytes, to_sdk, out);
    let end = tokio::select! {
        r = reading => r.map_err(AcpError::Io),
        () = kick.cancelled() => Err(AcpError::Kicked),
    };
    conn.close().await;
    pump.abort();
    fs.abort();
    match io.await {
        Ok(Err(e)) => tracing::warn!("the ACP connection ended with an error: {e}"),
        Err(e) => tracing::warn!("the ACP connection task failed: {e}"),
        Ok(Ok(())) => {}
    }
    let _ = forward.await;
    conn.rt.disconnect(conn.id);
    tracing::info!(conn = conn.id, "ACP connection closed");
    // Everything the SDK wrote is flushed before the process goes.
    match writer.await {
        Ok(Err(e)) if end.is_ok() => Err(AcpError::Io(e)),
        _ => end,
    }
}
