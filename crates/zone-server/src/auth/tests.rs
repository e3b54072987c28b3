use axum::http::{HeaderMap, HeaderValue, StatusCode, header};

use super::*;

/// A fresh file path in a directory of its own, removed on drop.
struct TempFile {
    dir: PathBuf,
    path: PathBuf,
}

impl TempFile {
    fn new() -> TempFile {
        let dir = e2e::fresh_temp_dir("zonetrack-auth");
        let path = dir.join("editors");
        TempFile { dir, path }
    }

    fn with(text: &str) -> TempFile {
        let f = TempFile::new();
        std::fs::write(&f.path, text).unwrap();
        f
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn with_auth(value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
    h
}

fn bearer(token: &str) -> HeaderMap {
    with_auth(&format!("Bearer {token}"))
}

fn basic(user: &str, password: &str) -> HeaderMap {
    with_auth(&format!(
        "Basic {}",
        STANDARD.encode(format!("{user}:{password}"))
    ))
}

fn load_error(text: &str) -> (EditorsError, PathBuf) {
    let f = TempFile::with(text);
    let err = Editors::load(&f.path).unwrap_err();
    (err, f.path.clone())
}

/// The hash of the token "test".
const HASH: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
/// The hash of the token "bobs", in capitals (hex digits are read in either case).
const HASH_BOB: &str = "sha256:39B94DDF63D38931E1C677E591A630171D578394989C457D4C2BACE5A0D82CC8";

#[test]
fn a_file_with_comments_and_blank_lines_loads_every_editor() {
    let f = TempFile::with(&format!(
        "# editors\n\nalice {HASH}\n  # indented comment\nbob.smith-2_x\t{HASH_BOB}\r\n"
    ));
    let editors = Editors::load(&f.path).unwrap();
    assert_eq!(
        editors.names().collect::<Vec<_>>(),
        ["alice", "bob.smith-2_x"]
    );
    assert_eq!(
        editors.authenticate(&bearer("test")).unwrap(),
        Some(Editor {
            name: "alice".into()
        })
    );
    assert_eq!(
        editors.authenticate(&bearer("bobs")).unwrap().unwrap().name,
        "bob.smith-2_x"
    );
}

#[test]
fn each_wrong_line_is_reported_with_its_file_and_number() {
    let cases: [(String, usize, LineProblem); 7] = [
        ("alice\n".into(), 1, LineProblem::MissingHash),
        (
            format!("# c\nalice {HASH} extra\n"),
            2,
            LineProblem::ExtraText,
        ),
        (
            format!("\n\nal/ice {HASH}\n"),
            3,
            LineProblem::BadName("al/ice".into()),
        ),
        ("alice sha256:abc\n".into(), 1, LineProblem::BadHash),
        (
            format!("alice {}\n", HASH.replace("sha256", "md5")),
            1,
            LineProblem::BadHash,
        ),
        (
            format!("alice {HASH}\nbob {HASH_BOB}\nalice {HASH}\n"),
            3,
            LineProblem::Duplicate { first_line: 1 },
        ),
        (
            format!("alice {HASH}\nbob {HASH}\n"),
            2,
            LineProblem::SameToken { first_line: 1 },
        ),
    ];
    for (text, want_line, want_problem) in cases {
        let (err, path) = load_error(&text);
        match &err {
            EditorsError::Line {
                path: p,
                line,
                problem,
            } => {
                assert_eq!((p, *line, problem), (&path, want_line, &want_problem));
            }
            other => panic!("{text:?}: {other:?}"),
        }
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("{}:{want_line}: ", path.display())),
            "{message}"
        );
    }
}

#[test]
fn a_missing_file_is_named_with_how_to_create_it() {
    let f = TempFile::new();
    let err = Editors::load(&f.path).unwrap_err();
    let message = err.to_string();
    assert!(message.contains(&f.path.display().to_string()), "{message}");
    assert!(message.contains("zonetrack editors add"), "{message}");
}

