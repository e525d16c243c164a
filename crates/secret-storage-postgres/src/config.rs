//! [`PostgresConfig`]: the connection string and the knobs of the pool and of retries.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use secret_storage::StorageError;

/// The schema the store's tables live in unless [`PostgresConfig::schema`] says otherwise.
pub const DEFAULT_SCHEMA: &str = "secrets_store";

/// How to reach PostgreSQL and how to behave there.
///
/// Built from a libpq-style connection string, either a URL
/// (`postgresql://user:password@host:5432/db?sslmode=require`) or key/value pairs
/// (`host=db.internal user=app dbname=secrets sslmode=require`); every option the `postgres`
/// crate understands works (`connect_timeout`, `keepalives`, `target_session_attrs`, …).
///
/// TLS: `sslmode=require` (or `verify-ca` / `verify-full`, read as `require`) connects over TLS
/// with rustls and **always verifies** the server's certificate — against the PEM file named by
/// `sslrootcert=PATH` if given, else against the Mozilla roots (webpki-roots). Any other
/// `sslmode` (or none) connects over plain TCP. Client certificates are not supported.
///
/// `Debug` never shows the connection string (it may hold a password).
#[derive(Clone)]
pub struct PostgresConfig {
    pub(crate) connection: String,
    pub(crate) root_cert: Option<PathBuf>,
    pub(crate) require_tls: bool,
    pub(crate) schema: String,
    pub(crate) pool_size: u32,
    pub(crate) checkout_timeout: Duration,
    pub(crate) max_attempts: u32,
    pub(crate) first_backoff: Duration,
}

impl fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("connection", &"[REDACTED]")
            .field("require_tls", &self.require_tls)
            .field("root_cert", &self.root_cert)
            .field("schema", &self.schema)
            .field("pool_size", &self.pool_size)
            .field("checkout_timeout", &self.checkout_timeout)
            .field("max_attempts", &self.max_attempts)
            .finish()
    }
}

impl PostgresConfig {
    /// A configuration for `connection_string`, with the defaults: schema
    /// [`DEFAULT_SCHEMA`], a pool of up to 16 connections, 10 s to wait for one, and 8 attempts
    /// at an update that meets a serialization failure or deadlock.
    ///
    /// The string is checked when the store is opened, not here; only `sslmode` and
    /// `sslrootcert` are taken out of it now.
    pub fn new(connection_string: &str) -> Self {
        let tls = split_tls_options(connection_string);
        PostgresConfig {
            connection: tls.rest,
            root_cert: tls.root_cert,
            require_tls: tls.require,
            schema: DEFAULT_SCHEMA.to_owned(),
            pool_size: 16,
            checkout_timeout: Duration::from_secs(10),
            max_attempts: 8,
            first_backoff: Duration::from_millis(2),
        }
    }

    /// The schema the store's tables are in (not yet checked: see [`PostgresConfig::schema`]).
    pub fn schema_name(&self) -> &str {
        &self.schema
    }

    /// Keeps the store's tables in `schema` (created if missing), so one database can hold
    /// several stores. It must be 1–63 characters of `a-z`, `0-9` and `_`, not starting with a
    /// digit; [`crate::PostgresStorage::open`] refuses anything else with a `Backend` error.
    pub fn schema(mut self, schema: &str) -> Self {
        schema.clone_into(&mut self.schema);
        self
    }

    /// At most `size` connections (at least 1) are open at once; a caller beyond that waits.
    pub fn pool_size(mut self, size: u32) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// How long a call waits for a free (or new) connection before failing with a retryable
    /// `Backend` error.
    pub fn checkout_timeout(mut self, timeout: Duration) -> Self {
        self.checkout_timeout = timeout;
        self
    }

    /// How many times (at least 1) an update is attempted when PostgreSQL reports a
    /// serialization failure, a deadlock or a racing create, with exponential backoff between
    /// attempts (2 ms, 4 ms, … with jitter).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The schema name, after checking that it is one [`PostgresConfig::schema`] allows.
    pub(crate) fn checked_schema(&self) -> Result<&str, StorageError> {
        let s = self.schema.as_str();
        let ok = !s.is_empty()
            && s.len() <= 63
            && !s.starts_with(|c: char| c.is_ascii_digit())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(s)
        } else {
            Err(StorageError::Backend {
                message: format!(
                    "schema name {s:?} is not 1-63 characters of a-z, 0-9 and _ \
                     starting with a letter or _"
                ),
                retryable: false,
            })
        }
    }
}

