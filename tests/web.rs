//! The web IDE (`editors/web`) served by `codelab-agent serve`.
//!
//! - What needs the token: the page, its assets and `/health` do not; the
//!   websocket (and so every method) and `/metrics` do; another origin is
//!   refused; the printed URL carries the token in its fragment.
//! - The file methods through the real binary: the user sees ignored and
//!   protected files, versions catch conflicting changes, and the
//!   hostile-path corpus of the tools is refused by every method.
//! - The page itself: `scripts/web-deps.sh` installs, outside the clone,
//!   Node 24, Debian's Chromium and the page's npm packages; in a copy of the
//!   sources in a temporary folder (nothing is written into the clone) the
//!   type check, the unit tests (Vitest) and the build (Vite), which must
//!   give exactly the committed `editors/web/dist`; then `test/e2e/run.mjs`
//!   drives the page in Chromium with Playwright against the real binary and
//!   the mock LLM. Every step is bounded in time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use support::host::{copy_dir, mock_llm_bin, repo, run_bounded};
use support::{ServerProcess, TOKEN, data_dir};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A raw HTTP/1.1 request: status, head and body.
async fn raw(addr: &str, request: &str) -> (u16, String, Vec<u8>) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let upgrade = request.contains("Upgrade: websocket");
    let mut chunk = [0u8; 8192];
    loop {
        let n = tokio::time::timeout(support::TIMEOUT, stream.read(&mut chunk))
            .await
            .expect("the server answers")
            .unwrap();
        buf.extend_from_slice(&chunk[..n]);
        // An upgrade's answer is its head (the connection stays open);
        // anything else ends with the connection (`Connection: close`).
        if n == 0 || (upgrade && buf.windows(4).any(|w| w == b"\r\n\r\n")) {
            break;
        }
    }
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(buf.len(), |i| i + 4);
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head, buf[split..].to_vec())
}

fn get(addr: &str, path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
}

fn upgrade(addr: &str, extra: &str) -> String {
    format!(
        "GET /lsp HTTP/1.1\r\nHost: {addr}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n{extra}\r\n"
    )
}

#[tokio::test]
async fn the_page_and_health_are_open_everything_else_needs_the_token() {
    let dir = data_dir();
    let server = ServerProcess::websocket(dir.path()).await;
    let addr = server.addr.clone().unwrap();

    let (status, head, body) = raw(&addr, &get(&addr, "/")).await;
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("text/html"), "{head}");
    let page = String::from_utf8(body).unwrap();
    assert!(page.contains("<div id=\"app\">"), "{page}");
    // Its script, as the page names it.
    let script = page
        .split("src=\"")
        .skip(1)
        .find_map(|s| s.split('"').next().filter(|p| p.ends_with(".js")))
        .expect("the page names its script")
        .to_owned();
    let (status, head, body) = raw(&addr, &get(&addr, &script)).await;
    assert_eq!(status, 200, "{script}: {head}");
    assert!(head.contains("text/javascript"), "{head}");
    assert!(head.contains("immutable"), "{head}");
    assert!(body.len() > 1000);
    let (status, _, _) = raw(&addr, &get(&addr, "/health")).await;
    assert_eq!(status, 200);
    let (status, _, _) = raw(&addr, &get(&addr, "/assets/nope.js")).await;
    assert_eq!(status, 404);

    // Everything else needs the token.
    let (status, _, _) = raw(&addr, &get(&addr, "/metrics")).await;
    assert_eq!(status, 401);
    let (status, head, _) = raw(&addr, &upgrade(&addr, "")).await;
    assert_eq!(status, 401, "{head}");
    let wrong = "Sec-WebSocket-Protocol: codelab-token.wrong\r\n";
    let (status, _, _) = raw(&addr, &upgrade(&addr, wrong)).await;
    assert_eq!(status, 401);
    // The token as the page sends it: its own origin is admitted ...
    let port = addr.rsplit(':').next().unwrap();
    let page_like = format!(
        "Sec-WebSocket-Protocol: codelab-token.{TOKEN}\r\nOrigin: http://127.0.0.1:{port}\r\n"
    );
    let (status, head, _) = raw(&addr, &upgrade(&addr, &page_like)).await;
    assert_eq!(status, 101, "{head}");
    assert!(
        head.contains(&format!("codelab-token.{TOKEN}")),
        "the subprotocol is echoed: {head}"
    );
    // ... a page of another origin is not, token or not.
    for origin in ["http://127.0.0.1:1", "http://evil.example", "null"] {
        let other =
            format!("Sec-WebSocket-Protocol: codelab-token.{TOKEN}\r\nOrigin: {origin}\r\n");
        let (status, head, _) = raw(&addr, &upgrade(&addr, &other)).await;
        assert_eq!(status, 403, "{origin}: {head}");
    }

    // The URL to open, with the token in the fragment and the folder.
    let url = server
        .logs
        .wait_for(|t| {
            t.lines()
                .find_map(|l| l.split("open the IDE: ").nth(1).map(str::to_owned))
        })
        .await;
    assert!(
        url.starts_with(&format!(
            "http://{addr}/#token={TOKEN}&folder=file%3A%2F%2F%2F"
        )),
        "{url}"
    );
}

