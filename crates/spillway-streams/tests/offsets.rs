//! The file offset store.

use spillway_core::{Offset, OffsetStore, OffsetStoreError, Position};
use spillway_streams::FileOffsetStore;
use std::fs;

fn offset(log: u64, row: u64) -> Offset {
    Offset::new(Position::stream(log, 0, row))
}

#[test]
fn a_new_store_is_empty_and_a_commit_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = FileOffsetStore::open(dir.path(), "inventory").unwrap();
    assert_eq!(store.load().unwrap(), None);
    let committed = Offset {
        position: Position::stream(42, 7, Position::END_OF_TRANSACTION),
        state: Some(serde_json::json!({"gtids": "abc:1-5"})),
    };
    store.commit(&committed).unwrap();
    assert_eq!(store.path(), dir.path().join("offsets/inventory.json"));
    assert!(!dir.path().join("offsets/inventory.json.tmp").exists());

    let mut reopened = FileOffsetStore::open(dir.path(), "inventory").unwrap();
    assert_eq!(reopened.load().unwrap(), Some(committed));
}

#[test]
fn a_commit_that_would_move_backwards_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = FileOffsetStore::open(dir.path(), "c").unwrap();
    store.commit(&offset(100, 3)).unwrap();
    store.commit(&offset(100, 2)).unwrap();
    store.commit(&offset(99, 9)).unwrap();
    assert_eq!(store.load().unwrap(), Some(offset(100, 3)));
    store.commit(&offset(101, 0)).unwrap();
    assert_eq!(store.load().unwrap(), Some(offset(101, 0)));

    // A fresh handle compares against what is on disk, not against nothing.
    let mut reopened = FileOffsetStore::open(dir.path(), "c").unwrap();
    reopened.commit(&offset(5, 0)).unwrap();
    assert_eq!(reopened.load().unwrap(), Some(offset(101, 0)));
    let snapshot = Offset::new(Position::snapshot(u64::MAX, 1));
    reopened.commit(&snapshot).unwrap();
    assert_eq!(reopened.load().unwrap(), Some(offset(101, 0)));
}

#[test]
fn an_operator_moves_the_offset_back_or_removes_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = FileOffsetStore::open(dir.path(), "c").unwrap();
    store.commit(&offset(100, 3)).unwrap();
    // An alter goes backwards, where a commit may not.
    store.replace(Some(&offset(50, 1))).unwrap();
    let mut reopened = FileOffsetStore::open(dir.path(), "c").unwrap();
    assert_eq!(reopened.load().unwrap(), Some(offset(50, 1)));
    reopened.commit(&offset(60, 0)).unwrap();
    assert_eq!(reopened.load().unwrap(), Some(offset(60, 0)));
    // A reset leaves nothing: the connector starts as new; twice is no error.
    reopened.replace(None).unwrap();
    reopened.replace(None).unwrap();
    assert!(!dir.path().join("offsets/c.json").exists());
    assert_eq!(reopened.load().unwrap(), None);
    let mut again = FileOffsetStore::open(dir.path(), "c").unwrap();
    assert_eq!(again.load().unwrap(), None);
    again.commit(&offset(1, 0)).unwrap();
    assert_eq!(again.load().unwrap(), Some(offset(1, 0)));
}

#[test]
fn connectors_keep_separate_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = FileOffsetStore::open(dir.path(), "a").unwrap();
    let mut b = FileOffsetStore::open(dir.path(), "b").unwrap();
    a.commit(&offset(10, 0)).unwrap();
    b.commit(&offset(1, 0)).unwrap();
    assert_eq!(a.load().unwrap(), Some(offset(10, 0)));
    assert_eq!(b.load().unwrap(), Some(offset(1, 0)));
}

#[test]
fn a_corrupt_offsets_file_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = FileOffsetStore::open(dir.path(), "broken").unwrap();
    let path = dir.path().join("offsets/broken.json");
    fs::write(&path, b"{\"position\": {\"phase\": \"str").unwrap();
    match store.load() {
        Err(OffsetStoreError::Corrupt { path: p, .. }) => assert_eq!(p, path.display().to_string()),
        other => panic!("expected a corrupt-offsets error, got {other:?}"),
    }
    let mut fresh = FileOffsetStore::open(dir.path(), "broken").unwrap();
    assert!(matches!(
        fresh.commit(&offset(1, 0)),
        Err(OffsetStoreError::Corrupt { .. })
    ));
    assert_eq!(
        fs::read(&path).unwrap(),
        b"{\"position\": {\"phase\": \"str"
    );
}

#[test]
fn a_connector_name_that_is_not_a_plain_file_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["", "../escape", "a/b", "with space"] {
        let err = FileOffsetStore::open(dir.path(), name).unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
    }
}
