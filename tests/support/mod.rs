//! The end-to-end test client: speaks the protocol to the real
//! `codelab-agent` binary (over stdio or the websocket) or to an in-process
//! server ([`inprocess::InProcess`]: the library's connection driver over
//! in-memory pipes, no process spawned).
//!
//! Every message the server sends is queued; tests take what they expect. The
//! typed API ([`Client::call_typed`], [`Client::error_typed`],
//! [`Client::expect`], [`Client::expect_where`], in `typed.rs`) sends and
//! reads the crate's own wire types; the JSON API ([`Client::request`],
//! [`Client::call`], [`Client::expect_notification`], raw bytes) stays for
//! tests about the raw wire. Server-to-client requests are answered by a
//! handler. [`Client::finish`] shuts the server down and fails the test if any
//! message went unconsumed, or if anything but well-formed protocol reached
//! the client.

#![allow(dead_code, clippy::unwrap_used, clippy::print_stderr)]

use std::collections::VecDeque;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message as WsMessage;

pub mod host;
pub mod hostile;
pub mod mcp;

/// How long a test waits for any single expected message.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The websocket token the test servers use.
pub const TOKEN: &str = "test-token-0123456789abcdef";

/// The binary under test.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_codelab-agent")
}

/// The stderr of a server process, collected for failure messages.
#[derive(Clone)]
pub struct Logs(
    Arc<Mutex<String>>,
    Arc<tokio::sync::watch::Sender<u64>>,
    Arc<std::sync::atomic::AtomicBool>,
);

impl Default for Logs {
    fn default() -> Self {
        Self(
            Arc::default(),
            Arc::new(tokio::sync::watch::channel(0).0),
            Arc::default(),
        )
    }
}