/// A client of the real binary with a session in `root`.
async fn session_in(server: &ServerProcess, root: &Path) -> (support::Client, String) {
    let mut c = server.ws_client().await;
    c.initialize(&["utf-16"], None).await;
    let folder = url::Url::from_file_path(root).unwrap().to_string();
    let s = c
        .call(
            "codelab/createSession",
            json!({"workspaceFolder": folder, "agent": "coder"}),
        )
        .await;
    (c, s["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn the_file_methods_serve_the_user_and_catch_conflicts() {
    let dir = data_dir();
    let ws = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    support::hostile::fixture(ws.path(), outside.path());
    std::fs::create_dir_all(ws.path().join(".codelab")).unwrap();
    std::fs::write(ws.path().join(".codelab/config.toml"), "[llm]\n").unwrap();
    let server = ServerProcess::websocket(dir.path()).await;
    let (mut c, id) = session_in(&server, ws.path()).await;

    let list = c
        .call("codelab/listFiles", json!({"sessionId": id, "path": ""}))
        .await;
    let entry = |name: &str| -> Value {
        list["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not listed: {list}"))
    };
    assert_eq!(entry("secrets")["ignored"], true);
    assert_eq!(entry("secrets")["kind"], "directory");
    assert_eq!(entry(".codelabignore")["protected"], true);
    assert_eq!(entry(".codelab")["protected"], true);
    // A symlink out of the workspace is listed, never followed.
    assert_eq!(entry("link")["kind"], "symlink");
    assert_eq!(entry("abslink")["kind"], "symlink");
    assert_eq!(list["entries"][0]["kind"], "directory", "directories first");

    // The user reads and writes what the agents may not.
    let key = c
        .call(
            "codelab/readFile",
            json!({"sessionId": id, "path": "secrets/key.pem"}),
        )
        .await;
    assert_eq!(key["text"], "secret key");
    let config = c
        .call(
            "codelab/readFile",
            json!({"sessionId": id, "path": ".codelab/config.toml"}),
        )
        .await;
    let v1 = config["version"].as_str().unwrap().to_owned();
    assert_eq!(v1.len(), 64);
    assert!(
        config["uri"]
            .as_str()
            .unwrap()
            .ends_with("/.codelab/config.toml")
    );
    let saved = c
        .call(
            "codelab/writeFile",
            json!({"sessionId": id, "path": ".codelab/config.toml", "text": "[llm]\nmodel = \"m\"\n", "baseVersion": v1}),
        )
        .await;
    let v2 = saved["version"].as_str().unwrap().to_owned();
    assert_ne!(v1, v2);
    assert_eq!(
        std::fs::read_to_string(ws.path().join(".codelab/config.toml")).unwrap(),
        "[llm]\nmodel = \"m\"\n"
    );
    // A save based on the old version is a conflict naming the current one.
    let err = c
        .call_err(
            "codelab/writeFile",
            json!({"sessionId": id, "path": ".codelab/config.toml", "text": "stale", "baseVersion": v1}),
        )
        .await;
    assert_eq!(err["code"], -33012, "{err}");
    assert_eq!(err["data"]["kind"], "fileConflict");
    assert_eq!(err["data"]["detail"], v2.as_str());
    assert_eq!(
        std::fs::read_to_string(ws.path().join(".codelab/config.toml")).unwrap(),
        "[llm]\nmodel = \"m\"\n"
    );

    // Create, rename, delete.
    let created = c
        .call(
            "codelab/createFile",
            json!({"sessionId": id, "path": "docs/new.md", "text": "# New\n"}),
        )
        .await;
    assert_eq!(created["path"], "docs/new.md");
    let err = c
        .call_err(
            "codelab/createFile",
            json!({"sessionId": id, "path": "docs/new.md"}),
        )
        .await;
    assert_eq!(err["data"]["kind"], "fileConflict", "{err}");
    let moved = c
        .call(
            "codelab/renameFile",
            json!({"sessionId": id, "from": "docs/new.md", "to": "docs/old.md", "baseVersion": created["version"]}),
        )
        .await;
    assert_eq!(moved["path"], "docs/old.md");
    assert!(!ws.path().join("docs/new.md").exists());
    c.call(
        "codelab/deleteFile",
        json!({"sessionId": id, "path": "docs"}),
    )
    .await;
    assert!(!ws.path().join("docs").exists());
    let err = c
        .call_err(
            "codelab/readFile",
            json!({"sessionId": id, "path": "docs/old.md"}),
        )
        .await;
    assert_eq!(err["data"]["kind"], "fileNotFound", "{err}");
    let err = c
        .call_err("codelab/deleteFile", json!({"sessionId": id, "path": "."}))
        .await;
    assert_eq!(err["data"]["kind"], "pathRefused", "{err}");
    let err = c
        .call_err(
            "codelab/listFiles",
            json!({"sessionId": "0196b1f2-7c3e-7a10-9f4e-2d6c8a1b3e5f", "path": ""}),
        )
        .await;
    assert_eq!(err["data"]["kind"], "sessionNotFound", "{err}");
    c.finish().await;
}

#[tokio::test]
async fn the_file_methods_refuse_the_hostile_path_corpus() {
    let dir = data_dir();
    let ws = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let root = ws.path();
    support::hostile::fixture(root, outside.path());
    let server = ServerProcess::websocket(dir.path()).await;
    let (mut c, id) = session_in(&server, root).await;
    let table = support::hostile::attacks(outside.path());
    assert!(table.len() >= 50);
    let mut refused = 0;
    for attack in &table {
        if support::hostile::INSIDE.contains(&attack.as_str()) {
            // Inside the workspace: the user may look (never changed here).
            let r = c
                .request("codelab/readFile", json!({"sessionId": id, "path": attack}))
                .await;
            if let Err(e) = &r {
                assert_ne!(e["data"]["kind"], "pathRefused", "{attack}: {e}");
            }
            continue;
        }
        let calls = [
            (
                "codelab/listFiles",
                json!({"sessionId": id, "path": attack}),
            ),
            ("codelab/readFile", json!({"sessionId": id, "path": attack})),
            (
                "codelab/writeFile",
                json!({"sessionId": id, "path": attack, "text": "pwned"}),
            ),
            (
                "codelab/createFile",
                json!({"sessionId": id, "path": attack, "text": "pwned"}),
            ),
            (
                "codelab/renameFile",
                json!({"sessionId": id, "from": "src/a.rs", "to": attack}),
            ),
            (
                "codelab/renameFile",
                json!({"sessionId": id, "from": attack, "to": "src/moved.rs"}),
            ),
            (
                "codelab/deleteFile",
                json!({"sessionId": id, "path": attack}),
            ),
        ];
        for (method, params) in calls {
            let err = c
                .request(method, params)
                .await
                .expect_err(&format!("{method} {attack:?} succeeded"));
            assert_eq!(
                err["data"]["kind"], "pathRefused",
                "{method} {attack:?}: {err}"
            );
            let text = err.to_string();
            assert!(
                !text.contains("top secret") && !text.contains("root:"),
                "{method} {attack:?} leaked: {text}"
            );
            refused += 1;
        }
    }
    assert!(refused > 300, "{refused} refusals");
    // Nothing changed outside or inside.
    assert_eq!(
        std::fs::read_to_string(outside.path().join("secret.txt")).unwrap(),
        "top secret\n"
    );
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 1);
    assert_eq!(
        std::fs::read_to_string(root.join("src/a.rs")).unwrap(),
        "fn a() {}\n"
    );
    assert!(!root.join("src/moved.rs").exists());
    assert!(std::fs::read_link(root.join("link")).is_ok());
    assert!(root.join(".git/config").exists());
    c.finish().await;
}

