//! The tools the model can call: one file per tool, all behind [`Tool`].
//!
//! A tool declares its name, description, kind and parameter type; the
//! parameter JSON Schema the model sees is generated from that type with
//! schemars, and the same type parses the model's arguments (unknown fields
//! refused, every field checked), so what is validated is what was advertised.
//! A tool's failure is a [`ToolError`]: text the model reads as the tool's
//! result. Tools never see JSON-RPC: they reach the editor through [`Editor`],
//! open buffers through [`Buffers`] and the user through [`Interact`].
//!
//! Before a call runs, the gate ([`crate::runtime::gate`]) needs to know what it would
//! touch: each tool states its [`Subject`] (the workspace paths, the command)
//! from its typed parameters, and edit tools produce an [`EditPreview`] for
//! the approval prompt. Nothing outside a tool's own file knows its
//! parameters, so the runtime need not read tool arguments as raw JSON.

pub mod apply_diff;
pub mod ask_followup_question;
pub mod attempt_completion;
pub mod execute_command;
pub mod git;
pub mod git_branch;
pub mod git_commit;
pub mod git_diff;
pub mod git_log;
pub mod git_show;
pub mod git_status;
pub mod list_files;
pub mod new_task;
pub mod read_command_output;
pub mod read_file;
pub mod search_in_code;
pub mod stop_command;
pub mod switch_mode;
pub mod write_file;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::agents::Agent;
use crate::domain::{EditPreview, FileChange};
use crate::workspace::{PathError, Workspace};

pub use crate::domain::ToolKind;

/// A tool failure, shown to the model as the tool's result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ToolError(pub String);

impl ToolError {
    /// An error with this message.
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

impl From<PathError> for ToolError {
    fn from(e: PathError) -> Self {
        Self(e.to_string())
    }
}

/// What a successful tool call produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolOutput {
    /// The result text the model reads.
    pub content: String,
    /// `attempt_completion`: the turn ends with this result.
    pub completion: Option<String>,
}

impl ToolOutput {
    /// A plain text result.
    pub fn text(content: impl Into<String>) -> Self {
        Self {
            content: content.into(),
            completion: None,
        }
    }
}

/// What a call would touch, as its tool states it from the typed parameters:
/// what the gate confines to the workspace, matches against the agent's file
/// restriction and the policy's path globs, and what the policy judges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// The workspace paths the call reads or changes, as the model gave them
    /// (not yet resolved; `.` for the workspace root). An edit tool's are the
    /// paths it changes; a read tool's, what it reads, lists or searches.
    pub paths: Vec<String>,
    /// The command line the call runs.
    pub command: Option<String>,
    /// The command's working directory, as the model gave it (the paths a
    /// command line names are relative to it).
    pub cwd: Option<String>,
    /// The model asked to run the command outside the sandbox.
    pub unsandboxed: bool,
    /// This call changes nothing (`git_branch` listing), though other calls
    /// of its tool do: the policy's built-in `ask` for the tool does not
    /// apply to it.
    pub read_only: bool,
}

impl Subject {
    /// A subject of paths only.
    pub fn paths(paths: impl IntoIterator<Item = String>) -> Self {
        Self {
            paths: paths.into_iter().collect(),
            ..Self::default()
        }
    }
}

/// What an edit tool needs to preview a call: the workspace, the editors'
/// unsaved buffers and the fuzzy-matching threshold of `apply_diff`.
#[derive(Clone, Copy)]
pub struct PreviewContext<'a> {
    /// The session's workspace.
    pub workspace: &'a Workspace,
    /// Open buffers: a file's current text is its buffer's when it is open.
    pub buffers: &'a dyn Buffers,
    /// apply_diff: minimum similarity for fuzzy matching (1.0 = exact only),
    /// as in [`ToolLimits::diff_threshold`].
    pub diff_threshold: f64,
}

impl std::fmt::Debug for PreviewContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreviewContext")
            .field("workspace", &self.workspace.root())
            .field("diff_threshold", &self.diff_threshold)
            .finish_non_exhaustive()
    }
}

/// The preview of a whole-file change: a unified diff (`a/<path>`,
/// `b/<path>`, three lines of context) and both texts.
pub fn file_preview(path: String, current: String, proposed: String) -> EditPreview {
    let diff = similar::TextDiff::from_lines(&current, &proposed)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string();
    EditPreview {
        diff,
        files: vec![FileChange {
            path,
            current,
            proposed,
        }],
    }
}

/// A whole-file edit: what a file should hold after an edit tool's call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEdit {
    /// The absolute path.
    pub path: PathBuf,
    /// The new text.
    pub new_text: String,
}

/// Why an editor did not apply or save an edit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditorError {
    /// The path cannot be named as a `file://` URI.
    #[error("{0} has no file URI")]
    NoUri(PathBuf),
    /// The editor does not have the file open (any more).
    #[error("the editor does not have {0} open")]
    NotOpen(PathBuf),
    /// The editor did not answer in time.
    #[error("the editor did not answer within {0}s")]
    Timeout(u64),
    /// The editor answered the request with an error.
    #[error("the editor answered with an error: {0}")]
    Failed(String),
    /// The editor refused the edit (`applied: false`), with its reason.
    #[error("{0}")]
    Refused(String),
    /// The editor did not save the document, with its reason.
    #[error("{0}")]
    NotSaved(String),
}

