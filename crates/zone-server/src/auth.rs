//! Who may write: the editors file, the tokens it vouches for, and the 401 a client gets
//! without one. Reads stay public; a write names its editor, who becomes the author of the
//! revision (never a free-text claim, see DESIGN.md "Who").
//!
//! The file holds one line per editor, `NAME sha256:HEX`, where HEX is the SHA-256 digest of
//! the editor's token; `#` starts a comment line. The token itself is shown once, by
//! [`Editors::add`] (`zonetrack editors add`), and kept nowhere on the server.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::ApiError;

/// Random bytes in a token: 256 bits, beyond any search.
const TOKEN_BYTES: usize = 32;

/// Longest editor name: names become revision authors and appear in listings.
const MAX_NAME_LEN: usize = 64;

/// What goes before the digest in the file, so another scheme can be added without guessing.
const HASH_PREFIX: &str = "sha256:";

/// The realm both challenges name.
const REALM: &str = "zonetrack";

/// The editors of a server: who may write, each known by a digest of their token.
pub struct Editors {
    entries: Vec<Entry>,
}

/// One line of the file.
struct Entry {
    name: String,
    digest: [u8; 32],
}

/// An editor a request proved to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Editor {
    /// The editor's name, as in the editors file: the author of what they write.
    pub name: String,
}

/// What is wrong with one line of an editors file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LineProblem {
    /// A name with no hash after it.
    MissingHash,
    /// More than a name and a hash.
    ExtraText,
    /// The name is not 1 to 64 letters, digits, `_`, `-` or `.`.
    BadName(String),
    /// The hash is not `sha256:` and 64 hex digits.
    BadHash,
    /// The name was already given on an earlier line.
    Duplicate {
        /// The line it was first given on.
        first_line: usize,
    },
    /// The hash was already given on an earlier line: one token for two names, so a Bearer
    /// token could not say who wrote.
    SameToken {
        /// The line it was first given on.
        first_line: usize,
    },
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingHash => write!(f, "a name with no token hash after it"),
            Self::ExtraText => write!(f, "more than `NAME HASH` on the line"),
            Self::BadName(name) => write!(f, "{name:?} is not a valid editor name ({NAME_RULE})"),
            Self::BadHash => write!(
                f,
                "the hash must be `{HASH_PREFIX}` and 64 hex digits, as `zonetrack editors add` writes it"
            ),
            Self::Duplicate { first_line } => {
                write!(f, "the name was already given on line {first_line}")
            }
            Self::SameToken { first_line } => write!(
                f,
                "the same token hash as line {first_line}: each editor needs a token of their own (`zonetrack editors add`)"
            ),
        }
    }
}

/// How names may be spelt, for messages.
const NAME_RULE: &str = "1 to 64 letters, digits, '_', '-' or '.'";

/// Why an editors file could not be read or added to.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EditorsError {
    /// The file could not be read.
    #[error("cannot read the editors file {}{}", path.display(), missing_hint(source))]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file could not be created or appended to.
    #[error("cannot write the editors file {}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A line of the file is wrong.
    #[error("{}:{line}: {problem}", path.display())]
    Line {
        /// The file.
        path: PathBuf,
        /// Its line number, from 1.
        line: usize,
        /// What is wrong with it.
        problem: LineProblem,
    },
    /// A name given to [`Editors::add`] that may not be a name.
    #[error("{name:?} is not a valid editor name ({NAME_RULE})")]
    InvalidName {
        /// The name given.
        name: String,
    },
    /// [`Editors::add`] was given a name the file already has.
    #[error(
        "{} already has an editor named {name:?}; choose another name, or remove that line first to give them a new token",
        path.display()
    )]
    Exists {
        /// The file.
        path: PathBuf,
        /// The name.
        name: String,
    },
    /// The system gave no random bytes for a token.
    #[error("cannot get random bytes for a token from the operating system")]
    Random(#[source] getrandom::Error),
}

fn missing_hint(e: &std::io::Error) -> &'static str {
    if e.kind() == std::io::ErrorKind::NotFound {
        " (it does not exist: create it with `zonetrack editors add NAME --file FILE`)"
    } else {
        ""
    }
}

/// Whether `name` may be an editor's name.
fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

