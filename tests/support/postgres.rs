//! A real PostgreSQL for the tests: the cluster `scripts/test.sh` started
//! (its socket directory in `CODELAB_TEST_PG_SOCKET`), else one this test
//! process starts on first use with `scripts/pg-cluster.sh hold` and that
//! goes away with the process (the script stops it when its stdin closes).
//! Either way every caller gets a database of its own.

#![allow(dead_code, clippy::unwrap_used, clippy::print_stderr)]

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// A running cluster, reached through the Unix socket in `socket_dir`.
pub struct Cluster {
    /// The directory holding `.s.PGSQL.5432`.
    pub socket_dir: PathBuf,
    /// The `hold` script of a cluster this process started (its stdin is
    /// the pipe whose closing stops the cluster).
    _holder: Option<Mutex<Child>>,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();

/// The cluster of this test process.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(|| {
        if let Some(dir) = std::env::var_os("CODELAB_TEST_PG_SOCKET").filter(|d| !d.is_empty()) {
            return Cluster {
                socket_dir: PathBuf::from(dir),
                _holder: None,
            };
        }
        start_own()
    })
}

/// A cluster of the caller's own (a test that restarts its database must
/// not disturb the others); stopped and deleted when dropped, or when the
/// process ends.
pub fn private() -> Cluster {
    start_own()
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/pg-cluster.sh")
}

fn start_own() -> Cluster {
    // A short path: Unix socket paths are limited to about 100 bytes.
    let dir = PathBuf::from(format!(
        "/tmp/codelab-pg-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    let script = script();
    let mut child = Command::new("bash")
        .arg(&script)
        .arg("hold")
        .arg(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    if line.trim() != "ready" {
        let out = child.wait_with_output().unwrap();
        panic!(
            "the test PostgreSQL cluster did not start (scripts/test.sh installs Debian's \
             postgresql package): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Cluster {
        socket_dir: dir,
        _holder: Some(Mutex::new(child)),
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(holder) = self._holder.take() {
            let mut child = holder.into_inner().unwrap_or_else(|e| e.into_inner());
            // Closing its stdin stops the cluster; wait until it has.
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }
}

impl Cluster {
    /// Restarts the server (only a cluster of this process's own); returns
    /// once it accepts connections again.
    pub fn restart(&self) {
        assert!(self._holder.is_some(), "restart only a private cluster");
        let out = Command::new("bash")
            .arg(script())
            .arg("restart")
            .arg(&self.socket_dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "restart failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The URL of database `name` as the `postgres` role.
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgres:///{name}?host={}&user=postgres",
            self.socket_dir.display()
        )
    }

    /// A new, empty database; returns its URL.
    pub async fn fresh_database(&self) -> String {
        let name = format!("codelab_test_{}", uuid::Uuid::new_v4().simple());
        let (client, conn) = tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot reach the test cluster: {e}"));
        let task = tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        drop(client);
        let _ = task.await;
        self.url(&name)
    }

    /// A connection of its own to `url` (for checks beside the store).
    pub async fn connect(url: &str) -> tokio_postgres::Client {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
        tokio::spawn(conn);
        client
    }
}
