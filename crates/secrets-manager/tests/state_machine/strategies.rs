//! How transitions are drawn: small alphabets of names, version ids, labels and tag keys so
//! that collisions (retries, label moves, limits) are frequent, a bias towards the secrets and
//! versions the model holds, and a fraction of invalid inputs.

use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use secret_model::SecretDataType;
use secrets_manager::GetRandomPasswordRequest;

use crate::model::Model;
use crate::transitions::{
    CreateArgs, DESCRIPTIONS, Data, EDGE_DATA, FilterArg, LABELS, NAMES, PutArgs, SMALL_TAG_KEYS,
    TAG_VALUES, TEXTS, Transition, UNKNOWN_KEY, VERSION_IDS, arn, big_tag_keys, invalid_labels,
    invalid_names, invalid_tag_keys, invalid_tag_values, invalid_version_ids, long_descriptions,
};

/// What the model holds now, so draws can favour names and versions that exist.
#[derive(Clone)]
struct Pools {
    names: Vec<String>,
    version_ids: Vec<String>,
    /// Every (secret, label, version holding it).
    held_labels: Vec<(String, String, String)>,
}

impl Pools {
    fn of(model: &Model) -> Self {
        let names: Vec<String> = model.secrets.keys().cloned().collect();
        let mut version_ids: Vec<String> = model
            .secrets
            .values()
            .flat_map(|s| s.versions.iter().map(|v| v.id.clone()))
            .collect();
        version_ids.sort();
        version_ids.dedup();
        let held_labels = model
            .secrets
            .iter()
            .flat_map(|(n, s)| {
                s.versions.iter().flat_map(move |v| {
                    v.labels
                        .iter()
                        .map(move |l| (n.clone(), l.clone(), v.id.clone()))
                })
            })
            .collect();
        Pools {
            names,
            version_ids,
            held_labels,
        }
    }

    fn name(&self) -> BoxedStrategy<String> {
        if self.names.is_empty() {
            any_name()
        } else {
            prop_oneof![3 => select(self.names.clone()), 1 => any_name()].boxed()
        }
    }

    /// A version id the store holds (most often), any of the alphabet, or an invalid one.
    fn held_version_id(&self) -> BoxedStrategy<String> {
        if self.version_ids.is_empty() {
            version_id()
        } else {
            prop_oneof![3 => select(self.version_ids.clone()), 1 => version_id()].boxed()
        }
    }

    fn optional_version_id(&self) -> BoxedStrategy<Option<String>> {
        prop_oneof![
            2 => Just(None),
            8 => self.held_version_id().prop_map(Some),
            1 => Just(Some(String::new())),
        ]
        .boxed()
    }
}

fn any_name() -> BoxedStrategy<String> {
    prop_oneof![
        10 => Just("db".to_owned()),
        4 => Just("app/key".to_owned()),
        2 => Just("Zeta.1".to_owned()),
        1 => Just(arn("db")),
        1 => select(invalid_names()),
    ]
    .boxed()
}

fn version_id() -> BoxedStrategy<String> {
    prop_oneof![
        20 => select(&VERSION_IDS[..]).prop_map(str::to_owned),
        1 => select(invalid_version_ids()),
    ]
    .boxed()
}

fn label() -> BoxedStrategy<String> {
    prop_oneof![
        20 => select(&LABELS[..]).prop_map(str::to_owned),
        1 => select(invalid_labels()),
    ]
    .boxed()
}

fn data() -> BoxedStrategy<Data> {
    prop_oneof![
        12 => select(&TEXTS[..]),
        3 => Just(Data::Binary),
        1 => select(&EDGE_DATA[..]),
    ]
    .boxed()
}

fn data_type() -> BoxedStrategy<Option<SecretDataType>> {
    prop_oneof![
        6 => Just(None),
        2 => Just(Some(SecretDataType::Text)),
        3 => Just(Some(SecretDataType::Binary)),
    ]
    .boxed()
}

