//! Hostile input through the wire layer: oversize values, huge names, deeply nested or huge
//! JSON parameters, floods of flattened entries. Each is a clear `InvalidParameter` (or
//! `MissingParameter`) with a short message that names the parameter, and nothing is stored.

use secrets_wire::{CallError, Params, call};

fn store() -> secrets_manager::SecretsManager {
    secrets_manager::testing::memory_store()
}

fn params(pairs: &[(&str, String)]) -> Params {
    pairs.iter().map(|(k, v)| (*k, v.clone())).collect()
}

fn rejected(result: Result<serde_json::Value, CallError>, parameter: &str) {
    let e = result.expect_err("hostile input must be rejected");
    assert!(
        matches!(
            e.code(),
            "InvalidParameter" | "MissingParameter" | "Rejected.LimitExceeded"
        ),
        "{}: {}",
        e.code(),
        e.message()
    );
    assert_eq!(e.http_status(), 400);
    let message = e.message();
    assert!(
        message.contains(parameter),
        "message does not name {parameter}: {message}"
    );
    assert!(
        message.len() < 512,
        "message is not bounded: {} bytes",
        message.len()
    );
}

fn nothing_stored(store: &secrets_manager::SecretsManager) {
    let listed = call(store, "ListSecrets", &Params::new()).unwrap();
    assert_eq!(listed["TotalCount"], 0);
}

#[test]
fn a_ten_thousand_character_name_is_rejected_briefly() {
    let s = store();
    let p = params(&[
        ("SecretName", "n".repeat(10_000)),
        ("VersionId", "v1".into()),
        ("SecretData", "x".into()),
    ]);
    rejected(call(&s, "CreateSecret", &p), "SecretName");
    let arn = format!("acs:kms:cn-hangzhou:1:secret/{}", "n".repeat(10_000));
    rejected(
        call(&s, "GetSecretValue", &params(&[("SecretName", arn)])),
        "SecretName",
    );
    nothing_stored(&s);
}

#[test]
fn oversize_values_are_rejected_in_both_encodings() {
    let s = store();
    let big = "x".repeat(10 * 1024 * 1024);
    let p = params(&[
        ("SecretName", "db".into()),
        ("VersionId", "v1".into()),
        ("SecretData", big.clone()),
    ]);
    rejected(call(&s, "CreateSecret", &p), "SecretData");
    let p = params(&[
        ("SecretName", "db".into()),
        ("VersionId", "v1".into()),
        ("SecretDataType", "binary".into()),
        ("SecretData", "QUFB".repeat(20_000)),
    ]);
    rejected(call(&s, "CreateSecret", &p), "SecretData");
    nothing_stored(&s);
}

#[test]
fn deeply_nested_json_parameters_are_rejected_without_overflowing_the_stack() {
    let s = store();
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let base = [
        ("SecretName", "db".to_owned()),
        ("VersionId", "v1".into()),
        ("SecretData", "x".into()),
    ];
    let mut p = params(&base);
    p.insert("Tags", deep.clone());
    rejected(call(&s, "CreateSecret", &p), "Tags");
    rejected(
        call(&s, "ListSecrets", &params(&[("Filters", deep.clone())])),
        "Filters",
    );
    let nested_object = format!("{}{}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
    rejected(
        call(&s, "ListSecrets", &params(&[("Filters", nested_object)])),
        "Filters",
    );
    call(&s, "CreateSecret", &params(&base)).unwrap();
    let mut put = params(&[
        ("SecretName", "db".into()),
        ("VersionId", "v2".into()),
        ("SecretData", "y".into()),
    ]);
    put.insert("VersionStages", deep);
    rejected(call(&s, "PutSecretValue", &put), "VersionStages");
}

#[test]
fn huge_json_parameters_are_rejected_before_parsing() {
    let s = store();
    let one_tag = r#"{"TagKey":"k","TagValue":"v"},"#;
    let huge = format!(
        "[{}{{\"TagKey\":\"k\",\"TagValue\":\"v\"}}]",
        one_tag.repeat(200_000)
    );
    let p = params(&[
        ("SecretName", "db".into()),
        ("VersionId", "v1".into()),
        ("SecretData", "x".into()),
        ("Tags", huge),
    ]);
    rejected(call(&s, "CreateSecret", &p), "Tags");
    let huge_filter = format!(
        r#"[{{"Key":"SecretName","Values":["{}"]}}]"#,
        "v".repeat(1 << 20)
    );
    rejected(
        call(&s, "ListSecrets", &params(&[("Filters", huge_filter)])),
        "Filters",
    );
    nothing_stored(&s);
}

#[test]
fn floods_of_flattened_entries_are_rejected() {
    let s = store();
    let mut p = params(&[("ResourceType", "secret".into())]);
    for i in 1..=1000 {
        p.insert(format!("ResourceId.{i}"), "db");
    }
    rejected(call(&s, "ListTagResources", &p), "ResourceId");
    let mut p = params(&[
        ("ResourceType", "secret".into()),
        ("ResourceId.1", "db".into()),
    ]);
    p.insert("Tag.999999999999.Key", "k");
    rejected(call(&s, "TagResources", &p), "Tag");
}

#[test]
fn an_unknown_action_is_named_briefly() {
    let e = call(&store(), &"X".repeat(1 << 20), &Params::new()).unwrap_err();
    assert_eq!(e.code(), "InvalidApi.NotFound");
    assert!(e.message().len() < 512);
}
