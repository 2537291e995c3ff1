//! The git tools through the real binary, on real repositories the tests
//! create with the real `git`: every tool, a commit approved with its diff
//! and one rejected, a branch switch refused on a dirty tree, a huge diff
//! capped, a workspace that is not a repository, one inside a larger
//! repository, and a policy that denies a git tool.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a test failure

mod support;

use std::path::Path;
use std::process::Command;

use codelab_agent::protocol::requests::CreateSession;
use codelab_agent::protocol::types::{
    ApprovalRequiredParams, CreateSessionParams, DecideApprovalParams, Decision, StopReason,
    ToolCallStatus,
};
use serde_json::json;
use support::agent::{Harness, TurnLog, approve, call, calls, complete, decision, drive, when};
use support::file_uri;

/// Runs git in `dir` as the test's own hand (not the agent's), with an
/// identity and no user configuration; returns its output.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Ada")
        .env("GIT_AUTHOR_EMAIL", "ada@example.com")
        .env("GIT_COMMITTER_NAME", "Ada")
        .env("GIT_COMMITTER_EMAIL", "ada@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A repository in `dir` with a local identity (the agent's commits need
/// one) on branch `main`, with two commits.
fn repo(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "Ada"]);
    git(dir, &["config", "user.email", "ada@example.com"]);
    git(dir, &["config", "commit.gpgsign", "false"]);
    std::fs::write(dir.join("a.txt"), "one\ntwo\n").unwrap();
    std::fs::write(dir.join("b.txt"), "bee\n").unwrap();
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "First commit"]);
    std::fs::write(dir.join("a.txt"), "one\ntwo\nthree\n").unwrap();
    git(dir, &["commit", "-q", "-am", "Add three"]);
}

fn result(log: &TurnLog, id: &str) -> (ToolCallStatus, String) {
    let (_, s, t) = log
        .tool_results()
        .into_iter()
        .find(|r| r.0 == id)
        .unwrap_or_else(|| panic!("no call {id}"));
    (s, t)
}

fn done(log: &TurnLog, id: &str) -> String {
    let (status, text) = result(log, id);
    assert_eq!(status, ToolCallStatus::Completed, "{id}: {text}");
    text
}

fn failed(log: &TurnLog, id: &str) -> String {
    let (status, text) = result(log, id);
    assert_eq!(status, ToolCallStatus::Failed, "{id}: {text}");
    text
}

/// Drives a turn in which nothing may ask.
async fn no_approvals(h: &mut Harness, msg: &str) -> TurnLog {
    let turn = h.send(msg).await;
    drive(
        &mut h.client,
        turn,
        |a| panic!("{} asked for approval", a.tool),
        |_| None,
    )
    .await
}

