//! The npm MCP servers of the suite (installed by `scripts/mcp-deps.sh`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};

/// The entry point of `@modelcontextprotocol/<package>`, installed first.
pub fn npm_server(package: &str) -> PathBuf {
    let deps = std::process::Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mcp-deps.sh"))
        .output()
        .expect("bash runs");
    assert!(
        deps.status.success(),
        "installing the MCP test packages failed:\n{}",
        String::from_utf8_lossy(&deps.stderr)
    );
    let modules = PathBuf::from(String::from_utf8_lossy(&deps.stdout).trim());
    let entry = modules.join(format!("@modelcontextprotocol/{package}/dist/index.js"));
    assert!(entry.is_file(), "{}", entry.display());
    entry
}

/// The reference server (`server-everything`) over Streamable HTTP on a
/// free loopback port, once it says it listens; killed on drop.
pub async fn everything_over_http() -> (Child, u16) {
    let entry = npm_server("server-everything");
    // A free port for the server (it takes its port from PORT).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new("node")
        .arg(&entry)
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stderr = server.stderr.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stderr).lines();
    loop {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the server starts")
            .unwrap()
            .expect("the server is running");
        if line.contains("listening on port") {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (server, port)
}