/// One connected editor that applies edits to the documents it has open
/// (`workspace/applyEdit`) and may save them on request
/// (`codelab/saveDocuments`).
pub trait Editor: Send + Sync {
    /// The text of the editor's buffer of `path`, if it has the file open.
    fn buffer(&self, path: &Path) -> Option<String>;
    /// Whether the editor saves documents when asked.
    fn saves(&self) -> bool;
    /// Changes the editor's open buffer of `edit.path` to `edit.new_text`
    /// (as the changes between the buffer's text and the new one, so that
    /// what did not change stays put), as one step the user can undo.
    fn apply(&self, edit: &FileEdit) -> BoxFuture<'_, Result<(), EditorError>>;
    /// Asks the editor to save its buffer of `path`; resolves once it has.
    fn save(&self, path: &Path) -> BoxFuture<'_, Result<(), EditorError>>;
    /// Brings the text the tools see for `paths` up to date with the
    /// editor's buffers before a tool reads them, for an editor that tells
    /// nothing of its buffers until asked (an ACP client's
    /// `fs/read_text_file`). Resolves once done; never fails (a file the
    /// editor cannot read is read from disk). By default nothing: an LSP
    /// editor's buffers are already known (`didOpen`, `didChange`).
    fn refresh<'a>(&'a self, paths: &'a [PathBuf]) -> BoxFuture<'a, ()> {
        let _ = paths;
        Box::pin(async {})
    }
    /// Whether `execute_command` runs in this editor's terminal (an ACP
    /// client offering `terminal/*`). By default not: commands run here.
    fn has_terminal(&self) -> bool {
        false
    }
    /// Runs a command in the editor's terminal until it exits, or until
    /// `stop` is cancelled (then it is killed); the terminal is released
    /// either way.
    fn run_in_terminal(
        &self,
        command: TerminalCommand,
        stop: CancellationToken,
    ) -> BoxFuture<'_, Result<TerminalRun, EditorError>> {
        let _ = (command, stop);
        Box::pin(async { Err(EditorError::Failed("this editor has no terminal".into())) })
    }
}

/// A command for an editor's terminal, for one tool call: the program and
/// arguments that run it (through the launcher, sandboxed as the call is:
/// [`crate::process::argv`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalCommand {
    /// The tool call it runs for (the editor shows the terminal in it).
    pub call_id: String,
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// The working directory.
    pub cwd: PathBuf,
    /// Bytes of output the editor keeps (its end).
    pub output_limit: u64,
}

/// How a command in an editor's terminal ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalRun {
    /// Its output, as the editor kept it.
    pub output: String,
    /// The editor dropped the beginning of the output.
    pub truncated: bool,
    /// Its exit code, when it exited.
    pub exit_code: Option<u32>,
    /// The signal that ended it, when one did.
    pub signal: Option<String>,
}

/// The connected editors, as an edit tool finds the one that holds a file.
pub trait Editors: Send + Sync {
    /// The editor that applies an edit to `path`: one that has the file
    /// open, chosen by the runtime's rule (the connection that started the
    /// turn first); `None` when no editor has it open, and the file is
    /// written on disk.
    fn editor_for(&self, path: &Path) -> Option<Arc<dyn Editor>>;
    /// The editor whose terminal runs the call's commands: the turn's
    /// connection's, when it has one ([`Editor::has_terminal`]).
    fn terminal(&self) -> Option<Arc<dyn Editor>> {
        None
    }
}

/// No editor at all: every edit is written on disk.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEditors;

impl Editors for NoEditors {
    fn editor_for(&self, _: &Path) -> Option<Arc<dyn Editor>> {
        None
    }
}

/// Where a committed edit landed, which the tool's result tells the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// No editor has the file open: written on disk, atomically.
    Written,
    /// Applied in the buffer of the editor that has the file open, which
    /// then saved it.
    Saved,
    /// Applied in the editor's buffer and written on disk by the server:
    /// that editor does not save on request.
    AppliedAndWritten,
    /// The editor's buffer held unsaved changes of the user's: the edit was
    /// applied on top of them, in the buffer only, and not saved.
    KeptUnsaved,
    /// Applied in the editor's buffer, but the editor did not save it (why).
    NotSaved(String),
}

impl Committed {
    /// Whether the file on disk now holds the new text.
    pub fn on_disk(&self) -> bool {
        matches!(self, Self::Written | Self::Saved | Self::AppliedAndWritten)
    }

    /// What the model must know beyond "done": empty when the file on disk
    /// holds the new text, else a sentence (with a leading space) saying
    /// where the change is and that the disk does not have it.
    pub fn note(&self, shown: &str) -> String {
        match self {
            Self::Written | Self::Saved | Self::AppliedAndWritten => String::new(),
            Self::KeptUnsaved => format!(
                " {shown} had unsaved changes in the user's editor, so the change was applied \
                 in the editor's buffer on top of them (the user can undo it there) and NOT \
                 saved: the file on disk keeps its previous content until the user saves. \
                 Commands that read {shown} see the old content."
            ),
            Self::NotSaved(why) => format!(
                " The change is in the editor's buffer, but the editor did not save it ({why}): \
                 the file on disk keeps its previous content. Commands that read {shown} see \
                 the old content."
            ),
        }
    }
}