#[tokio::test]
async fn the_read_tools_show_status_diffs_history_commits_and_branches() {
    let mut h = Harness::new(
        vec![
            calls(
                "",
                &[
                    ("s", "git_status", json!({})),
                    ("d", "git_diff", json!({})),
                    ("dc", "git_diff", json!({"staged": true})),
                    ("dp", "git_diff", json!({"path": "b.txt"})),
                    ("dr", "git_diff", json!({"range": "HEAD~1..HEAD"})),
                    ("l", "git_log", json!({})),
                    ("l1", "git_log", json!({"path": "b.txt", "limit": 1})),
                    ("sh", "git_show", json!({"revision": "HEAD~1"})),
                    ("b", "git_branch", json!({})),
                    ("bad", "git_diff", json!({"range": "--output=/tmp/x"})),
                    ("out", "git_diff", json!({"path": "../elsewhere"})),
                ],
            ),
            complete("c", "looked"),
        ],
        "coder",
        false,
    )
    .await;
    let root = h.root();
    repo(&root);
    git(&root, &["branch", "feature"]);
    std::fs::write(root.join("a.txt"), "one\ntwo\nthree\nfour\n").unwrap();
    std::fs::write(root.join("b.txt"), "bee\nstaged\n").unwrap();
    git(&root, &["add", "b.txt"]);
    std::fs::write(root.join("new.txt"), "new\n").unwrap();

    let log = no_approvals(&mut h, "look at the repository").await;
    assert_eq!(log.stop(), StopReason::EndTurn);

    let status = done(&log, "s");
    assert!(status.starts_with("On branch main"), "{status}");
    assert!(status.contains(" M a.txt"), "{status}");
    assert!(status.contains("M  b.txt"), "{status}");
    assert!(status.contains("?? new.txt"), "{status}");

    let diff = done(&log, "d");
    assert!(diff.contains("diff --git a/a.txt b/a.txt"), "{diff}");
    assert!(diff.contains("+four"), "{diff}");
    assert!(!diff.contains("b.txt"), "b.txt is staged: {diff}");
    let staged = done(&log, "dc");
    assert!(staged.contains("+staged"), "{staged}");
    assert!(!staged.contains("a.txt"), "{staged}");
    assert_eq!(done(&log, "dp"), "No unstaged changes.");
    let range = done(&log, "dr");
    assert!(
        range.contains("+three") && !range.contains("+four"),
        "{range}"
    );

    let history = done(&log, "l");
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 2, "{history}");
    assert!(lines[0].ends_with("Ada: Add three"), "{history}");
    assert!(lines[1].ends_with("Ada: First commit"), "{history}");
    let one = done(&log, "l1");
    assert!(
        one.starts_with(
            &git(&root, &["rev-parse", "--short", "HEAD~1"])
                .trim()
                .to_owned()
        ),
        "{one}"
    );
    assert!(
        one.contains("First commit") && one.contains("the 1 newest shown"),
        "{one}"
    );

    let show = done(&log, "sh");
    assert!(show.contains("First commit"), "{show}");
    assert!(
        show.contains("+bee") && show.contains("new file mode"),
        "{show}"
    );
    assert!(!show.contains("+three"), "{show}");

    let branches = done(&log, "b");
    assert!(branches.contains("* main"), "{branches}");
    assert!(branches.contains("  feature"), "{branches}");

    let bad = failed(&log, "bad");
    assert!(bad.contains("not a revision this tool accepts"), "{bad}");
    let out = failed(&log, "out");
    assert!(out.contains("outside the workspace"), "{out}");
    h.finish().await;
}

#[tokio::test]
async fn a_commit_shows_its_diff_for_approval_and_a_rejected_one_changes_nothing() {
    let mut h = Harness::new(
        vec![
            call(
                "c1",
                "git_commit",
                json!({"message": "Add four and a new file", "paths": ["a.txt", "new.txt"]}),
            ),
            call("c2", "git_commit", json!({"message": "Everything else"})),
            complete("c", "committed"),
        ],
        "coder",
        false,
    )
    .await;
    let root = h.root();
    repo(&root);
    std::fs::write(root.join("a.txt"), "one\ntwo\nthree\nfour\n").unwrap();
    std::fs::write(root.join("new.txt"), "brand new\n").unwrap();
    std::fs::write(root.join("b.txt"), "bee\nchanged\n").unwrap();

    let turn = h.send("commit").await;
    let mut previews = Vec::new();
    let log = drive(
        &mut h.client,
        turn,
        |a| {
            previews.push((a.tool.clone(), a.diff.clone().unwrap_or_default()));
            Some(if previews.len() == 1 {
                approve()
            } else {
                DecideApprovalParams {
                    feedback: Some("not yet".into()),
                    ..decision(Decision::Reject)
                }
            })
        },
        |_| None,
    )
    .await;
    assert_eq!(log.stop(), StopReason::EndTurn);
    assert_eq!(previews.len(), 2, "both commits asked");
    let (tool, first) = &previews[0];
    assert_eq!(tool, "git_commit");
    assert!(first.contains("+four"), "{first}");
    assert!(
        first.contains("+brand new") && first.contains("new file mode"),
        "{first}"
    );
    assert!(!first.contains("b.txt"), "only the given paths: {first}");
    let second = &previews[1].1;
    assert!(
        second.contains("+changed") && !second.contains("+four"),
        "{second}"
    );

    let committed = done(&log, "c1");
    assert!(
        committed.contains("Committed the given paths"),
        "{committed}"
    );
    let (status, rejected) = result(&log, "c2");
    assert_ne!(status, ToolCallStatus::Completed, "{rejected}");
    assert!(
        rejected.contains("rejected") && rejected.contains("not yet"),
        "{rejected}"
    );

    // The approved commit holds exactly the two files; b.txt is untouched
    // and uncommitted; previewing staged nothing.
    assert_eq!(
        git(&root, &["log", "--format=%s"]),
        "Add four and a new file\nAdd three\nFirst commit\n"
    );
    assert_eq!(
        git(&root, &["show", "--name-only", "--format=", "HEAD"]),
        "a.txt\nnew.txt\n"
    );
    assert_eq!(git(&root, &["status", "--porcelain"]), " M b.txt\n");
    h.finish().await;
}

