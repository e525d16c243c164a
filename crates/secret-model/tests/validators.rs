//! Property tests: each validator accepts exactly its documented alphabet and lengths, and
//! rejects everything else with an error naming the parameter.

use proptest::prelude::*;
use secret_model::{
    Description, SecretName, StageLabel, Tag, VersionId, is_secret_name_char, is_stage_label_char,
    is_tag_char, is_version_id_char, limits,
};

/// Strings drawn from a mix of allowed and disallowed characters (ASCII, control, Unicode).
fn any_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => proptest::char::range(' ', '~'),
            1 => proptest::char::range('\0', '\x1f'),
            1 => any::<char>(),
        ],
        0..=max,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn expected(s: &str, max: usize, allowed: fn(char) -> bool) -> bool {
    let n = s.chars().count();
    (1..=max).contains(&n) && s.chars().all(allowed)
}

// The documented alphabets, written out independently of the crate's predicates.
fn doc_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '+' | '=' | '.' | '@' | '-')
}
fn doc_version_char(c: char) -> bool {
    ('!'..='~').contains(&c)
}
fn doc_label_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}
fn doc_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            '/' | '\\' | '_' | '.' | '+' | '=' | ':' | '@' | ' ' | '-'
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn secret_name_accepts_exactly_the_documented_names(s in any_text(200)) {
        let ok = expected(&s, limits::SECRET_NAME_MAX, doc_name_char) && !s.starts_with("acs/");
        match SecretName::parse(&s) {
            Ok(n) => { prop_assert!(ok, "accepted {s:?}"); prop_assert_eq!(n.as_str(), s.as_str()); }
            Err(e) => { prop_assert!(!ok, "rejected {s:?}: {e}"); prop_assert_eq!(e.parameter(), "SecretName"); }
        }
    }

    #[test]
    fn secret_name_accepts_every_valid_name(s in "[A-Za-z0-9_/+=.@-]{1,192}") {
        prop_assume!(!s.starts_with("acs/"));
        prop_assert!(SecretName::parse(&s).is_ok());
    }

    #[test]
    fn version_id_accepts_exactly_printable_ascii(s in any_text(70)) {
        let ok = expected(&s, limits::VERSION_ID_MAX, doc_version_char);
        match VersionId::parse(&s) {
            Ok(_) => prop_assert!(ok, "accepted {s:?}"),
            Err(e) => { prop_assert!(!ok, "rejected {s:?}: {e}"); prop_assert_eq!(e.parameter(), "VersionId"); }
        }
    }

    #[test]
    fn stage_label_accepts_exactly_the_documented_labels(s in any_text(70)) {
        let ok = expected(&s, limits::STAGE_LABEL_MAX, doc_label_char);
        match StageLabel::parse(&s) {
            Ok(_) => prop_assert!(ok, "accepted {s:?}"),
            Err(e) => { prop_assert!(!ok, "rejected {s:?}: {e}"); prop_assert_eq!(e.parameter(), "VersionStage"); }
        }
    }

    #[test]
    fn tags_accept_exactly_the_documented_alphabet(k in any_text(130), v in any_text(130)) {
        let key_ok = expected(&k, limits::TAG_PART_MAX, doc_tag_char)
            && !k.starts_with("aliyun") && !k.starts_with("acs:");
        let value_ok = expected(&v, limits::TAG_PART_MAX, doc_tag_char);
        match Tag::new(&k, &v) {
            Ok(_) => prop_assert!(key_ok && value_ok),
            Err(e) if !key_ok => prop_assert_eq!(e.parameter(), "TagKey"),
            Err(e) => { prop_assert!(!value_ok); prop_assert_eq!(e.parameter(), "TagValue"); }
        }
    }

    #[test]
    fn description_accepts_up_to_1024_characters(s in any_text(1100)) {
        let ok = s.chars().count() <= limits::DESCRIPTION_MAX;
        prop_assert_eq!(Description::parse(&s).is_ok(), ok);
    }

    #[test]
    fn crate_predicates_match_the_documented_alphabets(c in any::<char>()) {
        prop_assert_eq!(is_secret_name_char(c), doc_name_char(c));
        prop_assert_eq!(is_version_id_char(c), doc_version_char(c));
        prop_assert_eq!(is_stage_label_char(c), doc_label_char(c));
        prop_assert_eq!(is_tag_char(c), doc_tag_char(c));
    }
}

/// The refusal of a character names it escaped once: a tab as `"\t"`, `é` as `"\u{e9}"`, a
/// quote as `"\""` — not escaped twice (`"\\t"`), with a backslash the caller never typed.
#[test]
fn a_refused_character_is_escaped_once_in_the_message() {
    for (name, shown) in [
        ("a\tb", r#""\t""#),
        ("é", r#""\u{e9}""#),
        ("a\"b", r#""\"""#),
    ] {
        let message = SecretName::parse(name).unwrap_err().message();
        assert!(
            message.contains(&format!("character {shown} at position")),
            "{name:?}: {message}"
        );
    }
}