impl Logs {
    pub fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
    fn push(&self, line: &str) {
        let mut s = self.0.lock().unwrap();
        s.push_str(line);
        s.push('\n');
        self.1.send_modify(|n| *n += 1);
    }
    /// Appends text as it is (already ending in a newline where one belongs).
    pub(crate) fn append(&self, text: &str) {
        self.0.lock().unwrap().push_str(text);
        self.1.send_modify(|n| *n += 1);
    }
    /// Marks the end of the stream.
    fn close(&self) {
        self.2.store(true, std::sync::atomic::Ordering::SeqCst);
        self.1.send_modify(|n| *n += 1);
    }
    /// Waits until the stream ended (the process closed its stderr) and
    /// returns all of it.
    pub async fn wait_closed(&self) -> String {
        let closed = Arc::clone(&self.2);
        self.wait_for(|t| {
            closed
                .load(std::sync::atomic::Ordering::SeqCst)
                .then(|| t.to_owned())
        })
        .await
    }
    /// Waits until `find` returns something for the text logged so far.
    pub async fn wait_for<T>(&self, mut find: impl FnMut(&str) -> Option<T>) -> T {
        let mut rx = self.1.subscribe();
        tokio::time::timeout(TIMEOUT, async {
            loop {
                if let Some(found) = find(&self.text()) {
                    return found;
                }
                if rx.changed().await.is_err() {
                    panic!("stderr closed; log:\n{}", self.text());
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting in the server log:\n{}", self.text()))
    }
}

/// A running server process.
pub struct ServerProcess {
    pub child: Child,
    pub logs: Logs,
    pub addr: Option<String>,
    stdin: Option<ChildStdin>,
    stdout: Option<tokio::process::ChildStdout>,
}

/// `GET path` on a `serve` server (with the test token): status and body.
pub async fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nX-Internal-Auth: {}\r\n\r\n",
        TOKEN
    );
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

fn command(data_dir: &Path) -> Command {
    command_in(&[], data_dir)
}

/// The binary's command, run through `prefix` (a wrapper command and its
/// arguments, the binary appended) when it is not empty.
fn command_in(prefix: &[&str], data_dir: &Path) -> Command {
    let mut cmd = match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(binary());
            c
        }
        None => Command::new(binary()),
    };
    cmd.arg("--data-dir")
        .arg(data_dir)
        .arg("--log-level")
        .arg("debug")
        .env_remove("RUST_LOG");
    for var in [
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "CODELAB_PROVIDER",
        "CODELAB_MODEL",
        "CODELAB_DATA_DIR",
        // Daemons of tests keep their socket in the test's data dir.
        "XDG_RUNTIME_DIR",
        codelab_agent::daemon::IDLE_ENV,
        codelab_agent::daemon::VERSION_OVERRIDE_ENV,
    ] {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

impl ServerProcess {
    /// Starts `codelab-agent --stdio --standalone`: one process serving one
    /// client, the store open in it (killing it kills the server).
    pub fn stdio(data_dir: &Path) -> Self {
        Self::stdio_env(data_dir, &[])
    }

    /// Starts `codelab-agent --stdio --standalone` with extra environment
    /// variables.
    pub fn stdio_env(data_dir: &Path, env: &[(&str, String)]) -> Self {
        let mut cmd = command(data_dir);
        cmd.args(["--stdio", "--standalone"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::spawn(cmd)
    }

    /// Starts `codelab-agent --stdio` as editors do: a forwarder to the data
    /// dir's daemon, which it starts when none runs (with this environment,
    /// and an idle exit of [`daemon::TEST_IDLE_SECS`] unless `env` sets
    /// `CODELAB_DAEMON_IDLE_SECS`). `child` is the forwarder; see
    /// [`daemon`] for the daemon itself.
    pub fn daemon_client(data_dir: &Path, env: &[(&str, String)]) -> Self {
        let mut cmd = command(data_dir);
        cmd.arg("--stdio")
            .env(codelab_agent::daemon::IDLE_ENV, daemon::TEST_IDLE_SECS);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::spawn(cmd)
    }

    /// Starts `codelab-agent serve` with extra environment variables.
    pub async fn websocket_env(data_dir: &Path, env: &[(&str, String)]) -> Self {
        Self::websocket_args(
            data_dir,
            env,
            &["--rate-limit", "1000000", "--token-rate-limit", "1000000"],
        )
        .await
    }

    /// Starts `codelab-agent serve` with extra environment variables and arguments.
    pub async fn websocket_args(data_dir: &Path, env: &[(&str, String)], args: &[&str]) -> Self {
        Self::websocket_in(&[], data_dir, env, args).await
    }

    /// Starts `codelab-agent serve` through a wrapper command (`prefix`, the
    /// binary and its arguments appended), e.g. `unshare`.
    pub async fn websocket_in(
        prefix: &[&str],
        data_dir: &Path,
        env: &[(&str, String)],
        args: &[&str],
    ) -> Self {
        let mut cmd = command_in(prefix, data_dir);
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .env("CODELAB_AUTH_TOKEN", TOKEN);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Self::listening(Self::spawn(cmd)).await
    }

    /// Starts `codelab-agent serve` on a free loopback port and waits until it listens.
    pub async fn websocket(data_dir: &Path) -> Self {
        Self::websocket_env(data_dir, &[]).await
    }

    async fn listening(mut server: Self) -> Self {
        let addr = server
            .logs
            .wait_for(|text| {
                text.lines().find_map(|l| {
                    l.split("listening on http://")
                        .nth(1)
                        .map(|a| a.split_whitespace().next().unwrap_or("").to_owned())
                })
            })
            .await;
        server.addr = Some(addr);
        server
    }

    fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd.spawn().expect("spawn codelab-agent");
        let logs = Logs::default();
        let stderr = child.stderr.take().expect("stderr");
        let sink = logs.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                sink.push(&line);
            }
            sink.close();
        });
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        Self {
            child,
            logs,
            addr: None,
            stdin,
            stdout,
        }
    }

    /// The websocket URL.
    pub fn ws_url(&self) -> String {
        format!(
            "ws://{}/lsp",
            self.addr.as_deref().expect("a websocket server")
        )
    }

    /// The process's stdin and stdout, raw (instead of [`Self::stdio_client`]).
    pub fn take_stdio(&mut self) -> (ChildStdin, tokio::process::ChildStdout) {
        (
            self.stdin.take().expect("stdin already taken"),
            self.stdout.take().expect("stdout already taken"),
        )
    }

    /// Connects an LSP client over stdio (once per process).
    pub fn stdio_client(&mut self) -> Client {
        let stdin = self.stdin.take().expect("stdio client already taken");
        let stdout = self.stdout.take().expect("stdout");
        framed_client(stdout, stdin, self.logs.clone())
    }

    /// Connects an LSP client over the websocket, with the token.
    pub async fn ws_client(&self) -> Client {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut req = self.ws_url().into_client_request().unwrap();
        req.headers_mut()
            .insert("x-internal-auth", TOKEN.parse().unwrap());
        let (ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("websocket connect");
        let (mut sink, mut stream) = ws.split();
        let (tx, rx) = mpsc::unbounded_channel();
        let garbage = Arc::new(Mutex::new(Vec::new()));
        let g = Arc::clone(&garbage);
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                match msg {
                    WsMessage::Text(t) => match serde_json::from_str::<Value>(&t) {
                        Ok(v) => {
                            let _ = tx.send(v);
                        }
                        Err(_) => g.lock().unwrap().push(t.to_string()),
                    },
                    WsMessage::Close(_) => break,
                    _ => {}
                }
            }
        });
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Out>();
        tokio::spawn(async move {
            while let Some(out) = out_rx.recv().await {
                let msg = match out {
                    Out::Text(text) => WsMessage::Text(text.into()),
                    Out::Bytes(bytes) => WsMessage::Binary(bytes.into()),
                };
                if sink.send(msg).await.is_err() {
                    return;
                }
            }
            let _ = sink.close().await;
        });
        Client::new(out_tx, rx, self.logs.clone(), garbage)
    }

    /// Waits for the process to exit and returns its exit code.
    pub async fn wait(&mut self) -> Option<i32> {
        tokio::time::timeout(TIMEOUT, self.child.wait())
            .await
            .expect("server exits")
            .expect("wait")
            .code()
    }

    /// Kills the process with SIGKILL.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }
}