#[tokio::test]
async fn branches_are_created_and_switching_is_refused_on_a_dirty_tree() {
    let mut h = Harness::new(
        vec![
            calls(
                "",
                &[
                    (
                        "mk",
                        "git_branch",
                        json!({"action": "create", "name": "topic"}),
                    ),
                    (
                        "sw",
                        "git_branch",
                        json!({"action": "switch", "name": "topic"}),
                    ),
                    (
                        "opt",
                        "git_branch",
                        json!({"action": "switch", "name": "-f"}),
                    ),
                ],
            ),
            complete("c", "tried"),
            call(
                "sw2",
                "git_branch",
                json!({"action": "switch", "name": "topic"}),
            ),
            complete("c2", "switched"),
        ],
        "coder",
        false,
    )
    .await;
    let root = h.root();
    repo(&root);
    std::fs::write(root.join("a.txt"), "the user's work\n").unwrap();

    let turn = h.send("branch").await;
    let mut asked = Vec::new();
    let log = drive(
        &mut h.client,
        turn,
        |a| {
            asked.push(a.params["action"].as_str().unwrap().to_owned());
            Some(approve())
        },
        |_| None,
    )
    .await;
    assert_eq!(
        asked,
        ["create", "switch", "switch"],
        "create and switch ask"
    );
    assert!(done(&log, "mk").contains("Created branch topic"));
    let refused = failed(&log, "sw");
    assert!(refused.contains("uncommitted changes"), "{refused}");
    assert!(refused.contains("a.txt"), "{refused}");
    let opt = failed(&log, "opt");
    assert!(opt.contains("not a revision this tool accepts"), "{opt}");
    assert_eq!(git(&root, &["branch", "--show-current"]), "main\n");
    assert_eq!(
        std::fs::read_to_string(root.join("a.txt")).unwrap(),
        "the user's work\n",
        "nothing of the user's was lost"
    );

    // On a clean tree the switch runs.
    git(&root, &["checkout", "--", "a.txt"]);
    let turn = h.send("again").await;
    let log = drive(&mut h.client, turn, |_| Some(approve()), |_| None).await;
    assert!(done(&log, "sw2").contains("Switched to branch topic"));
    assert_eq!(git(&root, &["branch", "--show-current"]), "topic\n");
    h.finish().await;
}

#[tokio::test]
async fn a_huge_diff_is_capped_and_the_model_told() {
    let mut h = Harness::new(
        vec![call("d", "git_diff", json!({})), complete("c", "read")],
        "debug",
        false,
    )
    .await;
    let root = h.root();
    repo(&root);
    let big: String = (0..200_000).map(|i| format!("line number {i}\n")).collect();
    std::fs::write(root.join("a.txt"), big).unwrap();
    let log = no_approvals(&mut h, "diff").await;
    let diff = done(&log, "d");
    assert!(diff.len() < 300 * 1024, "{} bytes", diff.len());
    assert!(diff.contains("+line number 1000\n"));
    assert!(!diff.contains("+line number 199999"));
    assert!(
        diff.trim_end().ends_with(
            "[output truncated at 256 KiB; not everything is shown. Ask for one path or a narrower range to see the rest.]"
        ),
        "{}",
        &diff[diff.len() - 300..]
    );
    h.finish().await;
}

#[tokio::test]
async fn a_workspace_that_is_not_a_repository_gets_a_clear_error() {
    let mut h = Harness::new(
        vec![
            calls(
                "",
                &[("s", "git_status", json!({})), ("l", "git_log", json!({}))],
            ),
            complete("c", "no git"),
        ],
        "ask",
        false,
    )
    .await;
    let log = no_approvals(&mut h, "status").await;
    for id in ["s", "l"] {
        let err = failed(&log, id);
        assert!(
            err.contains("is not in a git repository, so git tools cannot be used here"),
            "{err}"
        );
    }
    h.finish().await;
}

