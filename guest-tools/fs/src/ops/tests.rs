#![allow(clippy::unwrap_used)]

use super::*;
use crate::grants::Grant;
use tempfile::TempDir;

/// A writable grant on a fresh temporary directory, and a read-only one beside it.
fn setup() -> (TempDir, TempDir, Grants) {
    let rw = TempDir::new().unwrap();
    let ro = TempDir::new().unwrap();
    let grants = Grants::new(vec![
        Grant {
            path: rw.path().to_path_buf(),
            writable: true,
        },
        Grant {
            path: ro.path().to_path_buf(),
            writable: false,
        },
    ]);
    (rw, ro, grants)
}

fn write_args(path: &str, content: &str, mode: WriteMode) -> WriteArgs {
    WriteArgs {
        path: path.into(),
        content: content.into(),
        mode,
        create_dirs: false,
    }
}

fn read_args(path: &str, offset: u64, max_bytes: u64) -> ReadArgs {
    ReadArgs {
        path: path.into(),
        offset,
        max_bytes,
    }
}

#[test]
fn list_gives_sorted_entries_with_kind_and_size() {
    let (rw, _ro, g) = setup();
    fs::write(rw.path().join("b.txt"), "hello").unwrap();
    fs::create_dir(rw.path().join("a")).unwrap();
    let out = list(
        &g,
        ListArgs {
            path: ".".into(),
            max_entries: 10,
        },
    )
    .unwrap();
    assert_eq!(out.path, rw.path().display().to_string());
    assert_eq!(
        out.entries,
        vec![
            Entry {
                name: "a".into(),
                kind: "dir".into(),
                size: None
            },
            Entry {
                name: "b.txt".into(),
                kind: "file".into(),
                size: Some(5)
            },
        ]
    );
    assert!(!out.truncated);
}

#[test]
fn list_truncates_to_max_entries() {
    let (rw, _ro, g) = setup();
    for name in ["x", "y", "z"] {
        fs::write(rw.path().join(name), "").unwrap();
    }
    let out = list(
        &g,
        ListArgs {
            path: ".".into(),
            max_entries: 2,
        },
    )
    .unwrap();
    assert_eq!(out.entries.len(), 2);
    assert_eq!((out.total, out.truncated), (3, true));
}

#[test]
fn listing_a_missing_directory_or_a_file_says_so() {
    let (rw, _ro, g) = setup();
    let err = list(
        &g,
        ListArgs {
            path: "nope".into(),
            max_entries: 10,
        },
    )
    .unwrap_err();
    assert!(
        err.message()
            .ends_with("nope does not exist; list its parent directory to see what is there"),
        "{err:?}"
    );
    fs::write(rw.path().join("f"), "").unwrap();
    let err = list(
        &g,
        ListArgs {
            path: "f".into(),
            max_entries: 10,
        },
    )
    .unwrap_err();
    assert!(
        err.message().contains("is a file, not a directory"),
        "{err:?}"
    );
}

#[test]
fn write_create_then_read_round_trips() {
    let (_rw, _ro, g) = setup();
    let out = write(&g, write_args("notes.md", "héllo\n", WriteMode::Create)).unwrap();
    assert_eq!((out.bytes_written, out.size), (7, 7));
    let out = read(&g, read_args("notes.md", 0, 1000)).unwrap();
    assert_eq!(out.content, "héllo\n");
    assert_eq!((out.size, out.next_offset, out.truncated), (7, 7, false));
}

#[test]
fn create_refuses_an_existing_file_and_overwrite_or_append_change_it() {
    let (_rw, _ro, g) = setup();
    write(&g, write_args("f.txt", "one", WriteMode::Create)).unwrap();
    let err = write(&g, write_args("f.txt", "two", WriteMode::Create)).unwrap_err();
    assert!(
        err.message()
            .contains("already exists; use mode \"overwrite\""),
        "{err:?}"
    );
    write(&g, write_args("f.txt", "two", WriteMode::Overwrite)).unwrap();
    let out = write(&g, write_args("f.txt", "+3", WriteMode::Append)).unwrap();
    assert_eq!(out.size, 5);
    assert_eq!(
        read(&g, read_args("f.txt", 0, 100)).unwrap().content,
        "two+3"
    );
}