// ---- the page: build, unit tests, end to end in Chromium ------------------

/// Every file below `dir`, by relative path.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn the_page_builds_as_committed_and_works_in_chromium() {
    let deps = run_bounded(
        "scripts/web-deps.sh",
        1800,
        Command::new("bash").arg(repo().join("scripts/web-deps.sh")),
    );
    let deps: HashMap<&str, &str> = deps.lines().filter_map(|l| l.split_once('=')).collect();
    let get = |k: &str| -> PathBuf {
        PathBuf::from(
            deps.get(k)
                .unwrap_or_else(|| panic!("web-deps.sh did not print {k}")),
        )
    };
    let (node, modules) = (get("NODE"), get("WEB_MODULES"));
    let path = format!(
        "{}:{}",
        node.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );

    // The page, the VS Code extension's chat modules it shares and the
    // protocol types, side by side as in the clone.
    let work = tempfile::tempdir().unwrap();
    let web = work.path().join("editors/web");
    copy_dir(&repo().join("editors/web"), &web, &|name| {
        ["node_modules", "dist", "screenshots"].contains(&name)
    });
    copy_dir(
        &repo().join("editors/vscode/src"),
        &work.path().join("editors/vscode/src"),
        &|_| false,
    );
    std::fs::create_dir_all(work.path().join("protocol")).unwrap();
    std::fs::copy(
        repo().join("protocol/codelab-protocol.ts"),
        work.path().join("protocol/codelab-protocol.ts"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&modules, web.join("node_modules")).unwrap();
    let npx = |what: &str, secs: u32, args: &[&str]| {
        run_bounded(
            what,
            secs,
            Command::new(&node)
                .args(args)
                .current_dir(&web)
                .env("PATH", &path)
                .env("NO_COLOR", "1"),
        )
    };

    npx(
        "the type check",
        300,
        &["node_modules/typescript/bin/tsc", "--noEmit", "-p", "."],
    );
    let unit = npx(
        "the unit tests",
        300,
        &[
            "node_modules/vitest/vitest.mjs",
            "run",
            "--reporter=verbose",
        ],
    );
    let passed = unit
        .lines()
        .find_map(|l| l.trim().strip_prefix("Tests"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<usize>().ok());
    assert!(
        passed.is_some_and(|n| n >= 10) && !unit.contains(" failed"),
        "fewer unit tests passed than there are:\n{unit}"
    );
    npx(
        "the build",
        600,
        &[
            "node_modules/vite/bin/vite.js",
            "build",
            "--logLevel",
            "warn",
        ],
    );
    npx("the embedded file list", 60, &["scripts/embed-list.mjs"]);
    let built = files(&web.join("dist"));
    let committed = files(&repo().join("editors/web/dist"));
    let names = |v: &[(String, Vec<u8>)]| v.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(&built),
        names(&committed),
        "editors/web/dist is not the build of its sources: run `npm run build` in editors/web and commit dist/"
    );
    for ((name, a), (_, b)) in built.iter().zip(&committed) {
        assert!(
            a == b,
            "editors/web/dist/{name} differs from the build of its sources: run `npm run build` in editors/web and commit dist/"
        );
    }

    let mut e2e = Command::new(&node);
    if let Some(dir) = std::env::var_os("CODELAB_WEB_SCREENSHOTS") {
        e2e.env("SCREENSHOTS", dir);
    }
    let out = run_bounded(
        "the end-to-end test in Chromium",
        900,
        e2e.arg(web.join("test/e2e/run.mjs"))
            .current_dir(&web)
            .env("PATH", &path)
            .env("CODELAB_BIN", env!("CARGO_BIN_EXE_codelab-agent"))
            .env("MOCK_LLM_BIN", mock_llm_bin())
            .env("CHROMIUM", get("CHROMIUM"))
            .env("WORK", work.path().join("e2e"))
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY"),
    );
    assert!(out.contains("PASS"), "{out}");
    // The page's load time, for BENCHMARKS.md (seen with --no-capture).
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{out}");
    }
}
