//! `secret-model`'s documented promises, at the edges the property tests of `validators.rs`
//! do not walk.

use secret_model::{
    Filters, KeyId, PageRequest, SecretArn, SecretDataType, SecretValue, StoreLocation, TagSet,
    Timestamp, Uuid, parse_json_string_list, recovery_window_days,
};

/// `SecretValue::wire_bytes`: binary is "decoded from base64 (surrounding whitespace
/// ignored)"; anything else that is not base64 is `InvalidParameter` naming `SecretData`.
#[test]
fn binary_wire_values_ignore_surrounding_whitespace_only() {
    let v = SecretValue::from_wire(SecretDataType::Binary, " \tAAEC/w==\r\n").unwrap();
    assert_eq!(v.bytes().expose(), &[0, 1, 2, 255]);
    for bad in ["AAEC\n/w==", "AAEC/w", "AAEC/w=", "", "===="] {
        let r = SecretValue::from_wire(SecretDataType::Binary, bad);
        assert_eq!(r.unwrap_err().parameter(), "SecretData", "{bad:?}");
    }
    // Text is taken as is, whitespace included.
    let t = SecretValue::from_wire(SecretDataType::Text, " a ").unwrap();
    assert_eq!(t.bytes().expose(), b" a ");
    assert_eq!(t.to_wire().as_str(), " a ");
}

/// `Timestamp::parse`: `YYYY-MM-DDTHH:MM:SSZ`; "`None` for anything else".
#[test]
fn timestamps_parse_only_the_one_form() {
    assert_eq!(
        Timestamp::parse("2024-02-29T23:59:59Z"),
        Some(Timestamp::from_unix(1_709_251_199))
    );
    for bad in [
        "2023-02-29T00:00:00Z",
        "2024-01-01T24:00:00Z",
        "2024-01-01T00:60:00Z",
        "2024-01-01T00:00:60Z",
        "2024-13-01T00:00:00Z",
        "2024-00-01T00:00:00Z",
        "2024-01-00T00:00:00Z",
        "2024-01-01T00:00:00z",
        "2024-01-01t00:00:00Z",
        "+024-01-01T00:00:00Z",
        "2024-01-01T00:00:00+00:00",
        "2024-1-01T00:00:00Z",
        "２０２４-01-01T00:00:00Z",
    ] {
        assert_eq!(Timestamp::parse(bad), None, "{bad}");
    }
    assert_eq!(
        Timestamp::from_unix(0).plus_days(30).to_string(),
        "1970-01-31T00:00:00Z"
    );
    assert_eq!(
        Timestamp::from_unix(i64::MAX).plus_days(1),
        Timestamp::from_unix(i64::MAX),
        "saturates"
    );
}

/// `Uuid::parse_as`: "the hyphenated form (either case)"; printed in lowercase.
#[test]
fn uuids_parse_either_case_and_print_lowercase() {
    let k = KeyId::parse("1234ABCD-12ab-34CD-56ef-1234567890AB").unwrap();
    assert_eq!(k.to_string(), "1234abcd-12ab-34cd-56ef-1234567890ab");
    for bad in [
        "1234abcd12ab34cd56ef1234567890ab",
        "{1234abcd-12ab-34cd-56ef-1234567890ab}",
        "1234abcd-12ab-34cd-56ef-1234567890a",
        "1234abcd-12ab-34cd-56ef-1234567890abc",
        "1234abcd-12ab-34cd-56ef_1234567890ab",
        "g234abcd-12ab-34cd-56ef-1234567890ab",
        "1234abcd-12ab-34cd-56ef-1234567890é",
    ] {
        assert_eq!(
            KeyId::parse(bad).unwrap_err().parameter(),
            "EncryptionKeyId",
            "{bad}"
        );
    }
    assert_eq!(
        Uuid::parse_as("KeyId", "x").unwrap_err().parameter(),
        "KeyId"
    );
}

