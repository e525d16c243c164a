//! How the fuzz input becomes operations: each choice takes at most one byte of the input; values
//! come from the small alphabets of `transitions.rs`, biased towards the versions and labels
//! the model holds, with a fraction of invalid parameters.

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use secret_model::SecretDataType;
use secrets_manager::GetRandomPasswordRequest;

use crate::model::Model;
use crate::transitions::{
    CreateArgs, DESCRIPTIONS, Data, EDGE_DATA, FilterArg, LABELS, NAMES, PutArgs, SMALL_TAG_KEYS,
    TAG_VALUES, TEXTS, Transition, UNKNOWN_KEY, VERSION_IDS, arn, big_tag_keys, invalid_labels,
    invalid_names, invalid_tag_keys, invalid_tag_values, invalid_version_ids, long_descriptions,
};

/// An index in `0..weights.len()`, each drawn in proportion to its weight.
fn weighted(u: &mut Unstructured<'_>, weights: &[u32]) -> Result<usize> {
    let total: u32 = weights.iter().sum();
    let mut x = u.int_in_range(0..=total - 1)?;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return Ok(i);
        }
        x -= w;
    }
    unreachable!("x < total")
}

fn pick<T: Clone>(u: &mut Unstructured<'_>, items: &[T]) -> Result<T> {
    u.choose(items).cloned()
}

fn pick_str(u: &mut Unstructured<'_>, items: &[&str]) -> Result<String> {
    Ok(pick(u, items)?.to_owned())
}

/// Between `min` and `max` distinct items of `pool`, in a drawn order.
fn distinct(
    u: &mut Unstructured<'_>,
    mut pool: Vec<String>,
    min: usize,
    max: usize,
) -> Result<Vec<String>> {
    let n = u.int_in_range(min..=max.min(pool.len()))?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let i = u.choose_index(pool.len())?;
        out.push(pool.swap_remove(i));
    }
    Ok(out)
}

fn owned(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn name(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match weighted(u, &[14, 1, 1])? {
        0 => pick_str(u, &NAMES)?,
        1 => arn(&pick_str(u, &NAMES)?),
        _ => pick(u, &invalid_names())?,
    })
}

/// A version id: one `name` holds (when it holds any), any of the alphabet, or an invalid one.
fn version_id(u: &mut Unstructured<'_>, model: &Model, name: &str) -> Result<String> {
    let held = model.version_ids(name);
    Ok(
        match weighted(u, &[if held.is_empty() { 0 } else { 8 }, 8, 1])? {
            0 => pick(u, &held)?,
            1 => pick_str(u, &VERSION_IDS)?,
            _ => pick(u, &invalid_version_ids())?,
        },
    )
}

fn optional_version_id(
    u: &mut Unstructured<'_>,
    model: &Model,
    name: &str,
) -> Result<Option<String>> {
    Ok(match weighted(u, &[2, 8, 1])? {
        0 => None,
        1 => Some(version_id(u, model, name)?),
        _ => Some(String::new()),
    })
}

fn label(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match weighted(u, &[20, 1])? {
        0 => pick_str(u, &LABELS)?,
        _ => pick(u, &invalid_labels())?,
    })
}

/// A value with a type that usually fits it (binary bytes as `binary`).
fn typed_data(u: &mut Unstructured<'_>) -> Result<(Data, Option<SecretDataType>)> {
    let data = match weighted(u, &[12, 3, 1])? {
        0 => pick(u, &TEXTS)?,
        1 => Data::Binary,
        _ => pick(u, &EDGE_DATA)?,
    };
    let data_type = match weighted(u, &[6, 2, 3])? {
        0 => None,
        1 => Some(SecretDataType::Text),
        _ => Some(SecretDataType::Binary),
    };
    if data == Data::Binary && data_type.is_none() && !u.ratio(1, 8)? {
        return Ok((data, Some(SecretDataType::Binary)));
    }
    Ok((data, data_type))
}

fn description(u: &mut Unstructured<'_>) -> Result<Option<String>> {
    Ok(match weighted(u, &[4, 1, 4, 1])? {
        0 => None,
        1 => Some(String::new()),
        2 => Some(pick_str(u, &DESCRIPTIONS)?),
        _ => Some(pick(u, &long_descriptions())?),
    })
}

fn with_values(u: &mut Unstructured<'_>, keys: Vec<String>) -> Result<Vec<(String, String)>> {
    keys.into_iter()
        .map(|k| Ok((k, pick_str(u, &TAG_VALUES)?)))
        .collect()
}