/// A value with a type that usually fits it (binary bytes as `binary`).
fn typed_data() -> BoxedStrategy<(Data, Option<SecretDataType>)> {
    prop_oneof![
        8 => (data(), data_type()).prop_map(|(d, t)| match (d, t) {
            (Data::Binary, None) => (d, Some(SecretDataType::Binary)),
            other => other,
        }),
        1 => (data(), data_type()),
    ]
    .boxed()
}

fn description() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        4 => Just(None),
        1 => Just(Some(String::new())),
        4 => select(&DESCRIPTIONS[..]).prop_map(|d| Some(d.to_owned())),
        1 => select(long_descriptions()).prop_map(Some),
    ]
    .boxed()
}

fn with_values(keys: Vec<String>) -> BoxedStrategy<Vec<(String, String)>> {
    let n = keys.len();
    proptest::collection::vec(select(&TAG_VALUES[..]), n)
        .prop_map(move |values| {
            keys.iter()
                .cloned()
                .zip(values.into_iter().map(str::to_owned))
                .collect()
        })
        .boxed()
}

/// A `Tags` parameter: a few tags, many (two of these overflow 20), or an invalid one.
fn tags() -> BoxedStrategy<Vec<(String, String)>> {
    let mut small: Vec<String> = SMALL_TAG_KEYS.iter().map(|k| (*k).to_owned()).collect();
    small.extend(big_tag_keys().into_iter().take(3));
    prop_oneof![
        8 => subsequence(small, 1..=3).prop_shuffle().prop_flat_map(with_values),
        3 => subsequence(big_tag_keys(), 8..=20).prop_flat_map(with_values),
        1 => Just(Vec::new()),
        2 => prop_oneof![
            Just((1..=21).map(|i| (format!("k{i}"), "v".to_owned())).collect::<Vec<_>>()),
            Just(vec![("env".to_owned(), "a".to_owned()), ("env".to_owned(), "b".to_owned())]),
            select(invalid_tag_keys())
                .prop_map(|k| vec![("env".to_owned(), "prod".to_owned()), (k, "v".to_owned())]),
            select(invalid_tag_values()).prop_map(|v| vec![("env".to_owned(), v)]),
        ],
    ]
    .boxed()
}

/// A `TagKeys` list: a few keys, sometimes none or an invalid one.
fn tag_keys() -> BoxedStrategy<Vec<String>> {
    let mut pool: Vec<String> = SMALL_TAG_KEYS.iter().map(|k| (*k).to_owned()).collect();
    pool.extend(big_tag_keys().into_iter().take(12));
    prop_oneof![
        8 => subsequence(pool, 1..=4).prop_shuffle(),
        1 => Just(Vec::new()),
        1 => Just(vec!["env".to_owned(), "bad#key".to_owned()]),
    ]
    .boxed()
}

fn resource_type() -> BoxedStrategy<String> {
    prop_oneof![
        12 => Just("secret".to_owned()),
        2 => select(vec!["SECRET", "Secret"]).prop_map(str::to_owned),
        1 => select(vec!["", "key"]).prop_map(str::to_owned),
    ]
    .boxed()
}

fn resource_ids(pools: &Pools) -> BoxedStrategy<Vec<String>> {
    let pool: Vec<String> = NAMES.iter().map(|n| (*n).to_owned()).collect();
    let existing = if pools.names.is_empty() {
        pool.clone()
    } else {
        pools.names.clone()
    };
    prop_oneof![
        10 => proptest::collection::vec(select(existing), 1..=3),
        3 => proptest::collection::vec(select(pool), 1..=3),
        1 => Just(Vec::new()),
        1 => Just(vec!["db".to_owned(), "bad name".to_owned()]),
        1 => Just(vec!["acs:kms:us-west-1:1234567890:secret/db".to_owned()]),
        1 => Just((0..51).map(|_| "db".to_owned()).collect()),
    ]
    .boxed()
}

fn page_number() -> BoxedStrategy<Option<u32>> {
    prop_oneof![5 => Just(None), 5 => (1u32..=3).prop_map(Some), 1 => Just(Some(0))].boxed()
}

