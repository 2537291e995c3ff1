//! The handshake on a daemon connection: a few JSON lines (one object per
//! line, `\n`-terminated, at most [`MAX_LINE`] bytes) before anything else.
//!
//! ```text
//! daemon → client   {"codelab":"daemon","handshake":1,"version":"0.1.0","pid":4242}
//! client → daemon   {"request":"lsp","version":"0.1.0","pid":4300}
//! daemon → client   {"ok":true}
//!                   ...then LSP messages both ways, Content-Length framed
//! ```
//!
//! `{"request":"acp",...}` asks for an ACP connection instead (`codelab-agent
//! acp`): after `{"ok":true}` the bytes are ACP's newline-delimited JSON-RPC.
//!
//! The daemon speaks first, so a client knows the daemon's version before
//! it commits to anything; what to do about a difference is the client's
//! decision (a newer client replaces an idle older daemon). Other requests:
//! `{"request":"status"}` (answered with `{"ok":true,"status":{...}}`) and
//! `{"request":"stop","refuseIf":["turns","connections"]}` (answered with
//! `{"ok":true}` before the daemon stops, or
//! `{"ok":false,"refusal":"busy","error":"..."}`); after either the daemon
//! closes the connection. A daemon that is stopping refuses `lsp` with
//! `{"ok":false,"refusal":"stopping",...}`: the client then waits for it to
//! exit and starts a new one.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// The version of this handshake (not of the program).
pub const HANDSHAKE: u32 = 1;

/// The longest handshake line.
pub const MAX_LINE: usize = 64 * 1024;

/// The daemon's first line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Greeting {
    /// Always `"daemon"`.
    pub codelab: String,
    /// [`HANDSHAKE`].
    pub handshake: u32,
    /// The daemon's program version.
    pub version: String,
    /// The daemon's pid.
    pub pid: u32,
}

/// What a client asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "request",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Request {
    /// An LSP connection: after `{"ok":true}` the bytes are LSP.
    Lsp {
        /// The client's program version.
        version: String,
        /// The client's pid.
        pid: u32,
    },
    /// An ACP connection: after `{"ok":true}` the bytes are ACP
    /// (newline-delimited JSON-RPC), served by the daemon's ACP front end.
    Acp {
        /// The client's program version.
        version: String,
        /// The client's pid.
        pid: u32,
    },
    /// The daemon's [`Status`].
    Status,
    /// Stop, unless one of `refuse_if` holds.
    Stop {
        /// What makes the daemon refuse to stop.
        #[serde(default)]
        refuse_if: Vec<BusyKind>,
    },
}

/// Which front end a client connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Front {
    /// LSP with the `codelab/*` extensions (`--stdio`).
    #[default]
    Lsp,
    /// The Agent Client Protocol (`acp`).
    Acp,
}

/// What keeps a daemon busy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum BusyKind {
    /// A turn (or other tracked work) is running.
    Turns,
    /// An editor is connected.
    Connections,
}

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Refusal {
    /// The daemon is stopping: wait for it to exit, then start another.
    Stopping,
    /// The daemon is busy (a stop with `refuseIf`).
    Busy,
    /// The request was not understood.
    BadRequest,
}

/// The daemon's answer to a request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reply {
    /// Whether the request is granted.
    pub ok: bool,
    /// Why not, as a code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    /// Why not, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

impl Reply {
    /// Granted.
    pub fn ok() -> Self {
        Self {
            ok: true,
            ..Self::default()
        }
    }

    /// Refused.
    pub fn refused(refusal: Refusal, error: impl Into<String>) -> Self {
        Self {
            ok: false,
            refusal: Some(refusal),
            error: Some(error.into()),
            status: None,
        }
    }
}

/// What `daemon status` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The daemon's pid.
    pub pid: u32,
    /// Its program version.
    pub version: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Its socket.
    pub socket: PathBuf,
    /// Its log file.
    pub log: PathBuf,
    /// When it started (RFC 3339).
    pub started_at: String,
    /// Seconds since then.
    pub uptime_secs: u64,
    /// LSP connections (editors) now.
    pub connections: usize,
    /// Turns running now.
    pub running_turns: usize,
    /// The idle time after which it exits.
    pub idle_exit_secs: u64,
}

/// One JSON line.
///
/// # Errors
/// The value cannot be serialized (not for the types here).
pub fn line<T: Serialize>(value: &T) -> std::io::Result<Vec<u8>> {
    let mut out = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    out.push(b'\n');
    Ok(out)
}

/// Parses one line.
///
/// # Errors
/// Not the expected JSON.
pub fn parse<T: for<'de> Deserialize<'de>>(line: &[u8]) -> Result<T, String> {
    serde_json::from_slice(line).map_err(|e| {
        format!(
            "{e} in {:?}",
            String::from_utf8_lossy(&line[..line.len().min(200)])
        )
    })
}

fn too_long() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("a handshake line longer than {MAX_LINE} bytes"),
    )
}

/// Reads one line (without its `\n`); `None` at EOF before a full line.
///
/// # Errors
/// I/O errors, or a line longer than [`MAX_LINE`].
pub async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::new();
    (&mut *r)
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut buf)
        .await?;
    if buf.last() != Some(&b'\n') {
        return if buf.len() > MAX_LINE {
            Err(too_long())
        } else {
            Ok(None)
        };
    }
    buf.pop();
    Ok(Some(buf))
}

/// [`read_line`] for blocking readers.
///
/// # Errors
/// As [`read_line`].
pub fn read_line_blocking<R: std::io::BufRead>(r: &mut R) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::{BufRead as _, Read as _};
    let mut buf = Vec::new();
    r.by_ref()
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut buf)?;
    if buf.last() != Some(&b'\n') {
        return if buf.len() > MAX_LINE {
            Err(too_long())
        } else {
            Ok(None)
        };
    }
    buf.pop();
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_format_is_as_documented() {
        let req = Request::Lsp {
            version: "0.1.0".into(),
            pid: 7,
        };
        assert_eq!(
            String::from_utf8(line(&req).unwrap()).unwrap(),
            "{\"request\":\"lsp\",\"version\":\"0.1.0\",\"pid\":7}\n"
        );
        let stop: Request =
            parse(br#"{"request":"stop","refuseIf":["turns","connections"]}"#).unwrap();
        assert_eq!(
            stop,
            Request::Stop {
                refuse_if: vec![BusyKind::Turns, BusyKind::Connections]
            }
        );
        assert_eq!(
            parse::<Request>(br#"{"request":"status"}"#).unwrap(),
            Request::Status
        );
        assert_eq!(
            String::from_utf8(line(&Reply::ok()).unwrap()).unwrap(),
            "{\"ok\":true}\n"
        );
        let refused = Reply::refused(Refusal::Stopping, "stopping");
        assert_eq!(
            parse::<Reply>(&line(&refused).unwrap()[..]).unwrap(),
            refused
        );
        assert!(parse::<Request>(b"{\"request\":\"dance\"}").is_err());
    }

    #[test]
    fn lines_are_bounded() {
        let mut r = std::io::BufReader::new(&b"abc\ndef"[..]);
        assert_eq!(read_line_blocking(&mut r).unwrap(), Some(b"abc".to_vec()));
        assert_eq!(read_line_blocking(&mut r).unwrap(), None, "no newline: EOF");
        let long = vec![b'x'; MAX_LINE + 10];
        let mut r = std::io::BufReader::new(&long[..]);
        assert!(read_line_blocking(&mut r).is_err());
    }
}
