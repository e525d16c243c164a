//! Entry points for the fuzz targets in `fuzz/` (not a stable API): the request parsers that
//! are otherwise private to the crate.

/// Decodes a query string or form body as the server does; `None` where it would reject it.
pub fn decode_form(input: &[u8]) -> Option<Vec<(String, String)>> {
    crate::form::decode(input).ok()
}

/// Splits an `Authorization` header as the server does: (algorithm, access key id, signed
/// headers, signature), or `None` where it would reject it.
pub fn parse_authorization(header: &str) -> Option<(String, String, String, String)> {
    crate::signature::v3::parse_authorization(header).map(|a| {
        (
            a.algorithm.to_owned(),
            a.access_key_id.to_owned(),
            a.signed_headers.to_owned(),
            a.signature.to_owned(),
        )
    })
}