#[test]
fn writes_go_through_a_temporary_file_that_does_not_stay() {
    let (rw, _ro, g) = setup();
    write(&g, write_args("f.txt", "one", WriteMode::Create)).unwrap();
    write(&g, write_args("f.txt", "two", WriteMode::Overwrite)).unwrap();
    write(&g, write_args("f.txt", "+3", WriteMode::Append)).unwrap();
    write(&g, write_args("new.txt", "a", WriteMode::Append)).unwrap();
    let mut names: Vec<String> = (fs::read_dir(rw.path()).unwrap())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["f.txt", "new.txt"]);
    assert_eq!(
        fs::read_to_string(rw.path().join("f.txt")).unwrap(),
        "two+3"
    );
}

#[test]
fn a_missing_parent_needs_create_dirs() {
    let (rw, _ro, g) = setup();
    let err = write(&g, write_args("d/e/f.txt", "x", WriteMode::Create)).unwrap_err();
    assert!(err.message().contains("set create_dirs to true"), "{err:?}");
    let mut args = write_args("d/e/f.txt", "x", WriteMode::Create);
    args.create_dirs = true;
    write(&g, args).unwrap();
    assert_eq!(
        fs::read_to_string(rw.path().join("d/e/f.txt")).unwrap(),
        "x"
    );
}

#[test]
fn writing_into_the_read_only_grant_is_refused_and_nothing_is_written() {
    let (_rw, ro, g) = setup();
    let target = ro.path().join("x.txt");
    let err = write(
        &g,
        write_args(target.to_str().unwrap(), "x", WriteMode::Create),
    )
    .unwrap_err();
    assert!(err.message().contains("was granted read-only"), "{err:?}");
    assert!(!target.exists());
}

#[test]
fn reading_is_allowed_in_the_read_only_grant() {
    let (_rw, ro, g) = setup();
    fs::write(ro.path().join("r.txt"), "read me").unwrap();
    let out = read(
        &g,
        read_args(ro.path().join("r.txt").to_str().unwrap(), 0, 100),
    )
    .unwrap();
    assert_eq!(out.content, "read me");
}

#[test]
fn paths_outside_the_grants_are_refused() {
    let (_rw, _ro, g) = setup();
    let err = read(&g, read_args("/etc/hostname", 0, 100)).unwrap_err();
    assert!(
        err.message().contains("outside every directory granted"),
        "{err:?}"
    );
    let err = read(&g, read_args("../../../../etc/hostname", 0, 100)).unwrap_err();
    assert!(matches!(
        err,
        ToolError::InvalidArgs(_) | ToolError::Failed(_)
    ));
    assert!(err.message().contains("granted"), "{err:?}");
}

#[test]
fn read_with_offset_and_cap_pages_through_the_file() {
    let (rw, _ro, g) = setup();
    fs::write(rw.path().join("p.txt"), "0123456789").unwrap();
    let out = read(&g, read_args("p.txt", 3, 4)).unwrap();
    assert_eq!(out.content, "3456");
    assert_eq!((out.offset, out.next_offset, out.truncated), (3, 7, true));
    let out = read(&g, read_args("p.txt", out.next_offset, 100)).unwrap();
    assert_eq!((out.content.as_str(), out.truncated), ("789", false));
}

#[test]
fn a_cap_inside_a_character_stops_before_it() {
    let (rw, _ro, g) = setup();
    fs::write(rw.path().join("u.txt"), "aé").unwrap();
    let out = read(&g, read_args("u.txt", 0, 2)).unwrap();
    assert_eq!(
        (out.content.as_str(), out.next_offset, out.truncated),
        ("a", 1, true)
    );
}

#[test]
fn binary_files_and_bad_ranges_are_refused() {
    let (rw, _ro, g) = setup();
    fs::write(rw.path().join("bin"), [b'a', 0xff, b'b']).unwrap();
    let err = read(&g, read_args("bin", 0, 100)).unwrap_err();
    assert!(
        err.message()
            .contains("is not UTF-8 text (invalid byte at offset 1)"),
        "{err:?}"
    );
    let err = read(&g, read_args("bin", 10, 100)).unwrap_err();
    assert!(err.message().contains("past the end"), "{err:?}");
    let err = read(&g, read_args("bin", 0, 0)).unwrap_err();
    assert!(matches!(err, ToolError::InvalidArgs(_)));
    let err = read(&g, read_args(".", 0, 10)).unwrap_err();
    assert!(err.message().contains("is a directory"), "{err:?}");
}