/// A client speaking `Content-Length` framed messages: reads the server's
/// output from `from_server`, writes to `to_server`. Whatever is not a
/// well-formed frame holding JSON counts as non-protocol output.
pub(crate) fn framed_client<R, W>(from_server: R, to_server: W, logs: Logs) -> Client
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::unbounded_channel();
    let garbage = Arc::new(Mutex::new(Vec::new()));
    let g = Arc::clone(&garbage);
    tokio::spawn(async move {
        let mut reader = BufReader::new(from_server);
        loop {
            let mut len = None;
            loop {
                let mut line = String::new();
                match reader.read_line(&mut line).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if line == "\r\n" {
                    break;
                }
                match line
                    .strip_prefix("Content-Length: ")
                    .map(|v| v.trim().parse::<usize>())
                {
                    Some(Ok(n)) => len = Some(n),
                    _ => g.lock().unwrap().push(line),
                }
            }
            let Some(len) = len else {
                g.lock()
                    .unwrap()
                    .push("frame without Content-Length".to_owned());
                continue;
            };
            let mut body = vec![0; len];
            if reader.read_exact(&mut body).await.is_err() {
                return;
            }
            match serde_json::from_slice::<Value>(&body) {
                Ok(v) => {
                    let _ = tx.send(v);
                }
                Err(_) => g
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body).into_owned()),
            }
        }
    });
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Out>();
    tokio::spawn(async move {
        let mut to_server = to_server;
        while let Some(out) = out_rx.recv().await {
            let bytes = match out {
                Out::Text(text) => {
                    format!("Content-Length: {}\r\n\r\n{text}", text.len()).into_bytes()
                }
                Out::Bytes(bytes) => bytes,
            };
            if to_server.write_all(&bytes).await.is_err() {
                return;
            }
            let _ = to_server.flush().await;
        }
    });
    Client::new(out_tx, rx, logs, garbage)
}