/// A `Tags` parameter: a few tags, many (two of these overflow 20), or an invalid one.
fn tags(u: &mut Unstructured<'_>) -> Result<Vec<(String, String)>> {
    let tag = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    match weighted(u, &[8, 3, 1, 2])? {
        0 => {
            let mut pool = owned(&SMALL_TAG_KEYS);
            pool.extend(big_tag_keys().into_iter().take(3));
            let keys = distinct(u, pool, 1, 3)?;
            with_values(u, keys)
        }
        1 => {
            let keys = distinct(u, big_tag_keys(), 8, 20)?;
            with_values(u, keys)
        }
        2 => Ok(Vec::new()),
        _ => Ok(match u.int_in_range(0..=3)? {
            0 => (1..=21)
                .map(|i| (format!("k{i}"), "v".to_owned()))
                .collect(),
            1 => vec![tag("env", "a"), tag("env", "b")],
            2 => vec![
                tag("env", "prod"),
                (pick(u, &invalid_tag_keys())?, "v".into()),
            ],
            _ => vec![("env".into(), pick(u, &invalid_tag_values())?)],
        }),
    }
}

/// A `TagKeys` list: a few keys, sometimes none or an invalid one.
fn tag_keys(u: &mut Unstructured<'_>) -> Result<Vec<String>> {
    Ok(match weighted(u, &[8, 1, 1])? {
        0 => {
            let mut pool = owned(&SMALL_TAG_KEYS);
            pool.extend(big_tag_keys().into_iter().take(12));
            distinct(u, pool, 1, 4)?
        }
        1 => Vec::new(),
        _ => owned(&["env", "bad#key"]),
    })
}

fn resource_type(u: &mut Unstructured<'_>) -> Result<String> {
    Ok(match weighted(u, &[12, 2, 1])? {
        0 => "secret".to_owned(),
        1 => pick_str(u, &["SECRET", "Secret"])?,
        _ => pick_str(u, &["", "key"])?,
    })
}

/// `ResourceId.N`: a few names (repeats count once), none, or more than 50.
fn resource_ids(u: &mut Unstructured<'_>) -> Result<Vec<String>> {
    Ok(match weighted(u, &[14, 1, 1])? {
        0 => {
            let n = u.int_in_range(1..=3)?;
            (0..n).map(|_| name(u)).collect::<Result<_>>()?
        }
        1 => Vec::new(),
        _ => vec!["db".to_owned(); 51],
    })
}

fn page_number(u: &mut Unstructured<'_>) -> Result<Option<u32>> {
    Ok(match weighted(u, &[5, 5, 1])? {
        0 => None,
        1 => Some(u.int_in_range(1..=3)?),
        _ => Some(0),
    })
}

fn page_size(u: &mut Unstructured<'_>) -> Result<Option<u32>> {
    Ok(match weighted(u, &[5, 5, 1])? {
        0 => None,
        1 => Some(pick(u, &[1, 2, 3, 100])?),
        _ => Some(pick(u, &[0, 101])?),
    })
}

/// ListSecrets `Filters`: the five keys the model knows, each with values that match some
/// names, descriptions or tags; too many filters or values; malformed JSON or an unknown key.
fn filters(u: &mut Unstructured<'_>) -> Result<FilterArg> {
    const VALUES: [(&str, &[&str], usize); 5] = [
        (
            "SecretName",
            &["d", "db", "app", "Zeta", "key", "1", "nomatch"],
            3,
        ),
        ("Description", &["primary", "db", "replica"], 2),
        ("TagKey", &["env", "t01", "team"], 2),
        ("TagValue", &["prod", "dev", "a b"], 2),
        ("SecretType", &["Generic", "Other"], 1),
    ];
    Ok(match weighted(u, &[4, 1, 1, 6, 1])? {
        0 => FilterArg::Absent,
        1 => FilterArg::EmptyString,
        2 => FilterArg::Json(Vec::new()),
        3 => {
            let n = u.int_in_range(1..=3)?;
            let mut filters = Vec::with_capacity(n);
            for _ in 0..n {
                let (key, values, max) = pick(u, &VALUES)?;
                filters.push((key.to_owned(), distinct(u, owned(values), 1, max)?));
            }
            FilterArg::Json(filters)
        }
        _ => match u.int_in_range(0..=4)? {
            0 => FilterArg::Json(vec![("SecretName".into(), vec!["d".into()]); 11]),
            1 => FilterArg::Json(vec![(
                "SecretName".into(),
                (0..11).map(|i| format!("n{i}")).collect(),
            )]),
            i => FilterArg::Bad(
                [
                    "not json",
                    "{\"Key\":\"SecretName\"}",
                    "[{\"Key\":\"Colour\",\"Values\":[\"red\"]}]",
                ][i - 2]
                    .to_owned(),
            ),
        },
    })
}