/// The editors' unsaved buffers.
pub trait Buffers: Send + Sync {
    /// The text of an open buffer, if the file is open in an editor.
    fn text(&self, path: &Path) -> Option<String>;
    /// Every open buffer under `root`, with its text.
    fn all_under(&self, root: &Path) -> Vec<(PathBuf, String)>;
}

/// The session's ways of talking to the user and steering itself.
pub trait Interact: Send + Sync {
    /// Asks the user; resolves with the answer.
    fn ask(
        &self,
        question: String,
        suggestions: Vec<String>,
    ) -> BoxFuture<'_, Result<String, ToolError>>;
    /// Switches the session to another agent.
    fn switch_agent(&self, to: String, reason: String) -> BoxFuture<'_, Result<(), ToolError>>;
    /// Runs a subtask in a child session and resolves with its result.
    fn subtask(&self, agent: String, message: String) -> BoxFuture<'_, Result<String, ToolError>>;
    /// Streams a chunk of command output to the clients.
    fn command_output(&self, stream: &'static str, text: String);
}

/// Caps that keep tool results a sensible size.
#[derive(Debug, Clone)]
pub struct ToolLimits {
    /// read_file: default line limit.
    pub read_lines: usize,
    /// read_file: characters per line before truncation.
    pub line_chars: usize,
    /// read_file / execute_command: bytes of output.
    pub output_bytes: usize,
    /// list_files: entries.
    pub list_entries: usize,
    /// search_in_code: matches.
    pub search_matches: usize,
    /// execute_command: default timeout in seconds.
    pub command_timeout_secs: u64,
    /// execute_command: between `SIGTERM` and `SIGKILL` when a command is
    /// stopped (a timeout, a cancel, stop_command).
    pub kill_grace: std::time::Duration,
    /// execute_command: processes one command may run at once (0: no limit).
    pub max_processes: u64,
    /// apply_diff: minimum similarity for fuzzy matching (1.0 = exact only).
    pub diff_threshold: f64,
}

impl Default for ToolLimits {
    fn default() -> Self {
        Self {
            read_lines: 2000,
            line_chars: 2000,
            output_bytes: 256 * 1024,
            list_entries: 1000,
            search_matches: 300,
            command_timeout_secs: 300,
            kill_grace: crate::process::DEFAULT_GRACE,
            max_processes: crate::process::DEFAULT_MAX_PROCESSES,
            diff_threshold: 1.0,
        }
    }
}

/// Everything a tool may use.
pub struct ToolContext {
    /// The session.
    pub session_id: crate::domain::SessionId,
    /// The tool call being run.
    pub call_id: String,
    /// The session's workspace, if it has one.
    pub workspace: Option<Workspace>,
    /// The agent making the call (for its file restriction).
    pub agent: Agent,
    /// Open buffers.
    pub buffers: Arc<dyn Buffers>,
    /// The connected editors: an edit to a file one of them has open goes
    /// through it.
    pub editors: Arc<dyn Editors>,
    /// The user and the session.
    pub interact: Arc<dyn Interact>,
    /// Cancelled when the turn is.
    pub cancel: CancellationToken,
    /// Result caps.
    pub limits: ToolLimits,
    /// How commands start, the background commands, and this call's sandbox.
    pub commands: crate::process::CommandEnv,
    /// Where edits save what they change, so a turn can be rolled back.
    pub checkpoints: Arc<dyn Checkpoints>,
}

/// Where an edit records a file's content before and after it (the
/// runtime's checkpoints, in the store).
#[async_trait::async_trait]
pub trait Checkpoints: Send + Sync {
    /// Records `path`'s content before and after an edit (`None`: no file).
    /// Returns why it was not recorded (too large, the session's limit), a
    /// sentence for the model and the user.
    async fn record(
        &self,
        path: &Path,
        before: Option<Vec<u8>>,
        after: Option<Vec<u8>>,
    ) -> Option<String>;
}

/// No checkpoints (tools used outside a turn).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCheckpoints;

#[async_trait::async_trait]
impl Checkpoints for NoCheckpoints {
    async fn record(&self, _: &Path, _: Option<Vec<u8>>, _: Option<Vec<u8>>) -> Option<String> {
        None
    }
}

/// A file's bytes, `None` when it does not exist (or cannot be read).
fn read_opt(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

impl ToolContext {
    /// The workspace, or the error that there is none.
    ///
    /// # Errors
    /// When the session has no workspace folder.
    pub fn workspace(&self) -> Result<&Workspace, ToolError> {
        self.workspace
            .as_ref()
            .ok_or_else(|| PathError::NoWorkspace.into())
    }

    /// A file's current text: the open buffer if there is one, else the disk.
    ///
    /// # Errors
    /// When the file cannot be read or is not UTF-8 text.
    pub fn current_text(&self, abs: &Path, shown: &str) -> Result<Option<String>, ToolError> {
        current_text(&*self.buffers, abs, shown)
    }

    /// Commits a whole-file edit so that, when this returns, the file on
    /// disk holds the new text, unless the result says otherwise:
    ///
    /// - no editor has the file open: written on disk atomically (a
    ///   temporary file renamed over the target);
    /// - an editor has it open and its buffer matches the disk: the edit goes
    ///   into the buffer (normal undo), then the editor saves it, or, when it
    ///   does not save on request, the server writes the same text on disk;
    /// - the buffer holds unsaved changes of the user's: the edit goes into
    ///   the buffer on top of them and nothing is saved, so nothing of the
    ///   user's is lost ([`Committed::KeptUnsaved`]).
    ///
    /// # Errors
    /// The editor's refusal or the I/O error.
    ///
    /// The file's content before and after is checkpointed when the disk
    /// changed; the string is a note (with a leading space) when that was
    /// not possible, else empty.
    pub async fn commit_edit(
        &self,
        edit: FileEdit,
        shown: &str,
    ) -> Result<(Committed, String), ToolError> {
        let path = edit.path.clone();
        let before = read_opt(&path);
        let committed = commit(&*self.editors, edit, shown).await?;
        let mut note = String::new();
        if committed.on_disk() {
            let after = read_opt(&path);
            if after != before
                && let Some(why) = self.checkpoints.record(&path, before, after).await
            {
                note = format!(" {why}");
            }
        }
        Ok((committed, note))
    }
}

/// [`ToolContext::commit_edit`], with the editors given.
///
/// # Errors
/// The editor's refusal or the I/O error.
pub async fn commit(
    editors: &dyn Editors,
    edit: FileEdit,
    shown: &str,
) -> Result<Committed, ToolError> {
    let write = |edit: &FileEdit| {
        write_atomically(&edit.path, &edit.new_text)
            .map_err(|e| ToolError::new(format!("cannot write {shown}: {e}")))
    };
    let Some((editor, buffer)) = editors
        .editor_for(&edit.path)
        .and_then(|e| e.buffer(&edit.path).map(|b| (e, b)))
    else {
        write(&edit)?;
        return Ok(Committed::Written);
    };
    let clean = match std::fs::read_to_string(&edit.path) {
        Ok(disk) => disk == buffer,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => buffer.is_empty(),
        Err(_) => false,
    };
    match editor.apply(&edit).await {
        Ok(()) => {}
        // Closed in the meantime: nobody holds it any more.
        Err(EditorError::NotOpen(_)) => {
            write(&edit)?;
            return Ok(Committed::Written);
        }
        Err(reason) => {
            return Err(ToolError::new(format!(
                "the editor did not apply the edit to {shown}: {reason}"
            )));
        }
    }
    if !clean {
        return Ok(Committed::KeptUnsaved);
    }
    if !editor.saves() {
        write(&edit)?;
        return Ok(Committed::AppliedAndWritten);
    }
    if let Err(e) = editor.save(&edit.path).await {
        return Ok(Committed::NotSaved(e.to_string()));
    }
    // Trust, but check: an editor may save something else (a buffer
    // changed in between); one that adds a final line break is fine.
    let disk = std::fs::read_to_string(&edit.path).unwrap_or_default();
    let same = disk == edit.new_text
        || disk.strip_suffix('\n').is_some_and(|d| {
            d == edit.new_text || d.strip_suffix('\r') == Some(edit.new_text.as_str())
        });
    Ok(if same {
        Committed::Saved
    } else {
        Committed::NotSaved(
            "the editor saved the file, but what it wrote is not the edit".to_owned(),
        )
    })
}

/// A file's current text: the open buffer if there is one, else the disk;
/// `None` when the file does not exist. `shown` names it in errors.
///
/// # Errors
/// When the file cannot be read (a directory, say), is binary or is not UTF-8.
pub fn current_text(
    buffers: &dyn Buffers,
    abs: &Path,
    shown: &str,
) -> Result<Option<String>, ToolError> {
    if let Some(text) = buffers.text(abs) {
        return Ok(Some(text));
    }
    match std::fs::read(abs) {
        Ok(bytes) => {
            if is_binary(&bytes) {
                return Err(ToolError::new(format!(
                    "{shown} is a binary file; only text files can be read or edited"
                )));
            }
            String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| ToolError::new(format!("{shown} is not valid UTF-8 text")))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => {
            Err(ToolError::new(format!("{shown} is a directory")))
        }
        Err(e) => Err(ToolError::new(format!("cannot read {shown}: {e}"))),
    }
}

/// Writes `text` to `path` through a temporary file and a rename, creating
/// parent directories.
///
/// # Errors
/// Any I/O error.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let parent = path
        .parent()
        .ok_or_else(|| std::io::Error::other("no parent directory"))?;
    std::fs::create_dir_all(parent)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(".{name}.codelab-{}.tmp", Uuid::now_v7().simple()));
    std::fs::write(&tmp, text)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// A NUL byte in the first 8 KiB marks a binary file, as git and ripgrep do.
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8192).any(|b| *b == 0)
}

