//! Access control and limits of the websocket server, and hostile paths
//! through every file tool.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

mod support;

use codelab_agent::protocol::types::StopReason;
use serde_json::json;
use support::agent::{call, drive, llm_env};
use support::{ServerProcess, TOKEN, data_dir};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::StatusCode;

async fn upgrade(url: &str, headers: &[(&str, &str)]) -> Result<Option<String>, StatusCode> {
    let mut req = url.into_client_request().unwrap();
    for (k, v) in headers {
        let name =
            tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap();
        req.headers_mut().insert(name, v.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((_, resp)) => Ok(resp
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap().to_owned())),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            if resp.status() == StatusCode::UNAUTHORIZED {
                assert!(
                    resp.body().as_ref().is_none_or(|b| b.is_empty()),
                    "a refusal reveals nothing"
                );
            }
            Err(resp.status())
        }
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[tokio::test]
async fn the_websocket_needs_the_token_and_an_allowed_origin() {
    let dir = data_dir();
    let server = ServerProcess::websocket_args(
        dir.path(),
        &[],
        &["--allow-origin", "https://ide.example.com"],
    )
    .await;
    let url = server.ws_url();
    let addr = server.addr.clone().unwrap();
    assert_eq!(upgrade(&url, &[]).await, Err(StatusCode::UNAUTHORIZED));
    assert_eq!(
        upgrade(&url, &[("x-internal-auth", "wrong-token-0123456789")]).await,
        Err(StatusCode::UNAUTHORIZED)
    );
    assert_eq!(
        upgrade(&url, &[("x-internal-auth", &TOKEN[..TOKEN.len() - 1])]).await,
        Err(StatusCode::UNAUTHORIZED)
    );
    assert!(
        upgrade(&url, &[("x-internal-auth", TOKEN)]).await.is_ok(),
        "backend clients: header, no origin"
    );
    // Browsers: the token as a subprotocol, echoed back as the one selected.
    let proto = format!("codelab-token.{TOKEN}");
    assert_eq!(
        upgrade(
            &url,
            &[
                ("sec-websocket-protocol", &proto),
                ("origin", &format!("http://{addr}"))
            ]
        )
        .await,
        Ok(Some(proto.clone()))
    );
    assert_eq!(
        upgrade(
            &url,
            &[(
                "sec-websocket-protocol",
                "codelab-token.nope-nope-nope-nope"
            )]
        )
        .await,
        Err(StatusCode::UNAUTHORIZED)
    );
    // Origins: the server's own and the allowed ones; no other.
    assert!(
        upgrade(
            &url,
            &[
                ("sec-websocket-protocol", &proto),
                ("origin", "https://ide.example.com")
            ]
        )
        .await
        .is_ok()
    );
    assert_eq!(
        upgrade(
            &url,
            &[
                ("sec-websocket-protocol", &proto),
                ("origin", "https://evil.example")
            ]
        )
        .await,
        Err(StatusCode::FORBIDDEN)
    );
    assert_eq!(
        upgrade(&url, &[("origin", "https://evil.example")]).await,
        Err(StatusCode::UNAUTHORIZED),
        "no token: 401 first"
    );
}

#[tokio::test]
async fn a_generated_token_is_private_and_metrics_need_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = data_dir();
    let mut cmd = tokio::process::Command::new(support::binary());
    cmd.arg("--data-dir")
        .arg(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_remove("CODELAB_AUTH_TOKEN");
    cmd.stderr(std::process::Stdio::piped()).kill_on_drop(true);
    let mut child = cmd.spawn().unwrap();
    let mut lines =
        tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(child.stderr.take().unwrap()));
    let addr = loop {
        let line = lines.next_line().await.unwrap().unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let file = dir.path().join("auth-token");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let token = std::fs::read_to_string(&file).unwrap();
    assert!(token.len() >= 32);
    let url = format!("ws://{addr}/lsp");
    assert!(
        upgrade(&url, &[("x-internal-auth", token.trim())])
            .await
            .is_ok()
    );
    let get = |auth: Option<String>| {
        let addr = addr.clone();
        async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let auth = auth
                .map(|t| format!("X-Internal-Auth: {t}\r\n"))
                .unwrap_or_default();
            s.write_all(
                format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
            let mut buf = String::new();
            s.read_to_string(&mut buf).await.unwrap();
            buf.split_whitespace().nth(1).unwrap().to_owned()
        }
    };
    assert_eq!(get(None).await, "401");
    assert_eq!(get(Some(token.trim().to_owned())).await, "200");
    child.kill().await.unwrap();
}

#[tokio::test]
async fn rate_limits_answer_with_the_retry_delay_and_keep_the_connection() {
    let dir = data_dir();
    let server = ServerProcess::websocket_args(
        dir.path(),
        &[],
        &["--rate-limit", "60", "--token-rate-limit", "100000"],
    )
    .await;
    let mut c = server.ws_client().await;
    c.initialize(&[], None).await; // one request
    for _ in 0..59 {
        c.call("codelab/listAgents", json!({})).await;
    }
    let err = c.call_err("codelab/listAgents", json!({})).await;
    assert_eq!(err["code"], -33008);
    assert_eq!(err["data"]["retryable"], true);
    let wait = err["data"]["retryAfterMs"].as_u64().unwrap();
    assert!(wait > 0 && wait <= 1000, "{wait}");
    // Notifications are not counted, and the connection stays open: after the
    // delay, requests pass again.
    c.notify(
        "textDocument/didOpen",
        json!({"textDocument": {"uri": "file:///x", "languageId": "t", "version": 1, "text": "x"}}),
    );
    tokio::time::sleep(std::time::Duration::from_millis(wait + 50)).await; // the refill under test
    c.call("codelab/listAgents", json!({})).await;
    c.done();
}

#[tokio::test]
async fn connection_and_turn_limits_give_clear_errors() {
    let mock = mock_llm::MockLlm::start(mock_llm::Script {
        replies: vec![call(
            "q",
            "ask_followup_question",
            json!({"question": "wait"}),
        )],
    })
    .await;
    let dir = data_dir();
    let server = ServerProcess::websocket_args(
        dir.path(),
        &llm_env(&mock),
        &["--max-connections", "2", "--max-turns", "1"],
    )
    .await;
    let mut a = server.ws_client().await;
    let b = server.ws_client().await;
    assert_eq!(
        upgrade(&server.ws_url(), &[("x-internal-auth", TOKEN)]).await,
        Err(StatusCode::SERVICE_UNAVAILABLE)
    );
    a.initialize(&[], None).await;
    let s1 = a
        .call("codelab/createSession", json!({"agent": "coder"}))
        .await;
    let s2 = a
        .call("codelab/createSession", json!({"agent": "coder"}))
        .await;
    let r = a
        .call(
            "codelab/sendMessage",
            json!({"sessionId": s1["id"], "text": "one"}),
        )
        .await;
    a.expect_notification("codelab/question").await;
    let err = a
        .call_err(
            "codelab/sendMessage",
            json!({"sessionId": s2["id"], "text": "two"}),
        )
        .await;
    assert_eq!(err["code"], -33009, "{err}");
    a.call("codelab/cancelTurn", json!({"sessionId": s1["id"]}))
        .await;
    let log = drive(&mut a, r["turnId"].as_str().unwrap(), |_| None, |_| None).await;
    assert_eq!(log.stop(), StopReason::Cancelled);
    a.finish().await;
    b.done();
}