fn page_size() -> BoxedStrategy<Option<u32>> {
    prop_oneof![
        5 => Just(None),
        5 => select(vec![1u32, 2, 3, 100]).prop_map(Some),
        1 => select(vec![0u32, 101]).prop_map(Some),
    ]
    .boxed()
}

fn filters() -> BoxedStrategy<FilterArg> {
    let one = prop_oneof![
        (
            Just("SecretName"),
            subsequence(vec!["d", "db", "app", "Zeta", "key", "1", "nomatch"], 1..=3)
        ),
        (
            Just("Description"),
            subsequence(vec!["primary", "db", "replica"], 1..=2)
        ),
        (
            Just("TagKey"),
            subsequence(vec!["env", "t01", "team"], 1..=2)
        ),
        (
            Just("TagValue"),
            subsequence(vec!["prod", "dev", "a b"], 1..=2)
        ),
        (
            Just("SecretType"),
            subsequence(vec!["Generic", "Other"], 1..=1)
        ),
    ]
    .prop_map(|(k, vs)| {
        (
            k.to_owned(),
            vs.into_iter().map(str::to_owned).collect::<Vec<_>>(),
        )
    });
    prop_oneof![
        4 => Just(FilterArg::Absent),
        1 => Just(FilterArg::EmptyString),
        1 => Just(FilterArg::Json(vec![])),
        6 => proptest::collection::vec(one, 1..=3).prop_map(FilterArg::Json),
        1 => prop_oneof![
            Just(FilterArg::Json(vec![("SecretName".to_owned(), vec!["d".to_owned()]); 11])),
            Just(FilterArg::Json(vec![(
                "SecretName".to_owned(),
                (0..11).map(|i| format!("n{i}")).collect()
            )])),
            select(vec![
                "not json",
                "{\"Key\":\"SecretName\"}",
                "[{\"Key\":\"Colour\",\"Values\":[\"red\"]}]",
            ])
            .prop_map(|s| FilterArg::Bad(s.to_owned())),
        ],
    ]
    .boxed()
}

fn password() -> BoxedStrategy<GetRandomPasswordRequest> {
    let length = prop_oneof![
        3 => Just(None),
        4 => select(vec![8u32, 9, 32, 128]).prop_map(Some),
        1 => select(vec![0u32, 7, 129]).prop_map(Some),
    ];
    let exclude = prop_oneof![
        3 => Just(None),
        1 => Just(Some(String::new())),
        3 => select(vec!["abc", "0O1lI", "!\"#$%&", "xyz{}"]).prop_map(|s| Some(s.to_owned())),
    ];
    let flags = proptest::collection::vec(proptest::bool::weighted(0.2), 4);
    let require = prop_oneof![Just(None), Just(Some(true)), Just(Some(false))];
    prop_oneof![
        8 => (length, exclude, flags, require).prop_map(|(password_length, exclude_characters, f, r)| {
            GetRandomPasswordRequest {
                password_length,
                exclude_characters,
                exclude_lowercase: f[0],
                exclude_uppercase: f[1],
                exclude_numbers: f[2],
                exclude_punctuation: f[3],
                require_each_included_type: r,
            }
        }),
        // Exclusions that leave nothing to choose from.
        1 => Just(GetRandomPasswordRequest {
            exclude_lowercase: true,
            exclude_uppercase: true,
            exclude_numbers: true,
            exclude_punctuation: true,
            ..Default::default()
        }),
        1 => Just(GetRandomPasswordRequest {
            exclude_characters: Some("abcdefghijklmnopqrstuvwxyz".to_owned()),
            exclude_uppercase: true,
            exclude_numbers: true,
            exclude_punctuation: true,
            ..Default::default()
        }),
    ]
    .boxed()
}

fn create(pools: &Pools) -> BoxedStrategy<CreateArgs> {
    let key = prop_oneof![
        12 => Just(None),
        1 => Just(Some(String::new())),
        1 => Just(Some(UNKNOWN_KEY.to_owned())),
    ];
    let tags = prop_oneof![3 => Just(Vec::new()), 1 => tags()];
    (
        pools.name(),
        version_id(),
        typed_data(),
        key,
        description(),
        tags,
    )
        .prop_map(
            |(name, version_id, (data, data_type), key, description, tags)| CreateArgs {
                name,
                version_id,
                data,
                data_type,
                key,
                description,
                tags,
            },
        )
        .boxed()
}

