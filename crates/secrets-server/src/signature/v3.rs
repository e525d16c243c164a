//! Signature V3 (`ACS3-HMAC-SHA256`): a canonical request of the method, the path `/`, the
//! sorted query, the signed headers and the body's SHA-256, hashed and signed with HMAC-SHA256.
//!
//! ```
//! use secrets_server::signature::v3;
//! let query = v3::canonical_query([("SecretName", "my secret/1"), ("VersionStage", "ACSCurrent")]);
//! let (request, signed) = v3::canonical_request("POST", &query, [
//!     ("host", "kms.cn-hangzhou.aliyuncs.com"),
//!     ("x-acs-action", "GetSecretValue"),
//!     ("x-acs-content-sha256", v3::EMPTY_SHA256),
//!     ("x-acs-date", "2024-01-01T00:00:00Z"),
//!     ("x-acs-signature-nonce", "0123456789abcdef0123456789abcdef"),
//!     ("x-acs-version", "2016-01-20"),
//! ], v3::EMPTY_SHA256);
//! let signature = v3::sign("testsecret", &v3::string_to_sign(&request));
//! assert_eq!(signature, "2d0c968836ece55e368138d2934bf93ad1ae5fa0e2aa783d2570e12a9db14d54");
//! assert_eq!(signed, "host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version");
//! ```

use std::collections::BTreeMap;

use ring::{digest, hmac};

use super::{hex, percent_encode, unhex};

/// The algorithm's name, the first word of the `Authorization` header.
pub const ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// The hex SHA-256 of an empty body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Lower-case hex SHA-256 of `bytes` (the body hash of `x-acs-content-sha256`).
pub fn hex_sha256(bytes: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, bytes).as_ref())
}

/// The canonical query string: decoded name–value pairs, sorted by name (then value),
/// re-encoded with [`percent_encode`], `name=value` joined with `&` (`name=` for an empty
/// value).
pub fn canonical_query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
    pairs.sort_unstable();
    let mut out = String::new();
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&percent_encode(k));
        out.push('=');
        out.push_str(&percent_encode(v));
    }
    out
}

/// The canonical request and the signed-header list (`a;b;c`) for `headers`, the signed
/// headers' names and values. Names are lower-cased and sorted; values are trimmed of ASCII
/// whitespace only (a value padded with other characters signs differently, so no header —
/// the nonce above all — can be varied without breaking the signature), and the values of a
/// header given more than once are sorted and joined with `,`.
pub fn canonical_request<'a>(
    method: &str,
    canonical_query: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    payload_sha256_hex: &str,
) -> (String, String) {
    let mut grouped: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (name, value) in headers {
        grouped
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(value.trim_ascii());
    }
    let mut lines = String::new();
    for (name, values) in &mut grouped {
        values.sort_unstable();
        lines.push_str(name);
        lines.push(':');
        lines.push_str(&values.join(","));
        lines.push('\n');
    }
    let signed: Vec<&str> = grouped.keys().map(String::as_str).collect();
    let signed = signed.join(";");
    let request =
        format!("{method}\n/\n{canonical_query}\n{lines}\n{signed}\n{payload_sha256_hex}");
    (request, signed)
}

/// `ACS3-HMAC-SHA256\n` + hex SHA-256 of the canonical request.
pub fn string_to_sign(canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{}", hex_sha256(canonical_request.as_bytes()))
}

/// The HMAC key of an access key secret.
pub(crate) fn key(secret: &str) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes())
}

/// The hex HMAC-SHA256 of `string_to_sign` under `secret`.
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    hex(hmac::sign(&key(secret), string_to_sign.as_bytes()).as_ref())
}

/// Whether `signature` (hex) is the signature of `string_to_sign` under `key`, compared in
/// constant time.
pub(crate) fn verify(key: &hmac::Key, string_to_sign: &str, signature: &str) -> bool {
    unhex(signature).is_some_and(|tag| hmac::verify(key, string_to_sign.as_bytes(), &tag).is_ok())
}

/// The `Authorization` header value.
pub fn authorization(access_key_id: &str, signed_headers: &str, signature: &str) -> String {
    format!(
        "{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"
    )
}

/// The parts of an `Authorization` header.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Authorization<'a> {
    pub(crate) algorithm: &'a str,
    pub(crate) access_key_id: &'a str,
    pub(crate) signed_headers: &'a str,
    pub(crate) signature: &'a str,
}

