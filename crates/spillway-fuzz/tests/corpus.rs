//! Replays every fuzz corpus (`fuzz/corpus/<target>/*`, the seeds and every input a fuzzing
//! run kept, crashes included once fixed) through its target's function: what a fuzzer
//! found stays a regression test.

use std::path::PathBuf;

fn corpus_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus")
}

#[test]
fn every_target_has_a_corpus_and_a_fuzz_target() {
    let fuzz = corpus_root().join("..");
    for (name, _) in spillway_fuzz::TARGETS {
        let dir = corpus_root().join(name);
        let seeds = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
            .count();
        assert!(seeds > 0, "corpus {} is empty", dir.display());
        let target = fuzz.join(format!("fuzz_targets/{name}.rs"));
        let body = std::fs::read_to_string(&target)
            .unwrap_or_else(|e| panic!("fuzz target {}: {e}", target.display()));
        assert!(
            body.contains(&format!("spillway_fuzz::{name}(")),
            "{} does not call spillway_fuzz::{name}",
            target.display()
        );
    }
}

#[test]
fn every_corpus_input_is_decoded_without_a_panic() {
    let mut replayed = 0;
    for (name, target) in spillway_fuzz::TARGETS {
        let dir = corpus_root().join(name);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a corpus entry").path();
            let data = std::fs::read(&path).expect("a corpus file");
            let outcome = std::panic::catch_unwind(|| target(&data));
            assert!(outcome.is_ok(), "{name}: {} panics", path.display());
            replayed += 1;
        }
    }
    assert!(replayed > 0);
    println!("replayed {replayed} corpus inputs");
}
