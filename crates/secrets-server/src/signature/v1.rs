//! Signature V1 (`HMAC-SHA1`): the parameters of the query string and the form body, sorted by
//! name and percent-encoded, signed with the key `secret + "&"`.
//!
//! ```
//! use secrets_server::signature::v1;
//! let params = [
//!     ("AccessKeyId", "testid"), ("Action", "CreateKey"), ("Format", "json"),
//!     ("SignatureMethod", "HMAC-SHA1"), ("SignatureVersion", "1.0"),
//!     ("Timestamp", "2016-03-28T03:13:08Z"), ("Version", "2016-01-20"),
//! ];
//! let sts = v1::string_to_sign("GET", params);
//! assert_eq!(v1::sign("testsecret", &sts), "41wk2SSX1GJh7fwnc5eqOfiJPFg=");
//! ```

use base64::Engine as _;
use ring::hmac;

use super::percent_encode;

/// The name of the algorithm, as sent in `SignatureMethod`.
pub const METHOD: &str = "HMAC-SHA1";
/// The only `SignatureVersion`.
pub const VERSION: &str = "1.0";

/// `METHOD&%2F&` + percentEncode(the sorted `k=v` pairs joined with `&`). The `Signature`
/// parameter itself, if among `params`, is left out.
pub fn string_to_sign<'a>(
    method: &str,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut pairs: Vec<(String, String)> = params
        .into_iter()
        .filter(|(k, _)| *k != "Signature")
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    pairs.sort();
    let mut query = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            query.push('&');
        }
        query.push_str(k);
        query.push('=');
        query.push_str(v);
    }
    format!("{method}&%2F&{}", percent_encode(&query))
}

/// The HMAC key of `secret`: the secret followed by `&`.
pub(crate) fn key(secret: &str) -> hmac::Key {
    let mut material = zeroize::Zeroizing::new(Vec::with_capacity(secret.len() + 1));
    material.extend_from_slice(secret.as_bytes());
    material.push(b'&');
    hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &material)
}

/// The base64 HMAC-SHA1 of `string_to_sign` under `secret + "&"`.
pub fn sign(secret: &str, string_to_sign: &str) -> String {
    let tag = hmac::sign(&key(secret), string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
}

/// Whether `signature` (base64) is the signature of `string_to_sign` under `key`, compared in
/// constant time.
pub(crate) fn verify(key: &hmac::Key, string_to_sign: &str, signature: &str) -> bool {
    base64::engine::general_purpose::STANDARD
        .decode(signature.trim())
        .is_ok_and(|tag| hmac::verify(key, string_to_sign.as_bytes(), &tag).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC.md §5, first V1 vector (Alibaba's documentation example).
    #[test]
    fn spec_vector_get_create_key() {
        let params = [
            ("AccessKeyId", "testid"),
            ("Action", "CreateKey"),
            ("Format", "json"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2016-03-28T03:13:08Z"),
            ("Version", "2016-01-20"),
        ];
        let sts = string_to_sign("GET", params);
        assert_eq!(sign("testsecret", &sts), "41wk2SSX1GJh7fwnc5eqOfiJPFg=");
        assert!(verify(
            &key("testsecret"),
            &sts,
            "41wk2SSX1GJh7fwnc5eqOfiJPFg="
        ));
    }

    /// SPEC.md §5, second V1 vector: a space and a slash in a value, POST.
    #[test]
    fn spec_vector_post_get_secret_value() {
        let params = [
            ("VersionStage", "ACSCurrent"),
            ("AccessKeyId", "testid"),
            ("Action", "GetSecretValue"),
            ("Format", "json"),
            ("SecretName", "my secret/1"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "0123456789abcdef0123456789abcdef"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2024-01-01T00:00:00Z"),
            ("Version", "2016-01-20"),
        ];
        let sts = string_to_sign("POST", params);
        assert!(sts.contains("SecretName%3Dmy%2520secret%252F1"), "{sts}");
        assert_eq!(sign("testsecret", &sts), "2KvKrL+wv48KGDkN3eQzDcGm3lM=");
    }

    #[test]
    fn the_signature_parameter_is_not_signed() {
        let without = string_to_sign("GET", [("A", "1")]);
        let with = string_to_sign("GET", [("A", "1"), ("Signature", "x")]);
        assert_eq!(without, with);
    }

    #[test]
    fn a_wrong_or_malformed_signature_does_not_verify() {
        let sts = string_to_sign("GET", [("A", "1")]);
        let good = sign("s", &sts);
        assert!(verify(&key("s"), &sts, &good));
        assert!(!verify(&key("other"), &sts, &good));
        assert!(!verify(&key("s"), &sts, "not base64!"));
    }
}
