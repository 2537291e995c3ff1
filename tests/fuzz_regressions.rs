//! Replays every input in `fuzz/regressions/<target>/` (seeds, and any crash a
//! fuzz run found, saved there) through the fuzz targets' code.

use std::path::Path;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.map(|e| e.path()).unwrap_or_default();
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        run(&data);
        n += 1;
    }
    assert!(n > 0, "no inputs in {}", dir.display());
}

#[test]
fn framing_inputs_replay_cleanly() {
    replay("framing", |d| {
        codelab_agent::fuzzing::framing(d);
    });
}

#[test]
fn frame_inputs_replay_cleanly() {
    replay("frames", |d| {
        codelab_agent::fuzzing::frames(d);
    });
}

#[test]
fn diff_inputs_replay_cleanly() {
    replay("apply_diff", |d| {
        codelab_agent::fuzzing::apply_diff(d);
    });
}