#[tokio::test]
async fn a_workspace_inside_a_larger_repository_sees_and_commits_only_its_own_paths() {
    let mut h = Harness::new(
        vec![
            when(
                "inside",
                calls(
                    "",
                    &[
                        ("s", "git_status", json!({})),
                        ("d", "git_diff", json!({})),
                        (
                            "sw",
                            "git_branch",
                            json!({"action": "switch", "name": "main"}),
                        ),
                        ("c1", "git_commit", json!({"message": "Only inside"})),
                    ],
                ),
            ),
            complete("c", "done"),
        ],
        "coder",
        false,
    )
    .await;
    let root = h.root();
    repo(&root);
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("sub/in.txt"), "in\n").unwrap();
    git(&root, &["add", "sub/in.txt"]);
    git(&root, &["commit", "-q", "-m", "Add sub"]);
    std::fs::write(root.join("sub/in.txt"), "in\nchanged\n").unwrap();
    std::fs::write(root.join("a.txt"), "outside change\n").unwrap();
    let sub = h
        .client
        .call_typed::<CreateSession>(CreateSessionParams {
            workspace_folder: Some(file_uri(&root.join("sub"))),
            agent: Some("coder".into()),
            ..Default::default()
        })
        .await
        .id;
    let turn = support::agent::send(&mut h.client, sub, "inside").await;
    let log = drive(&mut h.client, turn, |_| Some(approve()), |_| None).await;
    let status = done(&log, "s");
    assert!(status.contains(" M in.txt"), "{status}");
    assert!(!status.contains("a.txt"), "{status}");
    assert!(status.contains("larger than the workspace"), "{status}");
    let diff = done(&log, "d");
    assert!(
        diff.contains("a/in.txt") && !diff.contains("a.txt"),
        "{diff}"
    );
    let sw = failed(&log, "sw");
    assert!(
        sw.contains("would change files outside the workspace"),
        "{sw}"
    );
    assert!(done(&log, "c1").contains("every change to tracked files"));
    assert_eq!(
        git(&root, &["show", "--name-only", "--format=%s", "HEAD"]),
        "Only inside\n\nsub/in.txt\n"
    );
    assert_eq!(git(&root, &["status", "--porcelain"]), " M a.txt\n");
    h.finish().await;
}

#[tokio::test]
async fn a_policy_can_deny_a_git_tool() {
    let mut h = Harness::with_config(
        vec![call("l", "git_log", json!({})), complete("c", "denied")],
        "coder",
        false,
        "[[policy.rules]]\ntool = \"git_l*\"\naction = \"deny\"\n",
    )
    .await;
    repo(&h.root());
    let log = no_approvals(&mut h, "log").await;
    let err = failed(&log, "l");
    assert!(
        err.starts_with("Denied by policy (user rule: deny git_l*)"),
        "{err}"
    );
    h.finish().await;
}

/// The approval of a commit carries the diff on the wire, as every client sees it.
#[tokio::test]
async fn the_commit_approval_names_the_rule_that_asks() {
    let mut h = Harness::new(
        vec![
            call("c1", "git_commit", json!({"message": "m"})),
            complete("c", "done"),
        ],
        "coder",
        false,
    )
    .await;
    let root = h.root();
    repo(&root);
    std::fs::write(root.join("b.txt"), "bee\nmore\n").unwrap();
    let turn = h.send("commit").await;
    let required = h.client.expect::<ApprovalRequiredParams>().await;
    assert_eq!(required.approval.tool, "git_commit");
    assert_eq!(required.approval.rule, "built-in rule: ask git_commit");
    assert!(required.approval.diff.unwrap().contains("+more"));
    h.client
        .call_typed::<codelab_agent::protocol::requests::DecideApproval>(DecideApprovalParams {
            approval_id: required.approval.id,
            ..approve()
        })
        .await;
    let log = drive(&mut h.client, turn, |_| None, |_| None).await;
    assert!(done(&log, "c1").contains("Committed every change to tracked files"));
    h.finish().await;
}
