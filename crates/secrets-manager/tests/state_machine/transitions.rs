//! The operations the state machine drives, with their arguments kept symbolic so that a
//! failing case prints readably, and the alphabets they are drawn from.

use std::fmt;

use secret_model::SecretDataType;
use secrets_manager::GetRandomPasswordRequest;

use crate::common::{ACCOUNT, REGION};

/// The valid secret names; uppercase sorts first, so name order is exercised.
pub const NAMES: [&str; 3] = ["db", "app/key", "Zeta.1"];
/// Version ids: 12, so a secret can hold 10 and still take new ones.
pub const VERSION_IDS: [&str; 12] = [
    "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11", "v12",
];
/// Labels: the two built-ins and 8 custom ones, so the 8-label cap is reachable.
pub const LABELS: [&str; 10] = [
    "ACSCurrent",
    "ACSPrevious",
    "blue",
    "green",
    "canary",
    "beta",
    "rc.1",
    "rel-2",
    "x_y",
    "gold",
];
/// Secret names that are invalid, or ARNs of another store's secret.
pub fn invalid_names() -> Vec<String> {
    vec![
        String::new(),
        "acs/reserved".to_owned(),
        "bad name".to_owned(),
        "a".repeat(193),
        "acs:kms:us-west-1:1234567890:secret/db".to_owned(),
        format!("acs:kms:{REGION}:999:secret/db"),
    ]
}
pub fn invalid_version_ids() -> Vec<String> {
    vec![
        String::new(),
        "v 1".to_owned(),
        "x".repeat(65),
        "tab\t".to_owned(),
    ]
}
pub fn invalid_labels() -> Vec<String> {
    vec![
        String::new(),
        "bad label".to_owned(),
        "bad/label".to_owned(),
        "L".repeat(65),
    ]
}
/// The ordinary secret values.
pub const TEXTS: [Data; 4] = [
    Data::Text("alpha"),
    Data::Text("beta"),
    Data::Text("gamma"),
    Data::Text("δelta"),
];
/// Values at and past the size limits, and none.
pub const EDGE_DATA: [Data; 3] = [Data::Empty, Data::Max, Data::Oversize];
pub const DESCRIPTIONS: [&str; 3] = ["primary db", "replica of db", "key for app"];
/// Descriptions at and past the 1,024-character limit.
pub fn long_descriptions() -> Vec<String> {
    vec!["d".repeat(1024), "d".repeat(1025), "é".repeat(1024)]
}
/// A few tag keys, for collisions; [`big_tag_keys`] to reach the 20-tag limit.
pub const SMALL_TAG_KEYS: [&str; 4] = ["env", "team", "owner", "a:b/c"];
pub const TAG_VALUES: [&str; 4] = ["prod", "dev", "a b", "x:y@z"];
pub fn big_tag_keys() -> Vec<String> {
    (1..=24).map(|i| format!("t{i:02}")).collect()
}
pub fn invalid_tag_keys() -> Vec<String> {
    vec![
        "aliyun-x".to_owned(),
        "acs:x".to_owned(),
        "bad#key".to_owned(),
        String::new(),
        "k".repeat(129),
    ]
}
pub fn invalid_tag_values() -> Vec<String> {
    vec!["bad#v".to_owned(), String::new(), "v".repeat(129)]
}
/// A `CreateSecret` `EncryptionKeyId` that names no key of the store.
pub const UNKNOWN_KEY: &str = "0f0e0d0c-0b0a-4908-8706-050403020100";

/// This store's ARN of `name`.
pub fn arn(name: &str) -> String {
    format!("acs:kms:{REGION}:{ACCOUNT}:secret/{name}")
}

/// A secret value, kept symbolic so a failing case prints which one it was.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Data {
    /// Short UTF-8 text.
    Text(&'static str),
    /// Bytes that are not UTF-8.
    Binary,
    /// No bytes at all.
    Empty,
    /// Exactly 30,720 bytes.
    Max,
    /// 30,721 bytes.
    Oversize,
}