/// A connection string with the TLS options this crate handles itself taken out.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TlsOptions {
    /// The connection string without `sslrootcert`, and with `sslmode` kept only when it is
    /// one the `postgres` crate reads.
    pub(crate) rest: String,
    /// `sslrootcert`, if given.
    pub(crate) root_cert: Option<PathBuf>,
    /// Whether `sslmode` asks for TLS (`require`, `verify-ca`, `verify-full`).
    pub(crate) require: bool,
}

/// Takes `sslmode` and `sslrootcert` out of a URL's query or a key/value string: the `postgres`
/// crate knows neither `sslrootcert` nor the `verify-*` modes, and this crate decides about
/// TLS itself. A key/value string is read as libpq reads it (values may be single-quoted, with
/// `\` escaping the next character); one that does not parse is passed through unchanged, for
/// the `postgres` crate to refuse.
pub(crate) fn split_tls_options(connection: &str) -> TlsOptions {
    let mut root_cert = None;
    let mut require = false;
    let mut take = |key: &str, value: &str| -> bool {
        match key {
            "sslrootcert" => {
                root_cert = Some(PathBuf::from(value));
                true
            }
            "sslmode" => {
                require = matches!(value, "require" | "verify-ca" | "verify-full");
                true
            }
            _ => false,
        }
    };
    let is_url = connection.starts_with("postgres://") || connection.starts_with("postgresql://");
    let rest = if is_url {
        match connection.split_once('?') {
            None => connection.to_owned(),
            Some((base, query)) => {
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|pair| {
                        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                        !take(k, &percent_decode(v))
                    })
                    .collect();
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        match key_value_words(connection) {
            Some(words) => {
                let kept: Vec<&str> = words
                    .into_iter()
                    .filter(|word| !take(&word.key, &word.value))
                    .map(|word| &connection[word.span])
                    .collect();
                kept.join(" ")
            }
            None => connection.to_owned(),
        }
    };
    TlsOptions {
        rest,
        root_cert,
        require,
    }
}

/// One `key=value` word of a libpq connection string ([`key_value_words`]).
#[derive(Clone, PartialEq, Eq)]
pub struct KeyValueWord {
    /// Where the whole word (key, `=`, value as written) is in the string.
    pub span: std::ops::Range<usize>,
    /// The keyword.
    pub key: String,
    /// The value, unquoted and unescaped.
    pub value: String,
}

impl std::fmt::Debug for KeyValueWord {
    /// The key and span only: the value may be a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyValueWord")
            .field("span", &self.span)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The words of a libpq key/value connection string, read as libpq reads them: a key, `=`
/// (spaces allowed around it), then a value that is either single-quoted (`\` escapes the
/// next character, so `\'` is a quote) or runs to the next space (`\` escaping the next
/// character there too). `None` if the string is not in that form (an unclosed quote, a word
/// without `=`, a `\` at the end).
///
/// ```
/// let words = secret_storage_postgres::key_value_words(r"host=db1 password='two words' user=a\ b")
///     .unwrap();
/// let pairs: Vec<(&str, &str)> = words.iter().map(|w| (&*w.key, &*w.value)).collect();
/// assert_eq!(pairs, [("host", "db1"), ("password", "two words"), ("user", "a b")]);
/// assert!(secret_storage_postgres::key_value_words("host=db1 password='open").is_none());
/// ```
pub fn key_value_words(s: &str) -> Option<Vec<KeyValueWord>> {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let offset = |i: usize| chars.get(i).map_or(s.len(), |&(o, _)| o);
    let skip_spaces = |mut i: usize| {
        while at(i).is_some_and(char::is_whitespace) {
            i += 1;
        }
        i
    };
    let mut words = Vec::new();
    let mut i = skip_spaces(0);
    while i < chars.len() {
        let start = i;
        let mut key = String::new();
        while let Some(c) = at(i).filter(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
            i += 1;
        }
        i = skip_spaces(i);
        if key.is_empty() || at(i) != Some('=') {
            return None;
        }
        i = skip_spaces(i + 1);
        let mut value = String::new();
        if at(i) == Some('\'') {
            i += 1;
            loop {
                match at(i)? {
                    '\'' => break,
                    '\\' => {
                        value.push(at(i + 1)?);
                        i += 2;
                    }
                    c => {
                        value.push(c);
                        i += 1;
                    }
                }
            }
            i += 1;
        } else {
            while let Some(c) = at(i).filter(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.push(at(i + 1)?);
                    i += 2;
                } else {
                    value.push(c);
                    i += 1;
                }
            }
        }
        words.push(KeyValueWord {
            span: offset(start)..offset(i),
            key,
            value,
        });
        i = skip_spaces(i);
    }
    Some(words)
}

/// Decodes `%XX` escapes of a URL query value; anything malformed is kept as written.
fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_tls_options_are_taken_out_and_the_rest_kept() {
        let t = split_tls_options(
            "postgresql://u:p@h:5/db?sslmode=verify-full&connect_timeout=3&sslrootcert=%2Fca.pem",
        );
        assert_eq!(t.rest, "postgresql://u:p@h:5/db?connect_timeout=3");
        assert_eq!(t.root_cert, Some(PathBuf::from("/ca.pem")));
        assert!(t.require);
    }

    #[test]
    fn url_without_sslmode_is_plain() {
        let t = split_tls_options("postgres://h/db");
        assert_eq!(t.rest, "postgres://h/db");
        assert!(!t.require);
        let t = split_tls_options("postgres://h/db?sslmode=prefer");
        assert_eq!(t.rest, "postgres://h/db");
        assert!(!t.require);
    }

    #[test]
    fn key_value_tls_options_are_taken_out() {
        let t = split_tls_options("host=h  sslmode=require user=u sslrootcert=/x/ca.pem");
        assert_eq!(t.rest, "host=h user=u");
        assert_eq!(t.root_cert, Some(PathBuf::from("/x/ca.pem")));
        assert!(t.require);
        let t = split_tls_options("host=h sslmode=disable");
        assert!(!t.require);
    }

    #[test]
    fn quoted_values_keep_their_quotes_and_the_tls_options_are_still_taken_out() {
        let t = split_tls_options(
            r"host=h password='a b\' c' sslmode = verify-full sslrootcert='/my ca.pem' user=u\ x",
        );
        assert_eq!(t.rest, r"host=h password='a b\' c' user=u\ x");
        assert_eq!(t.root_cert, Some(PathBuf::from("/my ca.pem")));
        assert!(t.require);
    }

    #[test]
    fn key_value_words_are_read_as_libpq_reads_them() {
        let words = key_value_words(r"a=1  b = '2 3' c=\'4 d='' e='f\\g'").unwrap();
        let pairs: Vec<(&str, &str)> = words
            .iter()
            .map(|w| (w.key.as_str(), w.value.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("a", "1"),
                ("b", "2 3"),
                ("c", "'4"),
                ("d", ""),
                ("e", r"f\g")
            ]
        );
        // Not that form: passed through for the `postgres` crate to refuse.
        for bad in ["a", "a=1 b", "=1", "a='open", r"a=\"] {
            assert!(key_value_words(bad).is_none(), "{bad}");
            assert_eq!(split_tls_options(bad).rest, bad);
        }
    }

    #[test]
    fn malformed_percent_escapes_are_kept() {
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("a%zz%41"), "a%zzA");
    }

    #[test]
    fn schema_names_outside_the_safe_alphabet_are_refused() {
        for bad in ["", "Public", "a-b", "1abc", "a\"b", &"x".repeat(64)] {
            let config = PostgresConfig::new("host=h").schema(bad);
            assert!(config.checked_schema().is_err(), "{bad:?} was accepted");
        }
        for good in ["secrets_store", "_t1", "a"] {
            assert!(
                PostgresConfig::new("")
                    .schema(good)
                    .checked_schema()
                    .is_ok()
            );
        }
    }

    #[test]
    fn debug_hides_the_connection_string() {
        let config = PostgresConfig::new("postgres://u:hunter2@h/db");
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