fn stages() -> BoxedStrategy<Option<Vec<String>>> {
    prop_oneof![
        6 => Just(None),
        1 => Just(Some(Vec::new())),
        5 => subsequence(LABELS.to_vec(), 1..=4)
            .prop_shuffle()
            .prop_map(|l| Some(l.into_iter().map(str::to_owned).collect())),
        1 => label().prop_map(|l| Some(vec!["blue".to_owned(), l])),
    ]
    .boxed()
}

fn put_with(name: BoxedStrategy<String>, id: BoxedStrategy<String>) -> BoxedStrategy<PutArgs> {
    (name, id, typed_data(), stages())
        .prop_map(|(name, version_id, (data, data_type), stages)| PutArgs {
            name,
            version_id,
            data,
            data_type,
            stages,
        })
        .boxed()
}

/// Puts into one secret with version ids it does not hold yet (when the model has it), so that
/// the version cap and eviction are reached within a short run.
fn burst(model: &Model) -> BoxedStrategy<Vec<PutArgs>> {
    let names: Vec<String> = if model.secrets.is_empty() {
        NAMES.iter().map(|n| (*n).to_owned()).collect()
    } else {
        model.secrets.keys().cloned().collect()
    };
    let fresh: Vec<(String, Vec<String>)> = names
        .iter()
        .map(|n| {
            let held = model.version_ids(n);
            let ids = VERSION_IDS
                .iter()
                .filter(|v| !held.iter().any(|h| h == *v))
                .map(|v| (*v).to_owned())
                .collect();
            (n.clone(), ids)
        })
        .collect();
    (select(fresh), 2usize..=6)
        .prop_flat_map(|((name, ids), n)| {
            let ids = if ids.is_empty() {
                VERSION_IDS.iter().map(|v| (*v).to_owned()).collect()
            } else {
                ids
            };
            let n = n.min(ids.len());
            let stages = prop_oneof![3 => Just(None), 1 => stages()];
            (
                Just(name),
                Just(ids).prop_shuffle(),
                proptest::collection::vec((typed_data(), stages), n),
            )
                .prop_map(move |(name, ids, values)| {
                    ids.into_iter()
                        .zip(values)
                        .map(|(version_id, ((data, data_type), stages))| PutArgs {
                            name: name.clone(),
                            version_id,
                            data,
                            data_type,
                            stages,
                        })
                        .collect()
                })
        })
        .boxed()
}

/// UpdateSecretVersionStage in its three shapes (add, remove, move), and sometimes neither.
fn update_stage(pools: &Pools) -> BoxedStrategy<Transition> {
    let shape = prop_oneof![
        4 => pools.held_version_id().prop_map(|v| (None, Some(v))),
        3 => pools.held_version_id().prop_map(|v| (Some(v), None)),
        6 => (pools.held_version_id(), pools.held_version_id()).prop_map(|(f, t)| (Some(f), Some(t))),
        1 => (pools.optional_version_id(), pools.optional_version_id()),
        1 => select(vec![(None, None), (Some(String::new()), None), (None, Some(String::new()))]),
    ];
    let any = (pools.name(), label(), shape).prop_map(|(name, stage, (remove_from, move_to))| {
        Transition::UpdateStage {
            name,
            stage,
            remove_from,
            move_to,
        }
    });
    if pools.held_labels.is_empty() {
        return any.boxed();
    }
    // A label taken from the version that holds it: moved elsewhere or removed.
    let from_holder = (
        select(pools.held_labels.clone()),
        prop_oneof![4 => pools.held_version_id().prop_map(Some), 1 => Just(None)],
    )
        .prop_map(|((name, stage, holder), move_to)| Transition::UpdateStage {
            name,
            stage,
            remove_from: Some(holder),
            move_to,
        });
    // A label the secret does not carry yet, added to one of its versions: reaches the cap.
    let versions: Vec<(String, String)> = pools
        .held_labels
        .iter()
        .map(|(n, _, v)| (n.clone(), v.clone()))
        .collect();
    let add_new = (select(versions), select(&LABELS[2..])).prop_map(|((name, version), stage)| {
        Transition::UpdateStage {
            name,
            stage: stage.to_owned(),
            remove_from: None,
            move_to: Some(version),
        }
    });
    prop_oneof![2 => any, 2 => from_holder, 1 => add_new].boxed()
}

