//! `mock-llm --script FILE [--listen ADDR]`: serves a script until killed.
//! Prints `listening on http://ADDR` on stdout once ready.

use std::io::Write as _;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let mut script = None;
    let mut listen = "127.0.0.1:0".to_owned();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--script" => script = args.next(),
            "--listen" => listen = args.next().unwrap_or(listen),
            "-h" | "--help" => {
                let _ = writeln!(
                    std::io::stdout(),
                    "usage: mock-llm [--script FILE] [--listen 127.0.0.1:0]"
                );
                return std::process::ExitCode::SUCCESS;
            }
            other => {
                let _ = writeln!(std::io::stderr(), "mock-llm: unknown argument {other}");
                return std::process::ExitCode::from(2);
            }
        }
    }
    let script = match script {
        None => mock_llm::Script::default(),
        Some(path) => match std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(s) => s,
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "mock-llm: {path}: {e}");
                return std::process::ExitCode::from(2);
            }
        },
    };
    let server = match mock_llm::MockLlm::start_on(&listen, script).await {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "mock-llm: cannot listen on {listen}: {e}"
            );
            return std::process::ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening on {}", server.url());
    let _ = out.flush();
    let _ = tokio::signal::ctrl_c().await;
    std::process::ExitCode::SUCCESS
}
