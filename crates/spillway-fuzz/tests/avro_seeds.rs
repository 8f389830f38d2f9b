//! The `projection_avro` seeds are records spillway's Avro encoder writes: each decodes to
//! the change it was written for, and the corpus holds each one. Rewrite them after a change
//! of the encoder with `SPILLWAY_WRITE_SEEDS=1 cargo test -p spillway-fuzz --test avro_seeds`.

use spillway_projection::decode::Change;
use std::path::PathBuf;

#[test]
fn avro_seeds_decode_to_their_changes_and_are_in_the_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/projection_avro");
    let write = std::env::var_os("SPILLWAY_WRITE_SEEDS").is_some();
    let seeds = spillway_fuzz::avro_records::seeds();
    assert_eq!(seeds.len(), 5);
    for (name, bytes) in seeds {
        let change = spillway_fuzz::avro_records::decode(&bytes)
            .unwrap_or_else(|| panic!("seed {name} is too short"))
            .unwrap_or_else(|e| panic!("seed {name} does not decode: {e}"));
        match (name, &change) {
            (
                "create" | "read" | "update",
                Change::Write {
                    key: Some(_),
                    after,
                },
            ) => {
                assert!(after.get("price").is_some(), "{name}: {change:?}")
            }
            ("create-without-key", Change::Write { key: None, .. }) => {}
            (
                "delete",
                Change::Delete {
                    key: Some(_),
                    before: Some(_),
                },
            ) => {}
            _ => panic!("seed {name} decodes to {change:?}"),
        }
        let path = dir.join(format!("seed-{name}"));
        if write {
            std::fs::create_dir_all(&dir).expect("the corpus directory");
            std::fs::write(&path, &bytes).expect("a seed file");
        }
        let kept = std::fs::read(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (write the seeds, see this file's doc)",
                path.display()
            )
        });
        assert_eq!(
            kept,
            bytes,
            "{} differs from what the encoder writes",
            path.display()
        );
    }
}
