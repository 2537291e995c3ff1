//! `codelab-agent acp setup`: choose the model provider interactively.
//!
//! ACP's terminal auth method: a client that offers `auth.terminal` runs the
//! agent's own command with the method's `args` appended (`acp setup`) in a
//! terminal, and reconnects once it exits 0. The answers become the `[llm]`
//! table of `codelab.toml` in the data directory, which the next start reads.
//! Here stdout is the user's terminal, not the protocol.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use crate::llm::config::LlmSettings;
use crate::settings::{Settings, USER_CONFIG_FILE};

/// Why setup did not configure a provider.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// Reading the answers or writing the file failed.
    #[error("setup failed: {0}")]
    Io(#[from] std::io::Error),
    /// The input ended before every question was answered.
    #[error("setup aborted: the input ended before every question was answered")]
    Aborted,
    /// The file already has an `[llm]` table, which setup does not rewrite.
    #[error("{} already configures the model ([llm]); edit it there, or remove that table and run setup again", .0.display())]
    AlreadyConfigured(PathBuf),
    /// What was written does not configure a usable provider.
    #[error("the settings written to {path} do not work: {why}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
}

/// The providers setup offers (their names are also their wire formats).
const PROVIDERS: [&str; 2] = ["openai", "anthropic"];

/// What the user chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Choice {
    provider: String,
    api_key: String,
    model: String,
    base_url: Option<String>,
}

/// A TOML basic string (JSON's escapes are TOML's).
fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

impl Choice {
    /// The `[llm]` table.
    pub(super) fn table(&self) -> String {
        let mut t = format!(
            "# Written by `codelab-agent acp setup`.\n[llm]\nprovider = {}\nmodel = {}\n\n[llm.providers.{}]\napi_key = {}\n",
            toml_string(&self.provider),
            toml_string(&self.model),
            self.provider,
            toml_string(&self.api_key),
        );
        if let Some(url) = &self.base_url {
            t.push_str(&format!("base_url = {}\n", toml_string(url)));
        }
        t
    }
}

/// Whether a config file already has an `[llm]` table (or one below it).
fn has_llm_table(text: &str) -> bool {
    text.lines().map(str::trim).any(|l| {
        l.strip_prefix('[')
            .map(|rest| rest.trim_start_matches('[').trim_start())
            .is_some_and(|name| name.starts_with("llm]") || name.starts_with("llm."))
    })
}

struct Prompter<'a, R, W> {
    input: &'a mut R,
    out: &'a mut W,
    terminal: bool,
}

impl<R: BufRead, W: Write> Prompter<'_, R, W> {
    /// One answer, trimmed; `None` at the end of the input.
    fn ask(&mut self, question: &str, hidden: bool) -> Result<Option<String>, SetupError> {
        write!(self.out, "{question}")?;
        self.out.flush()?;
        let hide = hidden && self.terminal && set_echo(false);
        let mut line = String::new();
        let n = self.input.read_line(&mut line);
        if hide {
            set_echo(true);
            writeln!(self.out)?;
        }
        if n? == 0 {
            return Ok(None);
        }
        Ok(Some(line.trim().to_owned()))
    }

    /// Asks until the answer is acceptable.
    fn ask_until(
        &mut self,
        question: &str,
        hidden: bool,
        accept: impl Fn(&str) -> Result<String, String>,
    ) -> Result<String, SetupError> {
        loop {
            let answer = self.ask(question, hidden)?.ok_or(SetupError::Aborted)?;
            match accept(&answer) {
                Ok(v) => return Ok(v),
                Err(why) => writeln!(self.out, "  {why}")?,
            }
        }
    }
}

/// Turns the terminal's echo off or on; false when it cannot.
fn set_echo(on: bool) -> bool {
    if !cfg!(unix) {
        return false;
    }
    std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status()
        .is_ok_and(|s| s.success())
}

/// Asks the questions.
fn ask<R: BufRead, W: Write>(p: &mut Prompter<'_, R, W>) -> Result<Choice, SetupError> {
    let provider = p.ask_until("Provider (openai or anthropic) [openai]: ", false, |a| {
        let a = if a.is_empty() { "openai" } else { a };
        PROVIDERS
            .iter()
            .find(|x| x.eq_ignore_ascii_case(a))
            .map(|x| (*x).to_owned())
            .ok_or_else(|| format!("`{a}` is not one of: {}", PROVIDERS.join(", ")))
    })?;
    let api_key = p.ask_until("API key: ", true, |a| {
        if a.is_empty() {
            Err("the API key is required".into())
        } else {
            Ok(a.to_owned())
        }
    })?;
    let model = p.ask_until("Model (as the provider names it): ", false, |a| {
        if a.is_empty() {
            Err("the model is required".into())
        } else {
            Ok(a.to_owned())
        }
    })?;
    let base_url = p.ask_until(
        "Base URL (Enter for the provider's own, or an OpenAI-compatible server's): ",
        false,
        |a| match a {
            "" => Ok(String::new()),
            url if url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) => {
                Ok(url.to_owned())
            }
            other => Err(format!("`{other}` is not an http(s) URL")),
        },
    )?;
    Ok(Choice {
        provider,
        api_key,
        model,
        base_url: (!base_url.is_empty()).then_some(base_url),
    })
}

