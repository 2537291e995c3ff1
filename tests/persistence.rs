//! Sessions in a real redb file across real process restarts, the single
//! writer lock, and the schema version check.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

mod support;

use codelab_agent::protocol::requests::{CreateSession, DeleteSession, GetSession, ListSessions};
use codelab_agent::protocol::types::{CreateSessionParams, ListSessionsParams, SessionParams};
use support::{ServerProcess, data_dir};

fn titled(title: &str) -> CreateSessionParams {
    CreateSessionParams {
        title: Some(title.to_owned()),
        ..Default::default()
    }
}

#[tokio::test]
async fn sessions_survive_a_restart() {
    let dir = data_dir();
    let mut created = Vec::new();
    {
        let mut server = ServerProcess::stdio(dir.path());
        let mut client = server.stdio_client();
        client.initialize(&[], Some("file:///p")).await;
        for i in 0..5 {
            let s = client
                .call_typed::<CreateSession>(titled(&format!("s{i}")))
                .await;
            created.push(s);
        }
        client
            .call_typed::<DeleteSession>(SessionParams {
                session_id: created[1].id,
            })
            .await;
        client.finish().await;
        assert_eq!(server.wait().await, Some(0));
    }
    // SIGKILL after acknowledgement: nothing acknowledged is lost.
    let extra = {
        let mut server = ServerProcess::stdio(dir.path());
        let mut client = server.stdio_client();
        client.initialize(&[], None).await;
        let s = client.call_typed::<CreateSession>(titled("killed")).await;
        client.done();
        server.kill().await;
        s
    };
    let mut server = ServerProcess::websocket(dir.path()).await;
    let mut client = server.ws_client().await;
    client.initialize(&[], None).await;
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = client
            .call_typed::<ListSessions>(ListSessionsParams {
                cursor: cursor.take(),
                limit: Some(2),
            })
            .await;
        seen.extend(page.sessions);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let expected = vec![
        extra.clone(),
        created[4].clone(),
        created[3].clone(),
        created[2].clone(),
        created[0].clone(),
    ];
    assert_eq!(seen, expected);
    let got = client
        .call_typed::<GetSession>(SessionParams {
            session_id: created[0].id,
        })
        .await;
    assert_eq!(got.title, "s0");
    assert_eq!(got.workspace_folder.as_deref(), Some("file:///p"));
    client.finish().await;
    server.kill().await;
}

#[tokio::test]
async fn a_second_process_on_the_same_store_gets_a_clear_error() {
    let dir = data_dir();
    let mut first = ServerProcess::stdio(dir.path());
    let mut client = first.stdio_client();
    client.initialize(&[], None).await; // the store is open once initialize is answered
    let out = tokio::process::Command::new(support::binary())
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--stdio", "--standalone"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("run second");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing on stdout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("already open in another codelab-agent process"),
        "{stderr}"
    );
    // The first is unaffected.
    client
        .call_typed::<CreateSession>(CreateSessionParams::default())
        .await;
    client.finish().await;
    assert_eq!(first.wait().await, Some(0));
}

#[tokio::test]
async fn a_store_from_a_newer_version_is_refused() {
    let dir = data_dir();
    {
        let db = redb::Database::create(dir.path().join(codelab_agent::store::STORE_FILE))
            .expect("create");
        codelab_agent::store::schema::force_version(&db, 99).expect("stamp");
    }
    let out = tokio::process::Command::new(support::binary())
        .arg("--data-dir")
        .arg(dir.path())
        .arg("--standalone")
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "schema version 99, newer than the {}",
            codelab_agent::store::schema::SCHEMA_VERSION
        )),
        "{stderr}"
    );
}

#[tokio::test]
async fn the_data_dir_comes_from_the_environment() {
    let dir = data_dir();
    let out = tokio::process::Command::new(support::binary())
        .env("CODELAB_DATA_DIR", dir.path())
        .args(["--stdio", "--standalone"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join(codelab_agent::store::STORE_FILE).exists());
}