/// Every transition, weighted towards the operations that change versions and labels; an
/// empty store mostly gets secrets created.
pub fn transitions(model: &Model) -> BoxedStrategy<Transition> {
    let pools = Pools::of(model);
    let create_weight = if model.secrets.is_empty() { 40 } else { 5 };
    let advance = select(vec![
        1i64,
        59,
        3_600,
        86_400,
        7 * 86_400 - 1,
        7 * 86_400,
        30 * 86_400,
        31 * 86_400,
    ]);
    let delete_window = prop_oneof![
        4 => Just(None),
        4 => select(vec![7u32, 8, 30]).prop_map(Some),
        1 => select(vec![0u32, 3, 6, 31]).prop_map(Some),
    ];
    let get_stage = prop_oneof![2 => Just(None), 1 => label().prop_map(Some)];
    let put_id = prop_oneof![4 => version_id(), 1 => pools.held_version_id()];
    prop_oneof![
        create_weight => create(&pools).prop_map(Transition::Create),
        5 => (pools.name(), pools.optional_version_id(), get_stage)
            .prop_map(|(name, version_id, stage)| Transition::Get { name, version_id, stage }),
        12 => put_with(pools.name(), put_id.boxed()).prop_map(Transition::Put),
        3 => burst(model).prop_map(Transition::PutBurst),
        10 => update_stage(&pools),
        3 => (pools.name(), any::<bool>(), page_number(), page_size()).prop_map(
            |(name, include_deprecated, page_number, page_size)| Transition::ListVersions {
                name,
                include_deprecated,
                page_number,
                page_size,
            }
        ),
        3 => (pools.name(), any::<bool>())
            .prop_map(|(name, fetch_tags)| Transition::Describe { name, fetch_tags }),
        2 => (pools.name(), description())
            .prop_map(|(name, description)| Transition::Update { name, description }),
        3 => (pools.name(), delete_window, proptest::bool::weighted(0.3))
            .prop_map(|(name, window, force)| Transition::Delete { name, window, force }),
        2 => pools.name().prop_map(|name| Transition::Restore { name }),
        3 => (page_number(), page_size(), any::<bool>(), filters()).prop_map(
            |(page_number, page_size, fetch_tags, filters)| Transition::ListSecrets {
                page_number,
                page_size,
                fetch_tags,
                filters,
            }
        ),
        3 => (pools.name(), tags()).prop_map(|(name, tags)| Transition::Tag { name, tags }),
        2 => (pools.name(), tag_keys()).prop_map(|(name, keys)| Transition::Untag { name, keys }),
        2 => (resource_type(), resource_ids(&pools), tags())
            .prop_map(|(resource_type, ids, tags)| Transition::TagMany { resource_type, ids, tags }),
        // `All` mostly alone, sometimes with keys (which then win: decision 25).
        2 => (resource_type(), resource_ids(&pools), tag_keys(), proptest::bool::weighted(0.2), proptest::bool::weighted(0.3)).prop_map(
            |(resource_type, ids, keys, all, with_keys)| Transition::UntagMany {
                resource_type,
                ids,
                keys: if all && !with_keys { Vec::new() } else { keys },
                all,
            }
        ),
        2 => (resource_type(), resource_ids(&pools), prop_oneof![Just(Vec::new()), tag_keys()])
            .prop_map(|(resource_type, ids, keys)| Transition::ListTags { resource_type, ids, keys }),
        1 => password().prop_map(Transition::Password),
        3 => advance.prop_map(Transition::Advance),
        1 => Just(Transition::Purge),
        1 => Just(Transition::RotateSealKey),
    ]
    .boxed()
}