/// `StoreLocation::new`: "1–64 characters of `[A-Za-z0-9-]` each", errors naming `RegionId`
/// or `AccountId`; ARNs of this store resolve to the name, of another to `Foreign`.
#[test]
fn store_locations_and_arns_at_their_bounds() {
    let region = "r".repeat(64);
    let here = StoreLocation::new(&region, "1").unwrap();
    assert_eq!(
        StoreLocation::new(&"r".repeat(65), "1")
            .unwrap_err()
            .parameter(),
        "RegionId"
    );
    assert_eq!(
        StoreLocation::new("r", "").unwrap_err().parameter(),
        "AccountId"
    );
    assert_eq!(
        StoreLocation::new("r", "a_b").unwrap_err().parameter(),
        "AccountId"
    );
    let long = "n".repeat(192);
    let arn = format!("acs:kms:{region}:1:secret/{long}");
    let parsed = SecretArn::parse(&arn).unwrap();
    assert_eq!(parsed.name().as_str(), long);
    assert_eq!(parsed.to_string(), arn);
    assert_eq!(
        here.resolve_secret(&arn).unwrap(),
        secret_model::SecretRef::Local(parsed.name().clone())
    );
    for bad in [
        format!("acs:kms:{region}:1:secret/{long}n"),
        format!("acs:kms:{region}:1:secret/acs/x"),
        format!("acs:kms:{region}:1:secret/"),
        format!("acs:kms:{region}:1:secret/a:b"),
        format!("acs:ram:{region}:1:secret/a"),
    ] {
        assert_eq!(
            here.resolve_secret(&bad).unwrap_err().parameter(),
            "SecretName",
            "{bad}"
        );
    }
}

/// JSON parameters are bounded "before [they are] parsed at all" (limits::JSON_PARAMETER_MAX)
/// and errors name the parameter; tags given twice or more than 20 are `Tags`.
#[test]
fn json_parameters_are_bounded_and_name_the_parameter() {
    let big = format!("[{}\"a\"]", "\"a\",".repeat(limits_max() / 4));
    assert!(big.len() > limits_max());
    assert_eq!(
        parse_json_string_list("TagKeys", &big)
            .unwrap_err()
            .parameter(),
        "TagKeys"
    );
    assert_eq!(
        TagSet::from_json(r#"[{"TagKey":"k","TagValue":"v"},{"TagKey":"k","TagValue":"w"}]"#)
            .unwrap_err()
            .parameter(),
        "Tags"
    );
    assert_eq!(
        TagSet::from_json(r#"[{"TagKey":"aliyun","TagValue":"v"}]"#)
            .unwrap_err()
            .parameter(),
        "TagKey"
    );
    assert!(TagSet::from_json("[]").unwrap().is_empty());
    assert_eq!(
        Filters::from_json(r#"[{"Key":"SecretName","Values":["x"]}, 1]"#)
            .unwrap_err()
            .parameter(),
        "Filters"
    );
}

fn limits_max() -> usize {
    secret_model::limits::JSON_PARAMETER_MAX
}

/// `PageRequest::new` and `recovery_window_days` at their bounds.
#[test]
fn paging_and_recovery_window_bounds() {
    assert_eq!(
        PageRequest::for_list_secrets(None, None).unwrap().size(),
        10
    );
    assert_eq!(
        PageRequest::for_list_secrets(None, Some(100))
            .unwrap()
            .size(),
        100
    );
    assert!(PageRequest::for_version_ids(None, Some(101)).is_err());
    let p = PageRequest::new(Some(3), Some(2), 10, 100).unwrap();
    assert_eq!(p.slice(&[1, 2, 3, 4, 5]), &[5]);
    assert_eq!(recovery_window_days(Some(30)).unwrap(), 30);
    assert_eq!(
        recovery_window_days(Some(0)).unwrap_err().parameter(),
        "RecoveryWindowInDays"
    );
}
