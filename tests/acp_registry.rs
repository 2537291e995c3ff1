//! `editors/acp/agent.json` and `icon.svg` follow the rules of the ACP agent
//! registry (github.com/agentclientprotocol/registry, CONTRIBUTING.md and
//! FORMAT.md), so the entry can be submitted as it is. Each rule checked here
//! is quoted from there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use regex::Regex;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("editors/acp")
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(dir().join("agent.json")).unwrap();
    serde_json::from_str(&text).expect("agent.json is JSON")
}

fn string<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` must be a string: {v}"))
}

/// "Platforms (for binary): darwin-aarch64, darwin-x86_64, linux-aarch64,
/// linux-x86_64, windows-aarch64, windows-x86_64"
const PLATFORMS: [&str; 6] = [
    "darwin-aarch64",
    "darwin-x86_64",
    "linux-aarch64",
    "linux-x86_64",
    "windows-aarch64",
    "windows-x86_64",
];

/// SPDX identifiers a license expression here may use.
const SPDX_IDS: [&str; 8] = [
    "MIT",
    "Apache-2.0",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "MPL-2.0",
    "ISC",
    "GPL-3.0-only",
    "LGPL-3.0-only",
];

#[test]
fn the_required_fields_are_there() {
    let m = manifest();
    // "id: Unique identifier (lowercase, hyphens allowed)"; "Must be
    // lowercase letters, digits, and hyphens only"; "Must start with a letter".
    let id = string(&m, "id");
    assert!(
        Regex::new("^[a-z][a-z0-9-]*$").unwrap().is_match(id),
        "id {id:?}"
    );
    // "The directory name must match your entry's `id` field": the entry is
    // submitted as `<id>/agent.json`; it is the binary's name.
    assert_eq!(id, env!("CARGO_PKG_NAME"));
    // "name: Display name"; "description: Brief description".
    assert!(!string(&m, "name").trim().is_empty());
    assert!(!string(&m, "description").trim().is_empty());
    // "version: Semantic version"; "Must be semantic version format (x.y.z,
    // e.g., 1.0.0)"; "All version parts must be numeric". It is the crate's.
    let version = string(&m, "version");
    assert!(
        Regex::new(r"^\d+\.\d+\.\d+$").unwrap().is_match(version),
        "version {version:?}"
    );
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    // "license: SPDX license identifier": the crate's license expression.
    let license = string(&m, "license");
    assert_eq!(license, env!("CARGO_PKG_LICENSE"));
    for part in license
        .split_whitespace()
        .filter(|p| !matches!(*p, "OR" | "AND" | "WITH"))
    {
        assert!(
            SPDX_IDS.contains(&part.trim_matches(['(', ')'])),
            "{part:?} is not an SPDX identifier this project uses"
        );
    }
}

#[test]
fn every_platform_has_a_binary_with_an_archive_and_a_command() {
    let m = manifest();
    let binary = m["distribution"]["binary"]
        .as_object()
        .expect("distribution.binary");
    let mut platforms: Vec<&str> = binary.keys().map(String::as_str).collect();
    platforms.sort_unstable();
    assert_eq!(platforms, PLATFORMS, "one binary target per platform");
    let version = string(&m, "version");
    for (platform, target) in binary {
        // "Binary distributions require `archive` and `cmd` fields per platform"
        let archive = string(target, "archive");
        let cmd = string(target, "cmd");
        assert!(archive.starts_with("https://"), "{platform}: {archive}");
        // "Supported: .zip, .tar.gz, .tgz, .tar.bz2, .tbz2, or raw binaries";
        // "Rejected: .dmg, .pkg, .deb, .rpm, .msi, .appimage".
        assert!(
            [".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2"]
                .iter()
                .any(|ext| archive.ends_with(ext)),
            "{platform}: {archive}"
        );
        // "Binary URLs containing version (e.g., /download/v1.0.0/) are
        // checked"; "Binary URLs must not contain /latest/".
        assert!(
            archive.contains(&format!("/download/v{version}/")),
            "{platform}: {archive}"
        );
        assert!(!archive.contains("/latest/"), "{platform}: {archive}");
        let exe = if platform.starts_with("windows") {
            "codelab-agent.exe"
        } else {
            "./codelab-agent"
        };
        assert_eq!(cmd, exe, "{platform}");
        // The agent speaks ACP through its `acp` subcommand.
        assert_eq!(target["args"], serde_json::json!(["acp"]), "{platform}");
    }
}

#[test]
fn the_icon_is_16_by_16_and_monochrome() {
    let svg = std::fs::read_to_string(dir().join("icon.svg")).unwrap();
    let attr = |name: &str| {
        Regex::new(&format!(r#"<svg[^>]*\s{name}="([^"]*)""#))
            .unwrap()
            .captures(&svg)
            .map(|c| c[1].to_owned())
    };
    // "Must be exactly 16x16 pixels (via width/height attributes or viewBox)";
    // "Must be square (width equals height)".
    assert_eq!(attr("width").as_deref(), Some("16"));
    assert_eq!(attr("height").as_deref(), Some("16"));
    assert_eq!(attr("viewBox").as_deref(), Some("0 0 16 16"));
    // "`fill` attributes: only `currentColor`, `none`, or `inherit` allowed";
    // "`stroke` attributes: only `currentColor`, `none`, or `inherit`
    // allowed"; "No hardcoded colors (#FF0000, red, rgb(...), etc.)".
    let paints = Regex::new(r#"\s(fill|stroke)="([^"]*)""#).unwrap();
    let mut seen = 0;
    for c in paints.captures_iter(&svg) {
        seen += 1;
        assert!(
            matches!(&c[2], "currentColor" | "none" | "inherit"),
            "{}={:?}",
            &c[1],
            &c[2]
        );
    }
    assert!(seen > 0, "the icon paints with currentColor");
    assert!(
        !svg.contains("style="),
        "colors only through fill and stroke"
    );
    assert!(
        !Regex::new(r"#[0-9a-fA-F]{3,8}\b|rgba?\(|hsla?\(")
            .unwrap()
            .is_match(&svg),
        "no hardcoded colors"
    );
}

/// The manifest names exactly the archives the release script builds (one
/// per platform), and the release workflow builds each of them.
#[test]
fn the_release_script_and_workflow_build_every_archive_the_manifest_names() {
    let out = std::process::Command::new("bash")
        .arg(root().join("scripts/release.sh"))
        .arg("--names")
        .output()
        .expect("bash runs");
    assert!(out.status.success(), "{out:?}");
    let mut built: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    built.sort();
    let m = manifest();
    let mut named: Vec<String> = m["distribution"]["binary"]
        .as_object()
        .expect("distribution.binary")
        .values()
        .map(|t| {
            string(t, "archive")
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    named.sort();
    assert_eq!(built, named);
    let workflow =
        std::fs::read_to_string(root().join(".github/workflows/release.yml")).expect("workflow");
    for name in &named {
        let target = name
            .trim_start_matches(&format!("codelab-agent-{}-", string(&m, "version")))
            .trim_end_matches(".tar.gz")
            .trim_end_matches(".zip");
        assert!(
            workflow.contains(&format!("target: {target},")),
            "the release workflow does not build {target}"
        );
    }
}