#[test]
fn an_added_editor_authenticates_with_bearer_and_with_basic() {
    let f = TempFile::new();
    let token = Editors::add(&f.path, "alice").unwrap();
    let bob = Editors::add(&f.path, "bob").unwrap();
    assert_ne!(token, bob);
    // 256 bits as URL-safe base64 without padding.
    assert_eq!(token.len(), 43);
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)),
        "{token}"
    );
    let text = std::fs::read_to_string(&f.path).unwrap();
    assert!(!text.contains(&token), "the file holds the token: {text}");
    assert!(text.contains("alice sha256:"), "{text}");

    let editors = Editors::load(&f.path).unwrap();
    let alice = Some(Editor {
        name: "alice".into(),
    });
    assert_eq!(editors.authenticate(&bearer(&token)).unwrap(), alice);
    assert_eq!(
        editors.authenticate(&basic("alice", &token)).unwrap(),
        alice
    );
    // Scheme names are case-insensitive (RFC 9110 § 11.1).
    assert_eq!(
        editors
            .authenticate(&with_auth(&format!("bearer {token}")))
            .unwrap(),
        alice
    );
    assert_eq!(
        editors.authenticate(&bearer(&bob)).unwrap().unwrap().name,
        "bob"
    );
}

#[cfg(unix)]
#[test]
fn a_new_editors_file_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let f = TempFile::new();
    Editors::add(&f.path, "alice").unwrap();
    let mode = std::fs::metadata(&f.path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn add_refuses_a_name_already_there_or_invalid_and_leaves_the_file_alone() {
    let f = TempFile::new();
    Editors::add(&f.path, "alice").unwrap();
    let before = std::fs::read(&f.path).unwrap();
    let err = Editors::add(&f.path, "alice").unwrap_err();
    assert!(matches!(err, EditorsError::Exists { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("already has an editor named \"alice\"")
    );
    for bad in ["", "a b", "al:ice", "ålice", &"x".repeat(65)] {
        let err = Editors::add(&f.path, bad).unwrap_err();
        assert!(matches!(err, EditorsError::InvalidName { .. }), "{bad:?}");
    }
    assert_eq!(std::fs::read(&f.path).unwrap(), before);
    assert!(Editors::add(&f.path, &"x".repeat(64)).is_ok());
}

#[test]
fn add_refuses_to_append_to_a_broken_file() {
    let f = TempFile::with("alice\n");
    let err = Editors::add(&f.path, "bob").unwrap_err();
    assert!(matches!(err, EditorsError::Line { line: 1, .. }), "{err:?}");
    assert_eq!(std::fs::read_to_string(&f.path).unwrap(), "alice\n");
}

#[test]
fn add_starts_a_new_line_after_a_hand_edited_last_line() {
    let f = TempFile::with(&format!("alice {HASH}"));
    let token = Editors::add(&f.path, "bob").unwrap();
    let editors = Editors::load(&f.path).unwrap();
    assert_eq!(editors.names().collect::<Vec<_>>(), ["alice", "bob"]);
    assert_eq!(
        editors.authenticate(&bearer(&token)).unwrap().unwrap().name,
        "bob"
    );
}

#[test]
fn no_credentials_is_no_editor_rather_than_an_error() {
    let editors = Editors::parse(Path::new("e"), &format!("alice {HASH}\n")).unwrap();
    assert_eq!(editors.authenticate(&HeaderMap::new()).unwrap(), None);
}

/// The challenges that go with these 401s are checked on whole responses in `tests/http.rs`.
#[test]
fn wrong_or_malformed_credentials_are_a_401() {
    let editors =
        Editors::parse(Path::new("e"), &format!("alice {HASH}\nbob {HASH_BOB}\n")).unwrap();
    let cases = [
        bearer("tesT"),
        bearer(""),
        with_auth("Bearer"),
        // The right token under another editor's name.
        basic("bob", "test"),
        basic("alice", "wrong"),
        basic("nobody", "test"),
        with_auth("Basic !!!not-base64"),
        with_auth(&format!("Basic {}", STANDARD.encode("no colon"))),
        with_auth("Digest username=\"alice\""),
        with_auth("test"),
    ];
    for headers in cases {
        let err = editors.authenticate(&headers).unwrap_err();
        assert_eq!(err.status, StatusCode::UNAUTHORIZED, "{headers:?}");
        assert_eq!(err.code, "Unauthorized");
    }
    // Two Authorization headers are refused rather than one of them picked.
    let mut two = bearer("test");
    two.append(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
    assert!(editors.authenticate(&two).is_err());
}

#[test]
fn debug_output_names_editors_without_their_hashes() {
    let editors = Editors::parse(Path::new("e"), &format!("alice {HASH}\n")).unwrap();
    let shown = format!("{editors:?}");
    assert!(shown.contains("alice"), "{shown}");
    assert!(!shown.contains("9f86"), "{shown}");
}
