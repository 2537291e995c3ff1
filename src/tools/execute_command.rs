//! `execute_command`: runs a shell command in the workspace, streaming its
//! output to the clients.
//!
//! The call completes when the command's own process exits; what is still in
//! the pipes is drained briefly, and whatever it left running is ended with it
//! (see [`crate::process`]). A timeout or a cancel stops the whole command:
//! `SIGTERM`, then `SIGKILL` after the grace. With `background: true` the
//! command keeps running as a tracked background command whose output
//! `read_command_output` reads and which `stop_command` stops.

use std::time::Duration;

use chrono::Utc;
use schemars::JsonSchema;
use serde::Deserialize;

use super::{Subject, ToolContext, ToolError, ToolKind, ToolOutput, TypedTool};
use crate::process::{self, BackgroundInfo, Exit, Sink, Start, StopOnDrop};

/// Parameters of `execute_command`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The command line, run by `sh -c`.
    pub command: String,
    /// The working directory, relative to the workspace root (default: the root).
    #[serde(default)]
    pub cwd: Option<String>,
    /// Seconds before the command is stopped (default 300). Not for background commands.
    #[serde(default)]
    #[schemars(range(min = 1, max = 3600))]
    pub timeout_secs: Option<u64>,
    /// Keep the command running in the background (a dev server, a watcher):
    /// the call returns at once with an id for read_command_output and stop_command.
    #[serde(default)]
    pub background: bool,
    /// `false` runs the command outside the sandbox, which needs the user's
    /// approval; only when it cannot work sandboxed (default: sandboxed).
    #[serde(default)]
    pub sandbox: Option<bool>,
}

/// The `execute_command` tool.
#[derive(Debug)]
pub struct ExecuteCommand;

/// Output streamed live to the clients per call, at most; the result keeps
/// the beginning and the end of everything.
pub const STREAM_CAP: usize = 1024 * 1024;

/// A sink streaming a foreground command's output to the clients, up to
/// [`STREAM_CAP`] bytes.
fn live_sink(ctx: &ToolContext) -> Sink {
    let interact = std::sync::Arc::clone(&ctx.interact);
    let streamed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    std::sync::Arc::new(move |stream: &'static str, text: String| {
        use std::sync::atomic::Ordering;
        let before = streamed.fetch_add(text.len(), Ordering::Relaxed);
        if before < STREAM_CAP {
            let crossed = before + text.len() >= STREAM_CAP;
            interact.command_output(stream, text);
            if crossed {
                interact.command_output(
                    stream,
                    "\n[… output is no longer streamed; the result keeps its beginning and end …]\n"
                        .to_owned(),
                );
            }
        }
    })
}

/// The first line of a result: how the command ended.
pub fn describe_exit(exit: Option<Exit>) -> String {
    match exit {
        None => "Still running".to_owned(),
        Some(Exit { code: Some(c), .. }) if c > 128 => {
            format!("Exit code: {c} (killed by signal {})", c - 128)
        }
        Some(Exit { code: Some(c), .. }) => format!("Exit code: {c}"),
        Some(Exit { code: None, .. }) => "Killed".to_owned(),
    }
}

impl TypedTool for ExecuteCommand {
    type Params = Params;
    const NAME: &'static str = "execute_command";
    const DESCRIPTION: &'static str = "Run a shell command (sh -c) in the workspace and return its exit code and \
        output (stdout and stderr). It runs in a sandbox where the platform has one: it may write only in the \
        workspace (not .git, .codelab, .codelabignore) and $TMPDIR, and has no network unless the user's \
        policy allows it; pass sandbox: false only when it cannot work sandboxed (the user is asked). The call \
        returns when the command's own process exits; anything it left running is stopped. Long output keeps \
        its beginning and end. The command is stopped after timeout_secs (default 300). For a server or a \
        watcher pass background: true, then read_command_output and stop_command.";
    const KIND: ToolKind = ToolKind::Execute;