fn password(u: &mut Unstructured<'_>) -> Result<GetRandomPasswordRequest> {
    let length = match weighted(u, &[3, 4, 1])? {
        0 => None,
        1 => Some(pick(u, &[8, 9, 32, 128])?),
        _ => Some(pick(u, &[0, 7, 129])?),
    };
    let exclude = match weighted(u, &[3, 1, 3, 1])? {
        0 => None,
        1 => Some(String::new()),
        2 => Some(pick_str(u, &["abc", "0O1lI", "!\"#$%&", "xyz{}"])?),
        // With the other types excluded too, nothing is left to choose from.
        _ => Some(('a'..='z').collect()),
    };
    Ok(GetRandomPasswordRequest {
        password_length: length,
        exclude_characters: exclude,
        exclude_lowercase: u.ratio(1, 5)?,
        exclude_uppercase: u.ratio(1, 4)?,
        exclude_numbers: u.ratio(1, 4)?,
        exclude_punctuation: u.ratio(1, 4)?,
        require_each_included_type: pick(u, &[None, Some(true), Some(false)])?,
    })
}

fn create(u: &mut Unstructured<'_>, model: &Model) -> Result<CreateArgs> {
    let name = name(u)?;
    let version_id = version_id(u, model, &name)?;
    let (data, data_type) = typed_data(u)?;
    let key = match weighted(u, &[12, 1, 1])? {
        0 => None,
        1 => Some(String::new()),
        _ => Some(UNKNOWN_KEY.to_owned()),
    };
    let description = description(u)?;
    let tags = if u.ratio(1, 4)? { tags(u)? } else { Vec::new() };
    Ok(CreateArgs {
        name,
        version_id,
        data,
        data_type,
        key,
        description,
        tags,
    })
}

/// `VersionStages`: absent, empty, a few labels (sometimes with repeats), or one invalid among
/// them.
fn stages(u: &mut Unstructured<'_>) -> Result<Option<Vec<String>>> {
    Ok(match weighted(u, &[6, 1, 5, 1, 1])? {
        0 => None,
        1 => Some(Vec::new()),
        2 => Some(distinct(u, owned(&LABELS), 1, 4)?),
        3 => {
            let n = u.int_in_range(2..=4)?;
            Some(
                (0..n)
                    .map(|_| pick_str(u, &LABELS))
                    .collect::<Result<_>>()?,
            )
        }
        _ => Some(vec!["blue".to_owned(), label(u)?]),
    })
}

fn put(u: &mut Unstructured<'_>, model: &Model, name: String) -> Result<PutArgs> {
    let version_id = version_id(u, model, &name)?;
    let (data, data_type) = typed_data(u)?;
    Ok(PutArgs {
        name,
        version_id,
        data,
        data_type,
        stages: stages(u)?,
    })
}

/// Puts into one secret with version ids it does not hold yet, so that the version cap and
/// eviction are reached within a short input.
fn burst(u: &mut Unstructured<'_>, model: &Model) -> Result<Vec<PutArgs>> {
    let name = pick_str(u, &NAMES)?;
    let held = model.version_ids(&name);
    let mut fresh: Vec<String> = owned(&VERSION_IDS);
    fresh.retain(|v| !held.contains(v));
    if fresh.is_empty() {
        fresh = owned(&VERSION_IDS);
    }
    let ids = distinct(u, fresh, 2, 6)?;
    ids.into_iter()
        .map(|version_id| {
            let (data, data_type) = typed_data(u)?;
            let stages = if u.ratio(1, 4)? { stages(u)? } else { None };
            Ok(PutArgs {
                name: name.clone(),
                version_id,
                data,
                data_type,
                stages,
            })
        })
        .collect()
}