/// One tool, with its parameters typed.
pub trait TypedTool: Send + Sync + 'static {
    /// The parameters; their schema is what the model sees.
    type Params: DeserializeOwned + JsonSchema + Send;
    /// The name.
    const NAME: &'static str;
    /// What it does, for the model.
    const DESCRIPTION: &'static str;
    /// Its kind.
    const KIND: ToolKind;

    /// What the call would touch: the workspace paths it reads or changes
    /// and the command it runs. Every tool states it (there is no default),
    /// so a new tool cannot slip past the gate's path checks by omission.
    fn subject(params: &Self::Params) -> Subject;

    /// For edit tools: what the call would change, for the approval prompt
    /// (`Ok(None)` for tools that change no file).
    ///
    /// # Errors
    /// Why the change cannot be previewed (the path is refused, the file is
    /// binary, no block of a diff matches): the same text the call would fail
    /// with, which the caller can show instead of a preview.
    fn preview(
        _params: &Self::Params,
        _at: &PreviewContext<'_>,
    ) -> Result<Option<EditPreview>, ToolError> {
        Ok(None)
    }

    /// Runs the tool.
    fn run(
        &self,
        ctx: &ToolContext,
        params: Self::Params,
    ) -> impl Future<Output = Result<ToolOutput, ToolError>> + Send;
}

