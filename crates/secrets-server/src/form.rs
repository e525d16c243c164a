//! `application/x-www-form-urlencoded` decoding, for the query string and the body.

use secrets_wire::Params;

use crate::error::Rejection;

/// The most parameters one request may carry (query and body together).
const PARAMS_MAX: usize = 1_000;

/// Decodes `name=value&…` pairs: `+` is a space, `%XX` a byte (a malformed `%` stays as is), a
/// pair without `=` has an empty value, and empty pairs are skipped. Names and values must be
/// UTF-8.
pub(crate) fn decode(input: &[u8]) -> Result<Vec<(String, String)>, Rejection> {
    let mut pairs = Vec::new();
    for part in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        if pairs.len() == PARAMS_MAX {
            return Err(Rejection::invalid("parameters", "there are too many"));
        }
        let (name, value) = match part.iter().position(|&b| b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &part[part.len()..]),
        };
        pairs.push((unescape(name)?, unescape(value)?));
    }
    Ok(pairs)
}

fn unescape(raw: &[u8]) -> Result<String, Rejection> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                // Exactly two hex digits: `from_str_radix` alone would also take `%+A`.
                let hex = raw
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok());
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| Rejection::invalid("parameters", "a name or value is not UTF-8"))
}

/// Merges the query's and the body's parameters; a name given twice is refused, so what was
/// signed and what is used cannot differ.
pub(crate) fn merge(
    query: &[(String, String)],
    body: Vec<(String, String)>,
) -> Result<Params, Rejection> {
    if query.len() + body.len() > PARAMS_MAX {
        return Err(Rejection::invalid("parameters", "there are too many"));
    }
    let mut params = Params::new();
    for (name, value) in query.iter().cloned().chain(body) {
        if params.get(&name).is_some() {
            let shown: String = name
                .chars()
                .take(64)
                .flat_map(char::escape_default)
                .collect();
            return Err(Rejection::invalid(&shown, "it is given more than once"));
        }
        params.insert(name, value);
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn form_decoding_handles_plus_percent_and_bare_names() {
        let got = decode(b"SecretData=hello+world&Name=my%20secret%2F1&Flag&&Bad=%zz%4").unwrap();
        assert_eq!(
            got,
            pairs(&[
                ("SecretData", "hello world"),
                ("Name", "my secret/1"),
                ("Flag", ""),
                ("Bad", "%zz%4")
            ])
        );
        assert_eq!(decode(b"a=%C3%A9").unwrap(), pairs(&[("a", "é")]));
        // Only two hex digits make an escape: a sign is not one.
        assert_eq!(
            decode(b"a=%+A&b=%-1&c=%0a").unwrap(),
            pairs(&[("a", "% A"), ("b", "%-1"), ("c", "\n")])
        );
    }

    #[test]
    fn the_parameter_limit_counts_query_and_body_together() {
        let many = |n: usize, prefix: &str| -> Vec<(String, String)> {
            (0..n)
                .map(|i| (format!("{prefix}{i}"), String::new()))
                .collect()
        };
        assert!(merge(&many(500, "q"), many(500, "b")).is_ok());
        let e = merge(&many(500, "q"), many(501, "b")).unwrap_err();
        assert_eq!(e.code, "InvalidParameter");
    }

    #[test]
    fn non_utf8_parameters_are_refused() {
        assert_eq!(decode(b"a=%FF").unwrap_err().code, "InvalidParameter");
    }

    #[test]
    fn a_parameter_given_twice_is_refused() {
        let query = pairs(&[("SecretName", "a")]);
        let e = merge(&query, pairs(&[("SecretName", "b")])).unwrap_err();
        assert!(e.message.contains("SecretName"), "{}", e.message);
        assert!(merge(&query, pairs(&[("VersionId", "v")])).is_ok());
    }
}
