//! The server's request parsing and signature canonicalisation: form/query decoding, the
//! `Authorization` header, V3 canonical query and request, V1 string to sign and percent
//! encoding. Nothing may panic; canonical forms must not depend on parameter order; percent
//! encoding must leave only unreserved characters and `%XX`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use secrets_server::fuzzing::{decode_form, parse_authorization};
use secrets_server::signature::{percent_encode, v1, v3};

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = std::str::from_utf8(data) {
        if let Some((algorithm, key, signed, signature)) = parse_authorization(header) {
            // Every part the parser accepts is a piece of the header, never made up.
            for part in [&algorithm, &key, &signed, &signature] {
                assert!(header.contains(part.as_str()), "{part:?} not in the header");
            }
        }
    }

    let Some(pairs) = decode_form(data) else {
        return;
    };
    let forward: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut backward = forward.clone();
    backward.reverse();

    let query = v3::canonical_query(forward.iter().copied());
    assert_eq!(
        query,
        v3::canonical_query(backward.iter().copied()),
        "order-dependent query"
    );
    let sts = v1::string_to_sign("POST", forward.iter().copied());
    assert_eq!(
        sts,
        v1::string_to_sign("POST", backward.iter().copied()),
        "order-dependent V1"
    );
    assert!(sts.starts_with("POST&%2F&"));

    for (k, v) in &forward {
        for s in [k, v] {
            let enc = percent_encode(s);
            let mut bytes = enc.bytes();
            while let Some(b) = bytes.next() {
                if b == b'%' {
                    let hex: Vec<u8> = bytes.by_ref().take(2).collect();
                    assert!(
                        hex.len() == 2 && hex.iter().all(u8::is_ascii_hexdigit),
                        "{enc}"
                    );
                } else {
                    assert!(b.is_ascii_alphanumeric() || b"-_.~".contains(&b), "{enc}");
                }
            }
        }
    }

    let headers: Vec<(&str, &str)> = forward.iter().take(8).copied().collect();
    let mut reversed = headers.clone();
    reversed.reverse();
    let body = v3::hex_sha256(data);
    let one = v3::canonical_request("POST", &query, headers.iter().copied(), &body);
    let two = v3::canonical_request("POST", &query, reversed.iter().copied(), &body);
    if headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .collect::<std::collections::HashSet<_>>()
        .len()
        == headers.len()
    {
        assert_eq!(one, two, "order-dependent canonical request");
    }
});