/// The digest a token is known by.
///
/// SHA-256, not a password hash (argon2, bcrypt): those are slow on purpose to make guessing a
/// low-entropy password from its hash costly. A token is 256 random bits, so no guessing can
/// succeed however fast the hash, and a slow hash would only cost every write request
/// milliseconds of CPU (and hand a flood of bad tokens a cheap way to burn it).
fn digest(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

fn parse_hash(text: &str) -> Option<[u8; 32]> {
    let hex = text.strip_prefix(HASH_PREFIX)?.as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

fn format_hash(digest: &[u8; 32]) -> String {
    let mut out = String::with_capacity(HASH_PREFIX.len() + 64);
    out.push_str(HASH_PREFIX);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

impl Editors {
    /// Reads an editors file. Every line is checked; the first wrong one is reported with the
    /// file, its number and what is wrong.
    pub fn load(path: &Path) -> Result<Editors, EditorsError> {
        let text = std::fs::read_to_string(path).map_err(|source| EditorsError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    fn parse(path: &Path, text: &str) -> Result<Editors, EditorsError> {
        let mut entries: Vec<(usize, Entry)> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let bad = |problem| EditorsError::Line {
                path: path.to_owned(),
                line: line_no,
                problem,
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut fields = line.split_whitespace();
            let (Some(name), hash, rest) = (fields.next(), fields.next(), fields.next()) else {
                continue;
            };
            if !valid_name(name) {
                return Err(bad(LineProblem::BadName(name.to_owned())));
            }
            let Some(hash) = hash else {
                return Err(bad(LineProblem::MissingHash));
            };
            if rest.is_some() {
                return Err(bad(LineProblem::ExtraText));
            }
            let digest = parse_hash(hash).ok_or_else(|| bad(LineProblem::BadHash))?;
            if let Some((first_line, _)) = entries.iter().find(|(_, e)| e.name == name) {
                return Err(bad(LineProblem::Duplicate {
                    first_line: *first_line,
                }));
            }
            if let Some((first_line, _)) = entries.iter().find(|(_, e)| e.digest == digest) {
                return Err(bad(LineProblem::SameToken {
                    first_line: *first_line,
                }));
            }
            entries.push((
                line_no,
                Entry {
                    name: name.to_owned(),
                    digest,
                },
            ));
        }
        Ok(Editors {
            entries: entries.into_iter().map(|(_, e)| e).collect(),
        })
    }

    /// Appends a new editor with a fresh random token (256 bits, base64url without padding, 43
    /// characters) and returns the token: the file keeps only its digest, so this is the one
    /// time it can be seen.
    ///
    /// Creates the file (readable by its owner only, on unix) when it is missing. Refuses an
    /// invalid name, a name the file already has, and a file with a wrong line (appending to it
    /// would leave a server unable to start).
    pub fn add(path: &Path, name: &str) -> Result<String, EditorsError> {
        if !valid_name(name) {
            return Err(EditorsError::InvalidName {
                name: name.to_owned(),
            });
        }
        let existing = match std::fs::read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(EditorsError::Read {
                    path: path.to_owned(),
                    source,
                });
            }
        };
        if let Some(text) = &existing
            && Self::parse(path, text)?
                .entries
                .iter()
                .any(|e| e.name == name)
        {
            return Err(EditorsError::Exists {
                path: path.to_owned(),
                name: name.to_owned(),
            });
        }
        let mut bytes = [0u8; TOKEN_BYTES];
        getrandom::fill(&mut bytes).map_err(EditorsError::Random)?;
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let mut line = String::new();
        match &existing {
            None => line.push_str(
                "# zonetrack editors: NAME and the SHA-256 of their token, one a line.\n\
                 # Add one with `zonetrack editors add NAME --file FILE`; delete a line to revoke.\n",
            ),
            // A file edited by hand may lack its last newline.
            Some(text) if !text.is_empty() && !text.ends_with('\n') => line.push('\n'),
            Some(_) => {}
        }
        line.push_str(name);
        line.push(' ');
        line.push_str(&format_hash(&digest(token.as_bytes())));
        line.push('\n');
        let write_err = |source| EditorsError::Write {
            path: path.to_owned(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            // The digests cannot be turned back into tokens, but the list of editors is nobody
            // else's business.
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(write_err)?;
        file.write_all(line.as_bytes()).map_err(write_err)?;
        // The token is printed once: the line that makes it work must be on disk by then.
        file.sync_all().map_err(write_err)?;
        Ok(token)
    }

    /// The editors' names, in file order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.name.as_str())
    }

    /// How many editors there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file named nobody.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Who a request's credentials prove it comes from.
    ///
    /// `Ok(None)` when the request carries no `Authorization` header; `Ok(Some(editor))` for
    /// `Authorization: Bearer TOKEN` or HTTP Basic with the editor's name as the user and the
    /// token as the password (what QGIS's authentication manager sends); a 401 for anything
    /// else: a wrong token, a wrong name, another scheme, a malformed header.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Option<Editor>, ApiError> {
        let mut values = headers.get_all(header::AUTHORIZATION).iter();
        let Some(value) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(ApiError::unauthorized(
                "the request has more than one Authorization header; send one",
            ));
        }
        let value = value.to_str().map_err(|_| {
            ApiError::unauthorized(
                "the Authorization header is not plain text; see the README's \"Who may write\"",
            )
        })?;
        let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            if rest.is_empty() {
                return Err(ApiError::unauthorized(
                    "the Authorization header says Bearer but gives no token",
                ));
            }
            return self
                .find(None, rest)
                .map(Some)
                .ok_or_else(|| ApiError::unauthorized(
                    "the token is not valid here: check it was copied whole, or ask for a new one (`zonetrack editors add`)",
                ));
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let malformed = || {
                ApiError::unauthorized(
                    "the Basic credentials are not base64 of `NAME:TOKEN`; use the editor name as user and the token as password",
                )
            };
            let decoded = STANDARD.decode(rest).map_err(|_| malformed())?;
            let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
            let (user, password) = decoded.split_once(':').ok_or_else(malformed)?;
            return self.find(Some(user), password).map(Some).ok_or_else(|| {
                ApiError::unauthorized(
                    "wrong editor name or token: the user must be the editor's name and the password their token",
                )
            });
        }
        Err(ApiError::unauthorized(format!(
            "the Authorization scheme {scheme:?} is not accepted; send `Bearer TOKEN`, or Basic with the editor name as user and the token as password"
        )))
    }

    /// The editor whose token this is (and, when given, whose name this is). Every digest is
    /// compared in full, in constant time, whatever matched before: how long the answer takes
    /// tells nothing of which bytes were right.
    fn find(&self, name: Option<&str>, token: &str) -> Option<Editor> {
        let presented = digest(token.as_bytes());
        let mut found = None;
        for entry in &self.entries {
            let same_token = bool::from(entry.digest.ct_eq(&presented));
            if same_token && name.is_none_or(|n| n == entry.name) {
                found = Some(&entry.name);
            }
        }
        found.map(|name| Editor { name: name.clone() })
    }
}

impl fmt::Debug for Editors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: the digests are nobody's business in a log.
        f.debug_struct("Editors")
            .field("names", &self.names().collect::<Vec<_>>())
            .finish()
    }
}