/// Splits `ALGO Credential=…,SignedHeaders=…,Signature=…`; `None` if a part is missing.
pub(crate) fn parse_authorization(header: &str) -> Option<Authorization<'_>> {
    let (algorithm, rest) = header.trim().split_once(' ')?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=')?;
        let slot = match name {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut signature,
            _ => continue,
        };
        *slot = Some(value.trim());
    }
    Some(Authorization {
        algorithm,
        access_key_id: credential.filter(|c| !c.is_empty())?,
        signed_headers: signed.filter(|s| !s.is_empty())?,
        signature: signature.filter(|s| !s.is_empty())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONCE: &str = "0123456789abcdef0123456789abcdef";

    /// SPEC.md §5, first V3 vector: GetSecretValue with the parameters in the query.
    #[test]
    fn spec_vector_get_secret_value_in_query() {
        let query = canonical_query([
            ("VersionStage", "ACSCurrent"),
            ("SecretName", "my secret/1"),
        ]);
        assert_eq!(query, "SecretName=my%20secret%2F1&VersionStage=ACSCurrent");
        let (request, _) = canonical_request(
            "POST",
            &query,
            [
                ("host", "kms.cn-hangzhou.aliyuncs.com"),
                ("x-acs-action", "GetSecretValue"),
                ("x-acs-content-sha256", EMPTY_SHA256),
                ("x-acs-date", "2024-01-01T00:00:00Z"),
                ("x-acs-signature-nonce", NONCE),
                ("x-acs-version", "2016-01-20"),
            ],
            &hex_sha256(b""),
        );
        let sts = string_to_sign(&request);
        let expected = "2d0c968836ece55e368138d2934bf93ad1ae5fa0e2aa783d2570e12a9db14d54";
        assert_eq!(sign("testsecret", &sts), expected);
        assert!(verify(&key("testsecret"), &sts, expected));
    }

    /// SPEC.md §5, second V3 vector: CreateSecret with the value in a form body.
    #[test]
    fn spec_vector_create_secret_with_form_body() {
        let body = b"SecretData=hello+world";
        let body_hash = hex_sha256(body);
        assert_eq!(
            body_hash,
            "010f7bffd5abc432ac3bfedb0f415b5ed9dcb1973bb5b0d78e0bda602adede23"
        );
        let (request, signed) = canonical_request(
            "POST",
            &canonical_query([("SecretName", "s1"), ("VersionId", "v1")]),
            [
                ("x-acs-version", "2016-01-20"),
                ("host", "127.0.0.1:8080"),
                ("content-type", "application/x-www-form-urlencoded"),
                ("x-acs-action", "CreateSecret"),
                ("x-acs-content-sha256", &body_hash),
                ("x-acs-date", "2024-01-01T00:00:00Z"),
                ("x-acs-signature-nonce", NONCE),
            ],
            &body_hash,
        );
        assert!(signed.starts_with("content-type;host;x-acs-action"));
        assert_eq!(
            sign("testsecret", &string_to_sign(&request)),
            "829ccfa723a8d65b8ec33990f083504a7004afc0048f1369d4a642d014325513"
        );
    }

    #[test]
    fn empty_values_canonicalize_as_name_equals() {
        assert_eq!(canonical_query([("b", ""), ("a", "x y")]), "a=x%20y&b=");
    }

    #[test]
    fn repeated_headers_are_sorted_and_joined() {
        let (request, signed) = canonical_request("GET", "", [("X-A", " 2 "), ("x-a", "1")], "h");
        assert_eq!(request, "GET\n/\n\nx-a:1,2\n\nx-a\nh");
        assert_eq!(signed, "x-a");
    }

    #[test]
    fn authorization_header_parses_back() {
        let header = authorization("ak", "host;x-acs-date", "abcd");
        let parsed = parse_authorization(&header).unwrap();
        assert_eq!(
            parsed,
            Authorization {
                algorithm: ALGORITHM,
                access_key_id: "ak",
                signed_headers: "host;x-acs-date",
                signature: "abcd"
            }
        );
        assert!(parse_authorization("ACS3-HMAC-SHA256 Credential=ak,Signature=ab").is_none());
        assert!(parse_authorization("garbage").is_none());
    }
}
