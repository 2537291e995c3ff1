//! The hostile-path corpus: paths that try to leave a workspace (`..`,
//! absolute paths, `~`, symlinks and chains of them, NUL, backslashes,
//! percent-encoding, overlong names), and the workspace they are tried
//! in. Used for the tools (`tests/hostile_paths.rs`) and the file methods
//! (`tests/web.rs`).

use std::path::Path;

/// The entries of [`attacks`] that stay inside the workspace (ignored or
/// protected places: the tools refuse or ask, the user's file methods may
/// use them).
pub const INSIDE: [&str; 5] = [
    ".git/config",
    ".git/hooks/pre-commit",
    ".git",
    "secrets/key.pem",
    "private.key",
];

/// Lays out the workspace `root` the attacks are tried in, with `outside`
/// holding `secret.txt` ("top secret").
pub fn fixture(root: &Path, outside: &Path) {
    std::fs::write(outside.join("secret.txt"), "top secret\n").unwrap();
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(root.join("src/a.rs"), "fn a() {}\n").unwrap();
    std::fs::create_dir_all(root.join(".git/hooks")).unwrap();
    std::fs::write(root.join(".git/config"), "[core]\n").unwrap();
    std::fs::create_dir_all(root.join("secrets")).unwrap();
    std::fs::write(root.join("secrets/key.pem"), "secret key").unwrap();
    std::fs::write(root.join("private.key"), "secret key").unwrap();
    std::fs::write(root.join(".codelabignore"), "secrets/\n*.key\n").unwrap();
    std::os::unix::fs::symlink(outside, root.join("link")).unwrap();
    std::os::unix::fs::symlink(root.join("link"), root.join("chain")).unwrap();
    std::os::unix::fs::symlink("../../", root.join("src/deeplink")).unwrap();
    std::os::unix::fs::symlink("..", root.join("dirlink_up")).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("abslink")).unwrap();
}

/// The attacks; `outside` is a folder beside the workspace.
pub fn attacks(outside: &Path) -> Vec<String> {
    let o = outside.display().to_string();
    let mut v: Vec<String> = [
        "..",
        "../",
        "../secret.txt",
        "../../etc/passwd",
        "../../../../../../../../etc/shadow",
        "./../secret.txt",
        "src/../../secret.txt",
        "src/./../../secret.txt",
        "src/../src/../../secret.txt",
        "a/b/c/../../../../secret.txt",
        "..//secret.txt",
        ".../secret.txt/../../..",
        "src/../..",
        "/",
        "/etc/passwd",
        "/etc",
        "/root/.ssh/id_rsa",
        "/proc/self/environ",
        "/dev/sda",
        "/tmp",
        "~",
        "~/",
        "~/.ssh/id_rsa",
        "~root/.bashrc",
        "link",
        "link/",
        "link/secret.txt",
        "link/new.txt",
        "chain",
        "chain/secret.txt",
        "chain/sub/new.txt",
        "src/deeplink/secret.txt",
        "dirlink_up",
        "dirlink_up/secret.txt",
        "abslink",
        "abslink/passwd",
        "a\0b",
        "src/a.rs\0.md",
        "\0",
        "..\\secret.txt",
        "src\\..\\..\\secret.txt",
        "C:\\Windows\\System32",
        "\\\\server\\share",
        "%2e%2e/secret.txt",
        "%2E%2E%2Fsecret.txt",
        "src/%2e%2e/%2e%2e/secret.txt",
        "..%2fsecret.txt",
        ".git/config",
        ".git/hooks/pre-commit",
        ".git",
        "secrets/key.pem",
        "private.key",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    v.push(format!("{o}/secret.txt"));
    v.push(o.clone());
    v.push(format!(
        "{o}/../{}",
        outside.file_name().unwrap().to_string_lossy()
    ));
    v.push(format!("src/{}", "x".repeat(300)));
    v.push("a/".repeat(3000));
    v
}
