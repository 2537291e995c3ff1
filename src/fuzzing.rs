//! Entry points for the fuzz targets in `fuzz/` and for replaying the inputs
//! they found (`tests/fuzz_regressions.rs`). Each must return for every input,
//! without panicking.

use std::sync::{Arc, OnceLock};

use tokio::sync::mpsc;

use crate::config::Config;
use crate::core::Core;
use crate::server::{connection, stdio};

struct World {
    runtime: tokio::runtime::Runtime,
    core: Arc<Core>,
    _dir: tempfile_dir::Dir,
}

/// A private temporary directory, removed at exit.
mod tempfile_dir {
    /// The directory.
    pub struct Dir(pub std::path::PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("codelab-fuzz-{}", std::process::id()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        let core = runtime.block_on(async {
            let mut config = Config::new(dir.clone());
            config.max_message_bytes = 64 * 1024;
            Arc::new(Core::open(config).unwrap_or_else(|e| panic!("core: {e}")))
        });
        World {
            runtime,
            core,
            _dir: tempfile_dir::Dir(dir),
        }
    })
}

/// Feeds `data` as stdio bytes through the framing and the full dispatch of
/// one connection, then closes it. Returns how many messages the server sent.
pub fn framing(data: &[u8]) -> usize {
    let w = world();
    w.runtime.block_on(async {
        let (in_tx, in_rx) = mpsc::channel(64);
        let (out_tx, mut out_rx) = mpsc::channel(4096);
        let core = Arc::clone(&w.core);
        let bytes = data.to_vec();
        let reader =
            tokio::spawn(
                async move { stdio::read_frames(bytes.as_slice(), 64 * 1024, in_tx).await },
            );
        let conn = tokio::spawn(connection::run(core, in_rx, out_tx));
        let _ = reader.await;
        let _ = conn.await;
        let mut n = 0;
        while out_rx.try_recv().is_ok() {
            n += 1;
        }
        n
    })
}

/// Feeds `data` as websocket text frames (split at NUL bytes) through the
/// dispatch of one connection.
pub fn frames(data: &[u8]) -> usize {
    let w = world();
    w.runtime.block_on(async {
        let (in_tx, in_rx) = mpsc::channel(1024);
        let (out_tx, mut out_rx) = mpsc::channel(4096);
        for frame in data.split(|b| *b == 0) {
            let item = match String::from_utf8(frame.to_vec()) {
                Ok(t) => connection::Incoming::Message(t),
                Err(e) => connection::Incoming::Malformed(e.to_string()),
            };
            if in_tx.send(item).await.is_err() {
                break;
            }
        }
        drop(in_tx);
        let _ = connection::run(Arc::clone(&w.core), in_rx, out_tx).await;
        let mut n = 0;
        while out_rx.try_recv().is_ok() {
            n += 1;
        }
        n
    })
}

/// Parses `data` (file text, a NUL byte, then the diff) and applies it.
pub fn apply_diff(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let (file, diff) = text.split_once('\0').unwrap_or((&text, ""));
    let blocks = crate::diff::parse(diff).ok()?;
    let (out, results) = crate::diff::apply(file, &blocks, 0.8);
    assert_eq!(results.len(), blocks.len());
    Some(out)
}