/// What the client writes: a message to frame, or raw bytes (stdio) / a binary frame (websocket).
enum Out {
    Text(String),
    Bytes(Vec<u8>),
}

/// A server-to-client request handler: returns the result to send.
pub type Handler = Box<dyn FnMut(&str, &Value) -> Value + Send>;

/// An LSP client connected to a server process.
pub struct Client {
    out: mpsc::UnboundedSender<Out>,
    inbox: mpsc::UnboundedReceiver<Value>,
    pub(crate) queued: VecDeque<Value>,
    next_id: i64,
    logs: Logs,
    garbage: Arc<Mutex<Vec<String>>>,
    handler: Handler,
    finished: bool,
}

impl Client {
    fn new(
        out: mpsc::UnboundedSender<Out>,
        inbox: mpsc::UnboundedReceiver<Value>,
        logs: Logs,
        garbage: Arc<Mutex<Vec<String>>>,
    ) -> Self {
        Self {
            out,
            inbox,
            queued: VecDeque::new(),
            next_id: 1,
            logs,
            garbage,
            handler: Box::new(|method, _| panic!("unexpected server request {method}")),
            finished: false,
        }
    }

    /// Sets the handler for server-to-client requests.
    pub fn on_request(&mut self, handler: impl FnMut(&str, &Value) -> Value + Send + 'static) {
        self.handler = Box::new(handler);
    }

    /// Sends raw text as one message.
    pub fn send_raw(&self, text: impl Into<String>) {
        self.out
            .send(Out::Text(text.into()))
            .expect("connection open");
    }

    /// Sends bytes as they are: unframed on stdio, a binary frame on the websocket.
    pub fn send_bytes(&self, bytes: &[u8]) {
        self.out
            .send(Out::Bytes(bytes.to_vec()))
            .expect("connection open");
    }

    /// Sends a notification.
    pub fn notify(&self, method: &str, params: Value) {
        self.send_raw(json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string());
    }

