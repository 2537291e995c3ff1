//! `execute_command`: runs a shell command in the workspace, streaming its
//! output to the clients. A timeout or a cancel kills the whole process group.

use std::process::Stdio;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{Subject, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};

/// Parameters of `execute_command`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The command line, run by `sh -c`.
    pub command: String,
    /// The working directory, relative to the workspace root (default: the root).
    #[serde(default)]
    pub cwd: Option<String>,
    /// Seconds before the command is killed (default 300).
    #[serde(default)]
    #[schemars(range(min = 1, max = 3600))]
    pub timeout_secs: Option<u64>,
}

/// The `execute_command` tool.
#[derive(Debug)]
pub struct ExecuteCommand;

/// Keeps the head and the tail of a long output, eliding the middle.
#[derive(Debug)]
pub struct Capture {
    cap: usize,
    head: Vec<u8>,
    tail: std::collections::VecDeque<u8>,
    total: usize,
}

impl Capture {
    /// A capture keeping at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(64),
            head: Vec::new(),
            tail: std::collections::VecDeque::new(),
            total: 0,
        }
    }

    /// Adds output.
    pub fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len();
        let half = self.cap / 2;
        let room = half.saturating_sub(self.head.len());
        let (h, t) = bytes.split_at(room.min(bytes.len()));
        self.head.extend_from_slice(h);
        self.tail.extend(t);
        while self.tail.len() > half {
            self.tail.pop_front();
        }
    }

    /// The kept output, with a note where the middle was cut.
    pub fn finish(self) -> String {
        let kept = self.head.len() + self.tail.len();
        let mut out = String::from_utf8_lossy(&self.head).into_owned();
        if self.total > kept {
            out.push_str(&format!(
                "\n[… {} bytes of output elided …]\n",
                self.total - kept
            ));
        }
        let tail: Vec<u8> = self.tail.into_iter().collect();
        out.push_str(&String::from_utf8_lossy(&tail));
        out
    }
}

/// Output streamed live to the clients per call, at most; the result keeps
/// the beginning and the end of everything.
pub const STREAM_CAP: usize = 1024 * 1024;

async fn pump(
    mut from: impl AsyncRead + Unpin,
    stream: &'static str,
    ctx: &ToolContext,
    capture: &std::sync::Mutex<Capture>,
    streamed: &std::sync::atomic::AtomicUsize,
) {
    use std::sync::atomic::Ordering;
    let send = |text: String| {
        let before = streamed.fetch_add(text.len(), Ordering::Relaxed);
        if before < STREAM_CAP {
            let crossed = before + text.len() >= STREAM_CAP;
            ctx.interact.command_output(stream, text);
            if crossed {
                ctx.interact.command_output(
                    stream,
                    "\n[… output is no longer streamed; the result keeps its beginning and end …]\n".to_owned(),
                );
            }
        }
    };
    let mut buf = vec![0u8; 8192];
    let mut pending = Vec::new();
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                capture
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .push(&buf[..n]);
                pending.extend_from_slice(&buf[..n]);
                // Send whole UTF-8 characters only.
                let valid = match std::str::from_utf8(&pending) {
                    Ok(_) => pending.len(),
                    Err(e) => e.valid_up_to(),
                };
                if valid > 0 {
                    let text = String::from_utf8_lossy(&pending[..valid]).into_owned();
                    pending.drain(..valid);
                    send(text);
                }
            }
        }
    }
    if !pending.is_empty() {
        send(String::from_utf8_lossy(&pending).into_owned());
    }
}

/// Kills the command's process group when dropped: on completion, timeout,
/// cancel, or when the turn drops the call.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        kill_group(self.0);
    }
}

fn kill_group(pid: Option<u32>) {
    if let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

impl TypedTool for ExecuteCommand {
    type Params = Params;
    const NAME: &'static str = "execute_command";
    const DESCRIPTION: &'static str = "Run a shell command (sh -c) in the workspace and return its exit code and \
        output (stdout and stderr). Long output keeps its beginning and end. The command is killed after \
        timeout_secs (default 300).";
    const KIND: ToolKind = ToolKind::Execute;

    /// The command line; no paths. The policy judges a command by its text,
    /// so `cwd` is not offered to path globs (a rule allowing edits under
    /// `src/**` must not allow every command run there); `run` confines it.
    fn subject(p: &Params) -> Subject {
        Subject {
            paths: Vec::new(),
            command: Some(p.command.clone()),
        }
    }

    async fn run(&self, ctx: &ToolContext, p: Params) -> Result<ToolOutput, ToolError> {
        let ws = ctx.workspace()?;
        let cwd = ws.resolve_visible(p.cwd.as_deref().unwrap_or(""))?;
        if !cwd.is_dir() {
            return Err(ToolError::new(format!(
                "cwd {} is not a directory",
                ws.relative(&cwd)
            )));
        }
        let timeout = Duration::from_secs(
            p.timeout_secs
                .unwrap_or(ctx.limits.command_timeout_secs)
                .clamp(1, 3600),
        );
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(&p.command)
            .current_dir(&cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ToolError::new(format!("cannot start the command: {e}")))?;
        let pid = child.id();
        tracing::debug!(?pid, command = %p.command, "command started");
        let _guard = GroupGuard(pid);
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(ToolError::new("cannot capture the command's output"));
        };
        let capture = std::sync::Mutex::new(Capture::new(ctx.limits.output_bytes));
        let run = async {
            let streamed = std::sync::atomic::AtomicUsize::new(0);
            tokio::join!(
                pump(stdout, "stdout", ctx, &capture, &streamed),
                pump(stderr, "stderr", ctx, &capture, &streamed)
            );
            child.wait().await
        };
        let outcome = tokio::select! {
            status = run => Ok(status),
            () = tokio::time::sleep(timeout) => Err(format!("timed out after {}s and was killed", timeout.as_secs())),
            () = ctx.cancel.cancelled() => Err("cancelled and killed".to_owned()),
        };
        let output = capture
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .finish();
        match outcome {
            Ok(Ok(status)) => {
                // The guard kills what the shell left running in the background.
                let code = status.code();
                let head = match code {
                    Some(c) => format!("Exit code: {c}"),
                    None => "Killed by a signal".to_owned(),
                };
                let text = format!(
                    "{head}\n{}",
                    if output.is_empty() {
                        "(no output)".to_owned()
                    } else {
                        output
                    }
                );
                if code == Some(0) {
                    Ok(ToolOutput::text(text))
                } else {
                    Err(ToolError::new(text))
                }
            }
            Ok(Err(e)) => Err(ToolError::new(format!("cannot wait for the command: {e}"))),
            Err(why) => {
                drop(_guard);
                Err(ToolError::new(format!(
                    "The command {why}. Output so far:\n{output}"
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Capture;

    #[test]
    fn capture_keeps_head_and_tail() {
        let mut c = Capture::new(100);
        for i in 0..100 {
            c.push(format!("line {i:03}\n").as_bytes());
        }
        let out = c.finish();
        assert!(out.starts_with("line 000\n"));
        assert!(out.ends_with("line 099\n"));
        assert!(out.contains("bytes of output elided"));
    }
}