/// UpdateSecretVersionStage in its three shapes (add, remove, move) and with neither version;
/// often a label taken from the version holding it, or a label the secret does not carry yet
/// added (each one a step towards the cap).
fn update_stage(u: &mut Unstructured<'_>, model: &Model) -> Result<Transition> {
    let name = name(u)?;
    let held: Vec<(String, String)> = model
        .secrets
        .get(&name)
        .map(|s| {
            s.versions
                .iter()
                .flat_map(|v| v.labels.iter().map(|l| (l.clone(), v.id.clone())))
                .collect()
        })
        .unwrap_or_default();
    let shape = weighted(u, &[4, if held.is_empty() { 0 } else { 5 }, 2])?;
    let (stage, remove_from, move_to) = match shape {
        0 => {
            let stage = label(u)?;
            let (from, to) = match weighted(u, &[4, 3, 6, 1, 1])? {
                0 => (None, Some(version_id(u, model, &name)?)),
                1 => (Some(version_id(u, model, &name)?), None),
                2 => (
                    Some(version_id(u, model, &name)?),
                    Some(version_id(u, model, &name)?),
                ),
                3 => (
                    optional_version_id(u, model, &name)?,
                    optional_version_id(u, model, &name)?,
                ),
                _ => pick(
                    u,
                    &[
                        (None, None),
                        (Some(String::new()), None),
                        (None, Some(String::new())),
                    ],
                )?,
            };
            (stage, from, to)
        }
        1 => {
            let (stage, holder) = pick(u, &held)?;
            let to = if u.ratio(4, 5)? {
                Some(version_id(u, model, &name)?)
            } else {
                None
            };
            (stage, Some(holder), to)
        }
        _ => {
            let mut fresh = owned(&LABELS[2..]);
            fresh.retain(|l| !held.iter().any(|(h, _)| h == l));
            let stage = if fresh.is_empty() {
                pick_str(u, &LABELS[2..])?
            } else {
                pick(u, &fresh)?
            };
            (stage, None, Some(version_id(u, model, &name)?))
        }
    };
    Ok(Transition::UpdateStage {
        name,
        stage,
        remove_from,
        move_to,
    })
}

/// One step, weighted towards the operations that change versions and labels; an empty store
/// mostly gets secrets created.
pub(crate) fn transition(u: &mut Unstructured<'_>, model: &Model) -> Result<Transition> {
    let create_weight = if model.secrets.is_empty() { 40 } else { 5 };
    let weights = [
        create_weight,
        5,
        12,
        3,
        10,
        3,
        3,
        2,
        3,
        2,
        3,
        3,
        2,
        2,
        2,
        2,
        1,
        3,
        1,
        1,
    ];
    Ok(match weighted(u, &weights)? {
        0 => Transition::Create(create(u, model)?),
        1 => {
            let name = name(u)?;
            let version_id = optional_version_id(u, model, &name)?;
            let stage = if u.ratio(1, 3)? {
                Some(label(u)?)
            } else {
                None
            };
            Transition::Get {
                name,
                version_id,
                stage,
            }
        }
        2 => {
            let name = name(u)?;
            Transition::Put(put(u, model, name)?)
        }
        3 => Transition::PutBurst(burst(u, model)?),
        4 => update_stage(u, model)?,
        5 => Transition::ListVersions {
            name: name(u)?,
            include_deprecated: u.arbitrary()?,
            page_number: page_number(u)?,
            page_size: page_size(u)?,
        },
        6 => Transition::Describe {
            name: name(u)?,
            fetch_tags: u.arbitrary()?,
        },
        7 => Transition::Update {
            name: name(u)?,
            description: description(u)?,
        },
        8 => Transition::Delete {
            name: name(u)?,
            window: match weighted(u, &[4, 4, 1])? {
                0 => None,
                1 => Some(pick(u, &[7, 8, 30])?),
                _ => Some(pick(u, &[0, 3, 6, 31])?),
            },
            force: u.ratio(3, 10)?,
        },
        9 => Transition::Restore { name: name(u)? },
        10 => Transition::ListSecrets {
            page_number: page_number(u)?,
            page_size: page_size(u)?,
            fetch_tags: u.arbitrary()?,
            filters: filters(u)?,
        },
        11 => Transition::Tag {
            name: name(u)?,
            tags: tags(u)?,
        },
        12 => Transition::Untag {
            name: name(u)?,
            keys: tag_keys(u)?,
        },
        13 => Transition::TagMany {
            resource_type: resource_type(u)?,
            ids: resource_ids(u)?,
            tags: tags(u)?,
        },
        14 => {
            let resource_type = resource_type(u)?;
            let ids = resource_ids(u)?;
            let all = u.ratio(1, 5)?;
            // `All` with keys as well is a request the SDKs can send; sometimes keep both.
            let keys = if all && u.ratio(2, 3)? {
                Vec::new()
            } else {
                tag_keys(u)?
            };
            Transition::UntagMany {
                resource_type,
                ids,
                keys,
                all,
            }
        }
        15 => Transition::ListTags {
            resource_type: resource_type(u)?,
            ids: resource_ids(u)?,
            keys: if u.arbitrary()? {
                Vec::new()
            } else {
                tag_keys(u)?
            },
        },
        16 => Transition::Password(password(u)?),
        17 => Transition::Advance(pick(
            u,
            &[
                1,
                59,
                3_600,
                86_400,
                7 * 86_400 - 1,
                7 * 86_400,
                30 * 86_400,
                31 * 86_400,
            ],
        )?),
        18 => Transition::Purge,
        // On `MemoryStorage` nothing is sealed: the rotation must change nothing observable.
        _ => Transition::RotateSealKey,
    })
}