    /// Sends a request without waiting; returns its id.
    pub fn send_request(&mut self, method: &str, params: Option<Value>) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({"jsonrpc": "2.0", "id": id, "method": method});
        if let Some(p) = params {
            msg["params"] = p;
        }
        self.send_raw(msg.to_string());
        id
    }

    /// Sends a request and returns its `result`, or the `error` object as `Err`.
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        let id = self.send_request(method, Some(params));
        self.response(json!(id)).await
    }

    /// Sends a request and returns its result, failing the test on an error.
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        match self.request(method, params).await {
            Ok(v) => v,
            Err(e) => panic!("{method} failed: {e}\nserver log:\n{}", self.logs.text()),
        }
    }

    /// Sends a request and returns its error, failing the test on success.
    pub async fn call_err(&mut self, method: &str, params: Value) -> Value {
        match self.request(method, params).await {
            Ok(v) => panic!("{method} succeeded with {v}, an error was expected"),
            Err(e) => e,
        }
    }

    /// The next message the server sends, answering its requests on the way.
    pub(crate) async fn next_message(&mut self) -> Value {
        loop {
            let msg = tokio::time::timeout(TIMEOUT, self.inbox.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "timed out waiting for a message; queued: {:?}\nserver log:\n{}",
                        self.queued,
                        self.logs.text()
                    )
                })
                .unwrap_or_else(|| panic!("connection closed\nserver log:\n{}", self.logs.text()));
            if msg.get("method").is_some() && msg.get("id").is_some() {
                let method = msg["method"].as_str().unwrap_or_default().to_owned();
                let result = (self.handler)(&method, &msg["params"]);
                self.send_raw(
                    json!({"jsonrpc": "2.0", "id": msg["id"], "result": result}).to_string(),
                );
                self.queued
                    .push_back(json!({"serverRequest": method, "params": msg["params"]}));
                continue;
            }
            return msg;
        }
    }

    /// Waits for the response to request `id`.
    pub async fn response(&mut self, id: Value) -> Result<Value, Value> {
        if let Some(pos) = self
            .queued
            .iter()
            .position(|m| m.get("id") == Some(&id) && m.get("method").is_none())
        {
            let msg = self.queued.remove(pos).unwrap();
            return into_result(msg);
        }
        loop {
            let msg = self.next_message().await;
            if msg.get("id") == Some(&id) && msg.get("method").is_none() {
                return into_result(msg);
            }
            self.queued.push_back(msg);
        }
    }

    /// Waits for a response with a `null` id (errors about unparseable input).
    pub async fn null_id_error(&mut self) -> Value {
        self.response(Value::Null)
            .await
            .expect_err("an error response")
    }

    /// Waits for a notification of `method` and returns its params.
    pub async fn expect_notification(&mut self, method: &str) -> Value {
        if let Some(pos) = self
            .queued
            .iter()
            .position(|m| m.get("method").and_then(Value::as_str) == Some(method))
        {
            return self.queued.remove(pos).unwrap()["params"].take();
        }
        loop {
            let mut msg = self.next_message().await;
            if msg.get("method").and_then(Value::as_str) == Some(method) {
                return msg["params"].take();
            }
            self.queued.push_back(msg);
        }
    }

    /// The next notification, whatever its method.
    pub async fn next_notification(&mut self) -> Value {
        if let Some(pos) = self
            .queued
            .iter()
            .position(|m| m.get("method").is_some() && m.get("id").is_none())
        {
            return self.queued.remove(pos).unwrap();
        }
        loop {
            let msg = self.next_message().await;
            if msg.get("method").is_some() && msg.get("id").is_none() {
                return msg;
            }
            self.queued.push_back(msg);
        }
    }

    /// Takes a recorded server-to-client request of `method`.
    pub fn take_server_request(&mut self, method: &str) -> Option<Value> {
        let pos = self
            .queued
            .iter()
            .position(|m| m.get("serverRequest").and_then(Value::as_str) == Some(method))?;
        Some(self.queued.remove(pos).unwrap()["params"].take())
    }

    /// `initialize` + `initialized` with the given position encodings and workspace.
    pub async fn initialize(&mut self, encodings: &[&str], workspace: Option<&str>) -> Value {
        self.initialize_with(encodings, workspace, false).await
    }

    /// `initialize` + `initialized`, saying whether this client applies edits.
    pub async fn initialize_with(
        &mut self,
        encodings: &[&str],
        workspace: Option<&str>,
        apply_edit: bool,
    ) -> Value {
        self.initialize_full(encodings, workspace, apply_edit, None)
            .await
    }

    /// `initialize` + `initialized` offering `codelab` as
    /// `capabilities.experimental.codelab`.
    pub async fn initialize_codelab(
        &mut self,
        workspace: Option<&str>,
        apply_edit: bool,
        codelab: Value,
    ) -> Value {
        self.initialize_caps(&[], workspace, apply_edit, None, Some(codelab))
            .await
    }

    /// `initialize` + `initialized` with `initializationOptions` (the
    /// editor's settings, `{"llm": {...}}`).
    pub async fn initialize_with_options(
        &mut self,
        workspace: Option<&str>,
        apply_edit: bool,
        options: Value,
    ) -> Value {
        self.initialize_full(&[], workspace, apply_edit, Some(options))
            .await
    }

    async fn initialize_full(
        &mut self,
        encodings: &[&str],
        workspace: Option<&str>,
        apply_edit: bool,
        options: Option<Value>,
    ) -> Value {
        self.initialize_caps(encodings, workspace, apply_edit, options, None)
            .await
    }

    async fn initialize_caps(
        &mut self,
        encodings: &[&str],
        workspace: Option<&str>,
        apply_edit: bool,
        options: Option<Value>,
        codelab: Option<Value>,
    ) -> Value {
        let mut caps = json!({"workspace": {"applyEdit": apply_edit, "workspaceFolders": true,
                                            "workspaceEdit": {"documentChanges": true, "resourceOperations": ["create"]}}});
        if let Some(codelab) = codelab {
            caps["experimental"] = json!({"codelab": codelab});
        }
        if !encodings.is_empty() {
            caps["general"] = json!({"positionEncodings": encodings});
        }
        let folders = workspace
            .map(|w| json!([{"uri": w, "name": "ws"}]))
            .unwrap_or(Value::Null);
        let mut params = json!({"processId": null, "rootUri": null, "capabilities": caps, "workspaceFolders": folders,
                                "clientInfo": {"name": "codelab-test-client"}});
        if let Some(options) = options {
            params["initializationOptions"] = options;
        }
        let result = self.call("initialize", params).await;
        self.notify("initialized", json!({}));
        result
    }

    /// Takes every message received and not consumed yet (without waiting).
    pub fn take_queued(&mut self) -> Vec<Value> {
        while let Ok(msg) = self.inbox.try_recv() {
            self.queued.push_back(msg);
        }
        self.queued.drain(..).collect()
    }

    /// Asserts that no message went unconsumed and that stdout carried only protocol.
    pub fn assert_all_consumed(&mut self) {
        while let Ok(msg) = self.inbox.try_recv() {
            self.queued.push_back(msg);
        }
        let garbage = self.garbage.lock().unwrap().clone();
        assert!(
            garbage.is_empty(),
            "non-protocol output from the server: {garbage:?}"
        );
        assert!(
            self.queued.is_empty(),
            "messages went unconsumed: {:#?}\nserver log:\n{}",
            self.queued,
            self.logs.text()
        );
    }

    /// `shutdown` + `exit`, then asserts that nothing went unconsumed.
    pub async fn finish(mut self) {
        let r = self.call("shutdown", Value::Null).await;
        assert_eq!(r, Value::Null);
        self.notify("exit", Value::Null);
        self.assert_all_consumed();
        self.finished = true;
    }

    /// Asserts nothing went unconsumed, without shutting the server down.
    pub fn done(mut self) {
        self.assert_all_consumed();
        self.finished = true;
    }

    /// Drops the client before a deliberate crash of the server: what it had
    /// not read yet no longer matters (stdout must still have been clean).
    pub fn abandon(mut self) {
        let garbage = self.garbage.lock().unwrap().clone();
        assert!(
            garbage.is_empty(),
            "non-protocol output from the server: {garbage:?}"
        );
        self.finished = true;
    }

    /// The server's stderr so far.
    pub fn logs(&self) -> String {
        self.logs.text()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if !self.finished && !std::thread::panicking() {
            panic!("test client dropped without finish() or done()");
        }
    }
}

fn into_result(msg: Value) -> Result<Value, Value> {
    match msg.get("error") {
        Some(e) => Err(e.clone()),
        None => Ok(msg.get("result").cloned().unwrap_or(Value::Null)),
    }
}

/// A fresh data directory.
pub fn data_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Returns the path as a `file://` URI.
pub fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Turn-driving helpers.
pub mod agent;
/// The daemon of a data dir: status, stop, its processes.
pub mod daemon;
/// The client as an editor that applies edits and saves.
pub mod editor;
/// The in-process server.
pub mod inprocess;
/// A throwaway PostgreSQL cluster.
pub mod postgres;
/// The typed API of [`Client`].
pub mod typed;