/// A tool as the registry holds it.
pub trait Tool: Send + Sync {
    /// The name.
    fn name(&self) -> &str;
    /// The description.
    fn description(&self) -> &str;
    /// The kind.
    fn kind(&self) -> ToolKind;
    /// The parameters' JSON Schema.
    fn parameters(&self) -> Value;
    /// For a tool of an MCP server: whether the server annotates it
    /// read-only (agents with read-only access to MCP tools get only
    /// those); `None` for the built-in tools.
    fn mcp_read_only(&self) -> Option<bool> {
        None
    }
    /// Parses the arguments with the parameter type (the validation) and
    /// returns what the call would touch.
    ///
    /// # Errors
    /// A message naming the failing field.
    fn check(&self, args: &Value) -> Result<Subject, ToolError>;
    /// Parses the arguments and previews the change an edit tool would make;
    /// `Ok(None)` for other tools.
    ///
    /// # Errors
    /// Invalid arguments, or why the change cannot be previewed (see
    /// [`TypedTool::preview`]).
    fn preview(
        &self,
        args: &Value,
        at: &PreviewContext<'_>,
    ) -> Result<Option<EditPreview>, ToolError>;
    /// Checks and runs.
    fn call<'a>(
        &'a self,
        ctx: &'a ToolContext,
        args: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>>;
}

fn parse<P: DeserializeOwned>(name: &str, args: &Value) -> Result<P, ToolError> {
    if !args.is_object() {
        return Err(ToolError::new(format!(
            "invalid arguments for {name}: expected a JSON object"
        )));
    }
    serde_path_to_error::deserialize(args.clone()).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            ToolError::new(format!("invalid arguments for {name}: {inner}"))
        } else {
            ToolError::new(format!("invalid arguments for {name}: `{path}`: {inner}"))
        }
    })
}

/// The JSON Schema of `P`, inlined, as the model sees it.
pub fn schema_of<P: JsonSchema>() -> Value {
    let settings =
        schemars::generate::SchemaSettings::draft2020_12().with(|s| s.inline_subschemas = true);
    let mut v = settings
        .into_generator()
        .into_root_schema_for::<P>()
        .to_value();
    if let Some(o) = v.as_object_mut() {
        o.remove("$schema");
        o.remove("title");
    }
    v
}

impl<T: TypedTool> Tool for T {
    fn name(&self) -> &str {
        T::NAME
    }
    fn description(&self) -> &str {
        T::DESCRIPTION
    }
    fn kind(&self) -> ToolKind {
        T::KIND
    }
    fn parameters(&self) -> Value {
        schema_of::<T::Params>()
    }
    fn check(&self, args: &Value) -> Result<Subject, ToolError> {
        parse::<T::Params>(T::NAME, args).map(|p| T::subject(&p))
    }
    fn preview(
        &self,
        args: &Value,
        at: &PreviewContext<'_>,
    ) -> Result<Option<EditPreview>, ToolError> {
        T::preview(&parse::<T::Params>(T::NAME, args)?, at)
    }
    fn call<'a>(
        &'a self,
        ctx: &'a ToolContext,
        args: Value,
    ) -> BoxFuture<'a, Result<ToolOutput, ToolError>> {
        Box::pin(async move {
            let params = parse::<T::Params>(T::NAME, &args)?;
            self.run(ctx, params).await
        })
    }
}

/// Every tool, by name.
pub fn registry() -> Vec<Arc<dyn Tool>> {
    vec![
        Arc::new(read_file::ReadFile),
        Arc::new(write_file::WriteFile),
        Arc::new(list_files::ListFiles),
        Arc::new(search_in_code::SearchInCode),
        Arc::new(execute_command::ExecuteCommand),
        Arc::new(read_command_output::ReadCommandOutput),
        Arc::new(stop_command::StopCommand),
        Arc::new(apply_diff::ApplyDiff),
        Arc::new(ask_followup_question::AskFollowupQuestion),
        Arc::new(attempt_completion::AttemptCompletion),
        Arc::new(switch_mode::SwitchMode),
        Arc::new(new_task::NewTask),
        Arc::new(git_status::GitStatus),
        Arc::new(git_diff::GitDiff),
        Arc::new(git_log::GitLog),
        Arc::new(git_show::GitShow),
        Arc::new(git_commit::GitCommit),
        Arc::new(git_branch::GitBranch),
    ]
}

/// Finds a tool by name.
pub fn find(name: &str) -> Option<Arc<dyn Tool>> {
    registry().into_iter().find(|t| t.name() == name)
}