    /// The command line; no paths. The policy judges a command by its text,
    /// so `cwd` is not offered to path globs (a rule allowing edits under
    /// `src/**` must not allow every command run there); `run` confines it.
    /// The gate reads `cwd` to resolve the paths the command line names.
    fn subject(p: &Params) -> Subject {
        Subject {
            paths: Vec::new(),
            command: Some(p.command.clone()),
            cwd: p.cwd.clone(),
            unsandboxed: p.sandbox == Some(false),
            read_only: false,
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
        let env = &ctx.commands;
        let sandbox = env.sandbox.clone();
        if let Some(sb) = &sandbox {
            std::fs::create_dir_all(&sb.tmpdir).map_err(|e| {
                ToolError::new(format!(
                    "cannot create the sandbox's temp dir {}: {e}",
                    sb.tmpdir.display()
                ))
            })?;
        }
        let start = Start {
            command: p.command.clone(),
            cwd,
            grace: env.grace,
            sandbox: sandbox.clone(),
            output_cap: ctx.limits.output_bytes,
            max_processes: env.max_processes,
        };
        let spawn_err =
            |e: std::io::Error| ToolError::new(format!("cannot start the command: {e}"));
        if p.background {
            let id = env
                .processes
                .reserve(ctx.session_id)
                .map_err(|e| ToolError::new(e.to_string()))?;
            let spawned = process::spawn(&env.launcher, start, None).map_err(spawn_err)?;
            let pid = spawned.pid;
            env.processes.add(
                BackgroundInfo {
                    id: id.clone(),
                    session_id: ctx.session_id,
                    command: p.command.clone(),
                    pid,
                    started_at: Utc::now(),
                    sandboxed: sandbox.is_some(),
                    exit: None,
                },
                spawned,
            );
            return Ok(ToolOutput::text(format!(
                "Started background command {id} (pid {pid}){}. Read its output with \
                 read_command_output {{\"id\": \"{id}\"}} (wait_for waits for a line such as \
                 \"listening\"); stop it with stop_command {{\"id\": \"{id}\"}}. It is stopped when \
                 the session is deleted or the server exits.",
                if sandbox.is_some() { ", sandboxed" } else { "" }
            )));
        }
        let timeout = Duration::from_secs(
            p.timeout_secs
                .unwrap_or(ctx.limits.command_timeout_secs)
                .clamp(1, 3600),
        );
        if let Some(editor) = ctx.editors.terminal() {
            return in_terminal(ctx, &*editor, &start, timeout).await;
        }
        let spawned =
            process::spawn(&env.launcher, start, Some(live_sink(ctx))).map_err(spawn_err)?;
        // Dropped with the call (a cancelled turn): the command is stopped.
        let guard = StopOnDrop(spawned.clone());
        let why = tokio::select! {
            exit = spawned.wait() => {
                drop(guard);
                return finish(ctx, &spawned, exit, sandbox.as_ref());
            }
            () = tokio::time::sleep(timeout) => format!("timed out after {}s", timeout.as_secs()),
            () = ctx.cancel.cancelled() => "was cancelled".to_owned(),
        };
        spawned.stop();
        let exit = spawned.wait().await;
        drop(guard);
        Err(ToolError::new(format!(
            "The command {why} and was stopped (SIGTERM, then SIGKILL after {}s; {}). Output so far:\n{}",
            env.grace.as_secs_f32(),
            describe_exit(Some(exit)),
            spawned.render()
        )))
    }
}

/// Runs a foreground command in the editor's terminal (an ACP client's
/// `terminal/*`), wrapped by the launcher as a local one is, so the sandbox
/// and the approval that allowed it hold: the user watches it there. A
/// timeout or a cancel (the call dropped with its turn) kills it.
async fn in_terminal(
    ctx: &ToolContext,
    editor: &dyn super::Editor,
    start: &Start,
    timeout: Duration,
) -> Result<ToolOutput, ToolError> {
    let (program, args) = process::argv(&ctx.commands.launcher, start)
        .map_err(|e| ToolError::new(format!("cannot start the command: {e}")))?;
    let command = super::TerminalCommand {
        call_id: ctx.call_id.clone(),
        program,
        args,
        cwd: start.cwd.clone(),
        output_limit: u64::try_from(ctx.limits.output_bytes).unwrap_or(u64::MAX),
    };
    let stop = ctx.cancel.child_token();
    // Dropped with the call (a cancelled turn): the command is killed.
    let _kill_on_drop = stop.clone().drop_guard();
    let running = editor.run_in_terminal(command, stop.clone());
    tokio::pin!(running);
    let why = tokio::select! {
        run = &mut running => return terminal_result(run, None),
        () = tokio::time::sleep(timeout) => format!("timed out after {}s", timeout.as_secs()),
        () = ctx.cancel.cancelled() => "was cancelled".to_owned(),
    };
    stop.cancel();
    terminal_result(running.await, Some(why))
}

/// The result of a command run in the editor's terminal; `stopped` says
/// why it was killed, if it was.
fn terminal_result(
    run: Result<super::TerminalRun, super::EditorError>,
    stopped: Option<String>,
) -> Result<ToolOutput, ToolError> {
    let run = run.map_err(|e| {
        ToolError::new(format!(
            "the command did not run in the editor's terminal: {e}"
        ))
    })?;
    let ended = match (run.exit_code, &run.signal) {
        (Some(code), _) => format!("Exit code: {code}"),
        (None, Some(signal)) => format!("Killed ({signal})"),
        (None, None) => "Killed".to_owned(),
    };
    let mut output = run.output;
    if run.truncated {
        output.insert_str(0, "[… the beginning was cut by the editor's terminal …]\n");
    }
    let shown = if output.is_empty() {
        "(no output)"
    } else {
        output.as_str()
    };
    match stopped {
        Some(why) => Err(ToolError::new(format!(
            "The command {why} and was killed in the editor's terminal ({ended}). Output so far:\n{shown}"
        ))),
        None if run.exit_code == Some(0) => Ok(ToolOutput::text(format!("{ended}\n{shown}"))),
        None => Err(ToolError::new(format!("{ended}\n{shown}"))),
    }
}

/// The result of a command that exited by itself.
fn finish(
    ctx: &ToolContext,
    spawned: &process::Spawned,
    exit: Exit,
    sandbox: Option<&process::SandboxSpec>,
) -> Result<ToolOutput, ToolError> {
    let output = spawned.render();
    let mut text = format!(
        "{}\n{}",
        describe_exit(Some(exit)),
        if output.is_empty() {
            "(no output)"
        } else {
            output.as_str()
        }
    );
    if exit.code == Some(0) {
        return Ok(ToolOutput::text(text));
    }
    if let Some(sb) = sandbox {
        let workspace_writable = ctx
            .workspace
            .as_ref()
            .is_some_and(|w| sb.writable.iter().any(|p| p == w.root()));
        let ignored = |p: &str| {
            ctx.workspace
                .as_ref()
                .is_some_and(|w| w.is_ignored(&w.root().join(p)))
        };
        if let Some(note) =
            process::sandbox::explain_denials(&output, sb, workspace_writable, &ignored)
        {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&note);
        }
    }
    Err(ToolError::new(text))
}