/// Adds the `[llm]` table to the config file (created with owner-only
/// permissions: it holds the key).
fn save(file: &Path, choice: &Choice) -> Result<(), SetupError> {
    let existing = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e.into()),
    };
    if has_llm_table(&existing) {
        return Err(SetupError::AlreadyConfigured(file.to_path_buf()));
    }
    let mut text = existing;
    if !text.is_empty() && !text.ends_with("\n\n") {
        text.push_str(if text.ends_with('\n') { "\n" } else { "\n\n" });
    }
    text.push_str(&choice.table());
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::tools::write_atomically(file, &text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Runs setup on `input` and `out` for the data directory `data_dir`.
///
/// # Errors
/// Input that ended early, a file that already configures the model, I/O,
/// or settings that do not resolve to a provider and model.
pub fn run_with<R: BufRead, W: Write>(
    data_dir: &Path,
    input: &mut R,
    out: &mut W,
    terminal: bool,
) -> Result<(), SetupError> {
    let file = data_dir.join(USER_CONFIG_FILE);
    writeln!(
        out,
        "codelab-agent setup: the model provider codelab-agent uses.\nThe answers are saved as [llm] in {}.\n",
        file.display()
    )?;
    if let Ok(text) = std::fs::read_to_string(&file)
        && has_llm_table(&text)
    {
        return Err(SetupError::AlreadyConfigured(file));
    }
    let choice = ask(&mut Prompter {
        input,
        out: &mut *out,
        terminal,
    })?;
    save(&file, &choice)?;
    let invalid = |why: String| SetupError::Invalid {
        path: file.clone(),
        why,
    };
    let settings =
        Settings::load(data_dir, LlmSettings::default()).map_err(|e| invalid(e.to_string()))?;
    let target = settings
        .llm(None, None)
        .map_err(|e| invalid(e.to_string()))?
        .resolve(Some(crate::agents::DEFAULT_AGENT))
        .map_err(|e| invalid(e.to_string()))?;
    writeln!(
        out,
        "\nSaved: provider {}, model {}. Reconnect the agent in your editor to use it.",
        choice.provider, target.model
    )?;
    Ok(())
}

/// Runs setup on the process's stdin and stdout.
///
/// # Errors
/// As [`run_with`].
pub fn run(data_dir: &Path) -> Result<(), SetupError> {
    let terminal = std::io::stdin().is_terminal();
    run_with(
        data_dir,
        &mut std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        terminal,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(dir: &Path, answers: &str) -> (Result<(), SetupError>, String) {
        let mut out = Vec::new();
        let r = run_with(dir, &mut answers.as_bytes(), &mut out, false);
        (r, String::from_utf8_lossy(&out).into_owned())
    }

    #[test]
    fn answers_become_the_llm_table() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(USER_CONFIG_FILE),
            "[agent]\nmax_iterations = 4",
        )
        .unwrap();
        let (r, out) = setup(
            dir.path(),
            "claude\nanthropic\n\nsk-\"q\"\nm-1\nftp://x\nhttp://127.0.0.1:9/v1\n",
        );
        r.unwrap();
        assert!(
            out.contains("`claude` is not one of: openai, anthropic"),
            "{out}"
        );
        assert!(out.contains("the API key is required"), "{out}");
        assert!(out.contains("`ftp://x` is not an http(s) URL"), "{out}");
        assert!(
            out.contains("Saved: provider anthropic, model m-1."),
            "{out}"
        );
        let file = dir.path().join(USER_CONFIG_FILE);
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            text,
            "[agent]\nmax_iterations = 4\n\n# Written by `codelab-agent acp setup`.\n[llm]\nprovider = \"anthropic\"\nmodel = \"m-1\"\n\n[llm.providers.anthropic]\napi_key = \"sk-\\\"q\\\"\"\nbase_url = \"http://127.0.0.1:9/v1\"\n"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // The file is the settings' own: it loads, with the key as typed.
        let s = Settings::load(dir.path(), LlmSettings::default()).unwrap();
        let t = s.llm(None, None).unwrap().resolve(None).unwrap();
        assert_eq!(t.model, "m-1");
        // A second run does not rewrite it.
        let (r, _) = setup(dir.path(), "openai\nk\nm\n\n");
        assert!(matches!(r, Err(SetupError::AlreadyConfigured(_))), "{r:?}");
    }

    #[test]
    fn input_that_ends_early_aborts_without_writing() {
        let dir = tempfile::tempdir().unwrap();
        let (r, _) = setup(dir.path(), "openai\nsk-x\n");
        assert!(matches!(r, Err(SetupError::Aborted)), "{r:?}");
        assert!(!dir.path().join(USER_CONFIG_FILE).exists());
    }

    #[test]
    fn llm_tables_are_recognised() {
        assert!(has_llm_table("[llm]\nmodel = \"x\""));
        assert!(has_llm_table("a = 1\n  [llm.providers.openai]\n"));
        assert!(has_llm_table("[[llm.x]]"));
        assert!(!has_llm_table("[llmx]\n[agent]\n# [llm]"));
    }
}