/// Test doubles shared by the tools' unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};

    /// Open buffers held in memory.
    #[derive(Debug, Default)]
    pub(crate) struct OpenBuffers(pub HashMap<PathBuf, String>);

    impl super::Buffers for OpenBuffers {
        fn text(&self, path: &Path) -> Option<String> {
            self.0.get(path).cloned()
        }
        fn all_under(&self, root: &Path) -> Vec<(PathBuf, String)> {
            self.0
                .iter()
                .filter(|(p, _)| p.starts_with(root))
                .map(|(p, t)| (p.clone(), t.clone()))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Every tool states what it touches from its typed parameters.
    #[test]
    fn every_tool_states_its_subject() {
        let paths = |p: &[&str]| Subject::paths(p.iter().map(|s| (*s).to_owned()));
        let cases = [
            (
                "read_file",
                json!({"path": "src/a.rs", "offset": 3}),
                paths(&["src/a.rs"]),
            ),
            (
                "write_file",
                json!({"path": "b.md", "content": "x"}),
                paths(&["b.md"]),
            ),
            (
                "apply_diff",
                json!({"path": "c.rs", "diff": "d"}),
                paths(&["c.rs"]),
            ),
            (
                "list_files",
                json!({"path": "src", "recursive": true}),
                paths(&["src"]),
            ),
            ("list_files", json!({}), paths(&["."])),
            (
                "search_in_code",
                json!({"regex": "fn", "path": "lib"}),
                paths(&["lib"]),
            ),
            ("search_in_code", json!({"regex": "fn"}), paths(&["."])),
            (
                "execute_command",
                json!({"command": "cargo test", "cwd": "crates/x"}),
                Subject {
                    paths: vec![],
                    command: Some("cargo test".into()),
                    cwd: Some("crates/x".into()),
                    unsandboxed: false,
                    read_only: false,
                },
            ),
            (
                "execute_command",
                json!({"command": "docker ps", "sandbox": false, "background": true}),
                Subject {
                    command: Some("docker ps".into()),
                    unsandboxed: true,
                    ..Subject::default()
                },
            ),
            (
                "read_command_output",
                json!({"id": "p1"}),
                Subject::default(),
            ),
            ("stop_command", json!({"id": "p1"}), Subject::default()),
            (
                "ask_followup_question",
                json!({"question": "?"}),
                Subject::default(),
            ),
            (
                "attempt_completion",
                json!({"result": "done"}),
                Subject::default(),
            ),
            (
                "switch_mode",
                json!({"mode": "coder", "reason": "r"}),
                Subject::default(),
            ),
            (
                "new_task",
                json!({"mode": "coder", "message": "m"}),
                Subject::default(),
            ),
            ("git_status", json!({}), paths(&["."])),
            ("git_diff", json!({"staged": true}), paths(&["."])),
            ("git_diff", json!({"path": "src"}), paths(&["src"])),
            (
                "git_log",
                json!({"path": "a.rs", "limit": 3}),
                paths(&["a.rs"]),
            ),
            ("git_show", json!({"revision": "HEAD~1"}), paths(&["."])),
            ("git_commit", json!({"message": "m"}), paths(&["."])),
            (
                "git_commit",
                json!({"message": "m", "paths": ["a.rs", "b/"]}),
                paths(&["a.rs", "b/"]),
            ),
            (
                "git_branch",
                json!({}),
                Subject {
                    read_only: true,
                    ..paths(&["."])
                },
            ),
            (
                "git_branch",
                json!({"action": "switch", "name": "x"}),
                paths(&["."]),
            ),
        ];
        for (tool, args, subject) in &cases {
            let t = find(tool).expect("registered");
            assert_eq!(t.check(args).as_ref(), Ok(subject), "{tool} {args}");
        }
        for t in registry() {
            assert!(
                cases.iter().any(|(name, ..)| *name == t.name()),
                "{} has no subject case",
                t.name()
            );
        }
    }

    #[test]
    fn check_names_the_failing_field() {
        let t = find("write_file").expect("registered");
        let err = t.check(&json!({"path": "a"})).expect_err("content missing");
        assert!(
            err.0.starts_with("invalid arguments for write_file: "),
            "{err}"
        );
        assert!(err.0.contains("content"), "{err}");
        let err = t.check(&json!([1])).expect_err("not an object");
        assert_eq!(
            err.0,
            "invalid arguments for write_file: expected a JSON object"
        );
    }

    /// Only edit tools preview; the others say there is nothing to show.
    #[test]
    fn only_edit_tools_preview() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("a.rs"), "a\n").expect("write");
        let ws = Workspace::new(dir.path()).expect("workspace");
        let buffers = testing::OpenBuffers::default();
        let at = PreviewContext {
            workspace: &ws,
            buffers: &buffers,
            diff_threshold: 1.0,
        };
        for t in registry() {
            if t.name().starts_with("git_") {
                // They preview against a repository: tests/git.rs.
                continue;
            }
            let args = match t.name() {
                "write_file" => json!({"path": "a.rs", "content": "b\n"}),
                "apply_diff" => {
                    json!({"path": "a.rs", "diff": "<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE"})
                }
                "read_file" => json!({"path": "a.rs"}),
                "list_files" => json!({}),
                "search_in_code" => json!({"regex": "a"}),
                "execute_command" => json!({"command": "true"}),
                "read_command_output" | "stop_command" => json!({"id": "p1"}),
                "ask_followup_question" => json!({"question": "?"}),
                "attempt_completion" => json!({"result": "r"}),
                "switch_mode" => json!({"mode": "coder", "reason": "r"}),
                "new_task" => json!({"mode": "coder", "message": "m"}),
                other => panic!("no preview case for {other}"),
            };
            let preview = t.preview(&args, &at).expect("previews");
            assert_eq!(
                preview.is_some(),
                t.kind() == ToolKind::Edit,
                "{}",
                t.name()
            );
            if let Some(p) = preview {
                assert_eq!(p.files[0].current, "a\n", "{}", t.name());
                assert_eq!(p.files[0].proposed, "b\n", "{}", t.name());
            }
        }
        let err = find("write_file")
            .expect("registered")
            .preview(&json!({"path": "a.rs"}), &at)
            .expect_err("invalid arguments");
        assert!(err.0.contains("content"), "{err}");
    }

    /// An editor holding one file, as an in-memory buffer.
    struct FakeEditor {
        path: PathBuf,
        buffer: std::sync::Mutex<Option<String>>,
        saves: bool,
        refuse: Option<String>,
        save_fails: Option<String>,
        /// Whether saving writes the buffer (an editor that "saves" nothing otherwise).
        writes: bool,
        /// What saving adds at the end (an editor that fixes the final line break).
        eol: &'static str,
        log: std::sync::Mutex<Vec<&'static str>>,
    }

    impl FakeEditor {
        fn new(path: &Path, buffer: Option<&str>) -> Self {
            Self {
                path: path.to_path_buf(),
                buffer: std::sync::Mutex::new(buffer.map(str::to_owned)),
                saves: true,
                refuse: None,
                save_fails: None,
                writes: true,
                eol: "",
                log: std::sync::Mutex::default(),
            }
        }
        fn text(&self) -> Option<String> {
            self.buffer.lock().expect("lock").clone()
        }
        fn log(&self) -> Vec<&'static str> {
            self.log.lock().expect("lock").clone()
        }
    }

    impl Editor for FakeEditor {
        fn buffer(&self, path: &Path) -> Option<String> {
            (path == self.path).then(|| self.text()).flatten()
        }
        fn saves(&self) -> bool {
            self.saves
        }
        fn apply(&self, edit: &FileEdit) -> BoxFuture<'_, Result<(), EditorError>> {
            let edit = edit.clone();
            Box::pin(async move {
                self.log.lock().expect("lock").push("apply");
                if let Some(r) = &self.refuse {
                    return Err(EditorError::Refused(r.clone()));
                }
                let mut b = self.buffer.lock().expect("lock");
                match b.as_mut() {
                    None => Err(EditorError::NotOpen(edit.path)),
                    Some(text) => {
                        *text = edit.new_text;
                        Ok(())
                    }
                }
            })
        }
        fn save(&self, path: &Path) -> BoxFuture<'_, Result<(), EditorError>> {
            let path = path.to_path_buf();
            Box::pin(async move {
                self.log.lock().expect("lock").push("save");
                if let Some(r) = &self.save_fails {
                    return Err(EditorError::NotSaved(r.clone()));
                }
                if self.writes {
                    let text = self.text().unwrap_or_default() + self.eol;
                    std::fs::write(&path, text).expect("write");
                }
                Ok(())
            })
        }
    }

    /// The editors: this one, when it has the file open.
    struct Just(Arc<FakeEditor>);

    impl Editors for Just {
        fn editor_for(&self, path: &Path) -> Option<Arc<dyn Editor>> {
            self.0
                .buffer(path)
                .map(|_| Arc::clone(&self.0) as Arc<dyn Editor>)
        }
    }

    /// A file on disk holding `disk` (none when `None`) and an editor
    /// set up by `setup`; commits `new` and returns what happened, the
    /// editor and the file's path.
    async fn commit_with(
        disk: Option<&str>,
        setup: impl FnOnce(&Path) -> FakeEditor,
        new: &str,
    ) -> (
        Result<Committed, ToolError>,
        Arc<FakeEditor>,
        PathBuf,
        tempfile::TempDir,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f.txt");
        if let Some(d) = disk {
            std::fs::write(&path, d).expect("write");
        }
        let editor = Arc::new(setup(&path));
        let r = commit(
            &Just(Arc::clone(&editor)),
            FileEdit {
                path: path.clone(),
                new_text: new.into(),
            },
            "f.txt",
        )
        .await;
        (r, editor, path, dir)
    }

    fn disk(path: &Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }

    #[tokio::test]
    async fn a_file_no_editor_has_open_is_written_on_disk() {
        let (r, editor, path, _d) =
            commit_with(Some("old\n"), |p| FakeEditor::new(p, None), "new\n").await;
        assert_eq!(r, Ok(Committed::Written));
        assert_eq!(disk(&path).as_deref(), Some("new\n"));
        assert!(editor.log().is_empty(), "the editor was not asked");
        let (r, _, path, _d) = commit_with(None, |p| FakeEditor::new(p, None), "created\n").await;
        assert_eq!(r, Ok(Committed::Written));
        assert_eq!(disk(&path).as_deref(), Some("created\n"));
        // And with no editors at all.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/g.txt");
        let edit = FileEdit {
            path: path.clone(),
            new_text: "g".into(),
        };
        assert_eq!(commit(&NoEditors, edit, "g").await, Ok(Committed::Written));
        assert_eq!(disk(&path).as_deref(), Some("g"));
    }

    #[tokio::test]
    async fn a_clean_open_buffer_gets_the_edit_and_is_saved() {
        let (r, editor, path, _d) = commit_with(
            Some("old\n"),
            |p| FakeEditor::new(p, Some("old\n")),
            "new\n",
        )
        .await;
        assert_eq!(r, Ok(Committed::Saved));
        assert_eq!(editor.log(), ["apply", "save"]);
        assert_eq!(editor.text().as_deref(), Some("new\n"));
        assert_eq!(disk(&path).as_deref(), Some("new\n"));
        // A new file's empty buffer counts as clean.
        let (r, editor, path, _d) =
            commit_with(None, |p| FakeEditor::new(p, Some("")), "new\n").await;
        assert_eq!(r, Ok(Committed::Saved));
        assert_eq!(editor.log(), ["apply", "save"]);
        assert_eq!(disk(&path).as_deref(), Some("new\n"));
    }

    #[tokio::test]
    async fn unsaved_changes_of_the_user_are_kept_and_nothing_is_saved() {
        let (r, editor, path, _d) = commit_with(
            Some("saved\n"),
            |p| FakeEditor::new(p, Some("saved\nthe user's line\n")),
            "the agent's\n",
        )
        .await;
        assert_eq!(r, Ok(Committed::KeptUnsaved));
        assert_eq!(editor.log(), ["apply"], "never saved");
        assert_eq!(editor.text().as_deref(), Some("the agent's\n"));
        assert_eq!(
            disk(&path).as_deref(),
            Some("saved\n"),
            "the disk is untouched"
        );
        let committed = Committed::KeptUnsaved;
        assert!(!committed.on_disk());
        let note = committed.note("f.txt");
        assert!(
            note.contains("unsaved changes") && note.contains("NOT saved"),
            "{note}"
        );
        // An open buffer of a file that is not on disk, with text in it.
        let (r, editor, path, _d) =
            commit_with(None, |p| FakeEditor::new(p, Some("draft")), "x").await;
        assert_eq!(r, Ok(Committed::KeptUnsaved));
        assert_eq!(editor.log(), ["apply"]);
        assert_eq!(disk(&path), None);
    }

    #[tokio::test]
    async fn an_editor_that_does_not_save_gets_the_edit_and_the_server_writes() {
        let (r, editor, path, _d) = commit_with(
            Some("old\n"),
            |p| FakeEditor {
                saves: false,
                ..FakeEditor::new(p, Some("old\n"))
            },
            "new\n",
        )
        .await;
        assert_eq!(r, Ok(Committed::AppliedAndWritten));
        assert_eq!(editor.log(), ["apply"]);
        assert_eq!(editor.text().as_deref(), Some("new\n"));
        assert_eq!(disk(&path).as_deref(), Some("new\n"));
    }

    #[tokio::test]
    async fn a_save_that_fails_or_writes_something_else_is_reported() {
        let (r, _, path, _d) = commit_with(
            Some("old\n"),
            |p| FakeEditor {
                save_fails: Some("E212: Can't open file for writing".into()),
                ..FakeEditor::new(p, Some("old\n"))
            },
            "new\n",
        )
        .await;
        assert_eq!(
            r,
            Ok(Committed::NotSaved(
                "E212: Can't open file for writing".into()
            ))
        );
        assert_eq!(disk(&path).as_deref(), Some("old\n"));
        let note = Committed::NotSaved("E212".into()).note("f.txt");
        assert!(note.contains("did not save it (E212)"), "{note}");
        let (r, _, _, _d) = commit_with(
            Some("old\n"),
            |p| FakeEditor {
                writes: false,
                ..FakeEditor::new(p, Some("old\n"))
            },
            "new\n",
        )
        .await;
        assert!(matches!(r, Ok(Committed::NotSaved(_))), "{r:?}");
        // An editor that adds the final line break saved the edit.
        for eol in ["\n", "\r\n"] {
            let (r, _, path, _d) = commit_with(
                Some("old\n"),
                |p| FakeEditor {
                    eol,
                    ..FakeEditor::new(p, Some("old\n"))
                },
                "new",
            )
            .await;
            assert_eq!(r, Ok(Committed::Saved));
            assert_eq!(disk(&path), Some(format!("new{eol}")));
        }
    }

    #[tokio::test]
    async fn a_refused_edit_fails_the_call_and_changes_nothing() {
        let (r, editor, path, _d) = commit_with(
            Some("old\n"),
            |p| FakeEditor {
                refuse: Some("buffer is read-only".into()),
                ..FakeEditor::new(p, Some("old\n"))
            },
            "new\n",
        )
        .await;
        let err = r.expect_err("refused");
        assert_eq!(
            err.0,
            "the editor did not apply the edit to f.txt: buffer is read-only"
        );
        assert_eq!(editor.log(), ["apply"]);
        assert_eq!(disk(&path).as_deref(), Some("old\n"));
    }

    #[test]
    fn a_file_preview_is_a_unified_diff_of_both_texts() {
        let p = file_preview("src/a.rs".into(), "one\ntwo\n".into(), "one\n2\n".into());
        assert_eq!(
            p.diff,
            "--- a/src/a.rs\n+++ b/src/a.rs\n@@ -1,2 +1,2 @@\n one\n-two\n+2\n"
        );
        assert_eq!(
            p.files,
            [FileChange {
                path: "src/a.rs".into(),
                current: "one\ntwo\n".into(),
                proposed: "one\n2\n".into(),
            }]
        );
    }
}