impl Data {
    pub fn bytes(self) -> Vec<u8> {
        match self {
            Data::Text(s) => s.as_bytes().to_vec(),
            Data::Binary => vec![0x00, 0x9f, 0x92, 0x96, 0xff],
            Data::Empty => vec![],
            Data::Max => vec![b'm'; 30_720],
            Data::Oversize => vec![b'o'; 30_721],
        }
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Data::Text(s) => write!(f, "{s:?}"),
            Data::Binary => f.write_str("Binary"),
            Data::Empty => f.write_str("Empty"),
            Data::Max => f.write_str("Max(30720)"),
            Data::Oversize => f.write_str("Oversize(30721)"),
        }
    }
}

/// The `Filters` parameter of ListSecrets.
#[derive(Clone, Debug)]
pub enum FilterArg {
    /// Not given.
    Absent,
    /// Given as `""`.
    EmptyString,
    /// Well-formed JSON of these filters (which may still break the count limits).
    Json(Vec<(String, Vec<String>)>),
    /// Malformed or with an unknown key.
    Bad(String),
}

impl FilterArg {
    pub fn to_param(&self) -> Option<String> {
        match self {
            FilterArg::Absent => None,
            FilterArg::EmptyString => Some(String::new()),
            FilterArg::Bad(s) => Some(s.clone()),
            FilterArg::Json(filters) => {
                let parts: Vec<String> = filters
                    .iter()
                    .map(|(k, vs)| {
                        let vs: Vec<String> = vs.iter().map(|v| format!("\"{v}\"")).collect();
                        format!("{{\"Key\":\"{k}\",\"Values\":[{}]}}", vs.join(","))
                    })
                    .collect();
                Some(format!("[{}]", parts.join(",")))
            }
        }
    }
}

/// The arguments of CreateSecret.
#[derive(Clone, Debug)]
pub struct CreateArgs {
    pub name: String,
    pub version_id: String,
    pub data: Data,
    pub data_type: Option<SecretDataType>,
    pub key: Option<String>,
    pub description: Option<String>,
    pub tags: Vec<(String, String)>,
}

/// The arguments of PutSecretValue.
#[derive(Clone, Debug)]
pub struct PutArgs {
    pub name: String,
    pub version_id: String,
    pub data: Data,
    pub data_type: Option<SecretDataType>,
    pub stages: Option<Vec<String>>,
}

/// One step of a run: an operation of the facade, a clock jump or maintenance.
#[derive(Clone, Debug)]
pub enum Transition {
    Create(CreateArgs),
    Get {
        name: String,
        version_id: Option<String>,
        stage: Option<String>,
    },
    Put(PutArgs),
    /// Several puts in a row, each checked: makes the 10-version cap reachable.
    PutBurst(Vec<PutArgs>),
    UpdateStage {
        name: String,
        stage: String,
        remove_from: Option<String>,
        move_to: Option<String>,
    },
    ListVersions {
        name: String,
        include_deprecated: bool,
        page_number: Option<u32>,
        page_size: Option<u32>,
    },
    Describe {
        name: String,
        fetch_tags: bool,
    },
    Update {
        name: String,
        description: Option<String>,
    },
    Delete {
        name: String,
        window: Option<u32>,
        force: bool,
    },
    Restore {
        name: String,
    },
    ListSecrets {
        page_number: Option<u32>,
        page_size: Option<u32>,
        fetch_tags: bool,
        filters: FilterArg,
    },
    Tag {
        name: String,
        tags: Vec<(String, String)>,
    },
    Untag {
        name: String,
        keys: Vec<String>,
    },
    TagMany {
        resource_type: String,
        ids: Vec<String>,
        tags: Vec<(String, String)>,
    },
    UntagMany {
        resource_type: String,
        ids: Vec<String>,
        keys: Vec<String>,
        all: bool,
    },
    ListTags {
        resource_type: String,
        ids: Vec<String>,
        keys: Vec<String>,
    },
    Password(GetRandomPasswordRequest),
    Advance(i64),
    Purge,
    /// `rotate_record_seal_key`: nothing observable changes.
    RotateSealKey,
}
