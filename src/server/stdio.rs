//! LSP's stdio transport: `Content-Length` framing, over stdin and stdout
//! ([`serve`]) or any other pair of byte streams ([`serve_io`], which `serve`
//! runs, so in-memory pipes take the same code path as the real stdio).
//!
//! The reader never gives up on a bad message: a header without
//! `Content-Length`, a body that is not UTF-8 or a body over the size limit is
//! reported as one [`Incoming`] value and reading goes on with the next
//! message. An oversized body is skipped without being buffered.

use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

use super::connection::{self, ConnectionEnd, Incoming};
use crate::core::Core;

/// Header lines longer than this are refused.
const MAX_HEADER_LINE: usize = 8 * 1024;

/// Reads framed messages from `input` into `tx` until EOF.
pub async fn read_frames<R: AsyncRead + Unpin>(
    input: R,
    max_body: usize,
    tx: mpsc::Sender<Incoming>,
) {
    let mut reader = BufReader::new(input);
    let mut line = Vec::new();
    loop {
        // Headers, up to an empty line.
        let mut content_length: Option<Result<usize, String>> = None;
        let mut problem: Option<String> = None;
        let mut saw_header = false;
        loop {
            line.clear();
            let n = match (&mut reader)
                .take(MAX_HEADER_LINE as u64 + 1)
                .read_until(b'\n', &mut line)
                .await
            {
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!(error = %e, "stdin closed");
                    return;
                }
            };
            if n == 0 {
                return; // EOF
            }
            if line.last() != Some(&b'\n') {
                // Over-long header line: skip the rest of it.
                problem = Some(format!("header line longer than {MAX_HEADER_LINE} bytes"));
                let mut skip = Vec::new();
                if reader.read_until(b'\n', &mut skip).await.unwrap_or(0) == 0 {
                    return;
                }
                continue;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\r', '\n']);
            if text.is_empty() {
                if saw_header {
                    break;
                }
                continue; // stray blank line between messages
            }
            saw_header = true;
            match text.split_once(':') {
                Some((name, value)) if name.trim().eq_ignore_ascii_case("content-length") => {
                    content_length =
                        Some(value.trim().parse::<usize>().map_err(|e| {
                            format!("invalid Content-Length {:?}: {e}", value.trim())
                        }));
                }
                Some((name, _)) if name.trim().eq_ignore_ascii_case("content-type") => {}
                Some((name, _)) => tracing::debug!(header = name, "ignoring unknown header"),
                None => problem = Some(format!("malformed header line {text:?}")),
            }
        }
        let len = match content_length {
            Some(Ok(len)) => len,
            Some(Err(reason)) => {
                if tx.send(Incoming::Malformed(reason)).await.is_err() {
                    return;
                }
                continue;
            }
            None => {
                let reason = problem.unwrap_or_else(|| "missing Content-Length header".to_owned());
                if tx.send(Incoming::Malformed(reason)).await.is_err() {
                    return;
                }
                continue;
            }
        };
        if len > max_body {
            // Skip the body without keeping it.
            let skipped =
                tokio::io::copy(&mut (&mut reader).take(len as u64), &mut tokio::io::sink())
                    .await
                    .unwrap_or(0);
            if tx.send(Incoming::TooLarge { size: len }).await.is_err() || skipped < len as u64 {
                return;
            }
            continue;
        }
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).await.is_err() {
            return;
        }
        let item = match String::from_utf8(body) {
            Ok(text) => Incoming::Message(text),
            Err(e) => Incoming::Malformed(format!("body is not valid UTF-8: {e}")),
        };
        if tx.send(item).await.is_err() {
            return;
        }
    }
}

/// Writes each message with its `Content-Length` header.
pub async fn write_frames<W: AsyncWrite + Unpin>(mut output: W, mut rx: mpsc::Receiver<String>) {
    while let Some(msg) = rx.recv().await {
        let header = format!("Content-Length: {}\r\n\r\n", msg.len());
        if output.write_all(header.as_bytes()).await.is_err()
            || output.write_all(msg.as_bytes()).await.is_err()
        {
            return;
        }
        // Flush when nothing else is waiting, so bursts are written together.
        if rx.is_empty() && output.flush().await.is_err() {
            return;
        }
    }
    let _ = output.flush().await;
}

/// Serves one client on stdin and stdout until it exits or stdin closes.
pub async fn serve(core: Arc<Core>) -> ConnectionEnd {
    serve_io(core, tokio::io::stdin(), tokio::io::stdout()).await
}

/// Serves one client over any byte stream pair with `Content-Length`
/// framing, until it exits or `input` reaches EOF.
///
/// This is what [`serve`] runs on stdin and stdout; tests and embedders run
/// it over pipes (`tokio::io::duplex`), sockets or anything else, through the
/// same code path.
pub async fn serve_io<R, W>(core: Arc<Core>, input: R, output: W) -> ConnectionEnd
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (in_tx, in_rx) = mpsc::channel(64);
    let (out_tx, out_rx) = mpsc::channel(1024);
    let max = core.config.max_message_bytes;
    let reader = tokio::spawn(read_frames(input, max, in_tx));
    let mut writer = tokio::spawn(write_frames(output, out_rx));
    let end = connection::run(core, in_rx, out_tx).await;
    reader.abort();
    // Give the writer the chance to send what is queued (the last responses),
    // then release `output`.
    if tokio::time::timeout(std::time::Duration::from_secs(2), &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frames(input: &[u8], max: usize) -> Vec<String> {
        let (tx, mut rx) = mpsc::channel(16);
        read_frames(input, max, tx).await;
        let mut out = Vec::new();
        while let Ok(item) = rx.try_recv() {
            out.push(match item {
                Incoming::Message(m) => format!("msg:{m}"),
                Incoming::TooLarge { size } => format!("large:{size}"),
                Incoming::Malformed(r) => format!("bad:{r}"),
            });
        }
        out
    }

    #[tokio::test]
    async fn recovers_from_every_kind_of_bad_frame() {
        let mut input = Vec::new();
        input.extend_from_slice(b"Content-Length: 2\r\n\r\n{}");
        input.extend_from_slice(b"X-Nothing: 1\r\n\r\n");
        input.extend_from_slice(b"Content-Length: nope\r\n\r\n");
        input.extend_from_slice(b"Content-Length: 20\r\n\r\n01234567890123456789");
        input.extend_from_slice(b"Content-Length: 2\r\n\r\n\xff\xfe");
        input.extend_from_slice(b"content-length: 3\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n[1]");
        let got = frames(&input, 10).await;
        assert_eq!(got.len(), 6, "{got:?}");
        assert_eq!(got[0], "msg:{}");
        assert!(
            got[1].starts_with("bad:missing Content-Length"),
            "{}",
            got[1]
        );
        assert!(
            got[2].starts_with("bad:invalid Content-Length"),
            "{}",
            got[2]
        );
        assert_eq!(got[3], "large:20");
        assert!(
            got[4].starts_with("bad:body is not valid UTF-8"),
            "{}",
            got[4]
        );
        assert_eq!(got[5], "msg:[1]");
    }

    #[tokio::test]
    async fn truncated_body_ends_the_stream_quietly() {
        let got = frames(b"Content-Length: 10\r\n\r\n{}", 100).await;
        assert!(got.is_empty(), "{got:?}");
    }
}