/// The `WWW-Authenticate` challenges of a 401: both schemes a client may answer with.
pub(crate) fn add_challenges(headers: &mut HeaderMap) {
    for scheme in ["Bearer", "Basic"] {
        if let Ok(v) = HeaderValue::from_str(&format!("{scheme} realm=\"{REALM}\"")) {
            headers.append(header::WWW_AUTHENTICATE, v);
        }
    }
}

/// The JSON 401 (`Unauthorized`, with `message` as its description) with the `Bearer` and
/// `Basic` challenges in `WWW-Authenticate`. The same as [`ApiError::unauthorized`] as a
/// response: every 401 carries the challenges, wherever it is made.
pub fn unauthorized(message: impl Into<String>) -> Response {
    ApiError::unauthorized(message).into_response()
}

impl ApiError {
    /// 401 with `Unauthorized`; as a response it carries `WWW-Authenticate` challenges for
    /// Bearer and Basic.
    pub fn unauthorized(description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "Unauthorized",
            description: description.into(),
        }
    }

    /// 403 with `WritesDisabled`: the server has no editors, so nobody may write.
    pub fn writes_disabled() -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            code: "WritesDisabled",
            description: "this server is read-only: it was started without editors. To allow \
                writes, create an editor with `zonetrack editors add NAME --file FILE` and \
                start the server with `zonetrack serve --editors FILE`"
                .into(),
        }
    }
}

#[cfg(test)]
mod tests;
