//! The operations of the API and their parameters: one table that the server routes by and the
//! CLI builds its subcommands and help from.

/// How a parameter's value is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Plain text.
    Text,
    /// The secret value: text, or base64 for `SecretDataType=binary`.
    SecretData,
    /// `true` or `false` (any case).
    Bool,
    /// A whole number.
    Number,
    /// A JSON text (`Tags`, `VersionStages`, `TagKeys`, `Filters`).
    Json,
    /// A flattened list: `Name.1`, `Name.2`, … (`ResourceId`, `TagKey`).
    FlatList,
    /// Flattened tags: `Tag.N.Key` and `Tag.N.Value`.
    FlatTags,
}

/// One parameter of an operation.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    /// Alibaba's name, such as `SecretName`.
    pub name: &'static str,
    /// Whether the operation needs it.
    pub required: bool,
    /// How its value is written.
    pub kind: Kind,
    /// What it means and its limits, for help texts.
    pub help: &'static str,
}

/// One operation of the API.
#[derive(Clone, Copy, Debug)]
pub struct Operation {
    /// The action name, such as `CreateSecret`.
    pub action: &'static str,
    /// One line on what it does.
    pub summary: &'static str,
    /// Its parameters.
    pub params: &'static [Param],
}

const fn p(name: &'static str, required: bool, kind: Kind, help: &'static str) -> Param {
    Param {
        name,
        required,
        kind,
        help,
    }
}

const SECRET_NAME: Param = p(
    "SecretName",
    true,
    Kind::Text,
    "the secret's name (1-192 characters of A-Z a-z 0-9 _/+=.@-, not starting with acs/) or its ARN",
);
const VERSION_ID: Param = p(
    "VersionId",
    true,
    Kind::Text,
    "the version's id (1-64 printable ASCII characters, no whitespace), unique within the secret",
);
const SECRET_DATA: Param = p(
    "SecretData",
    true,
    Kind::SecretData,
    "the value (1-30720 bytes; base64 when SecretDataType is binary)",
);
const SECRET_DATA_TYPE: Param = p(
    "SecretDataType",
    false,
    Kind::Text,
    "text (default, UTF-8) or binary",
);
const RESOURCE_TYPE: Param = p("ResourceType", true, Kind::Text, "secret");
const RESOURCE_ID: Param = p(
    "ResourceId",
    true,
    Kind::FlatList,
    "secret names or ARNs, 1-50 (ResourceId.N)",
);

/// Every operation the store answers, in SPEC §3 order.
pub const OPERATIONS: &[Operation] = &[
    Operation {
        action: "CreateSecret",
        summary: "Create a secret and its first version, which gets ACSCurrent",
        params: &[
            SECRET_NAME,
            VERSION_ID,
            SECRET_DATA,
            SECRET_DATA_TYPE,
            p(
                "EncryptionKeyId",
                false,
                Kind::Text,
                "the master key id (a UUID); default: the store's default key",
            ),
            p("Description", false, Kind::Text, "at most 1024 characters"),
            p(
                "Tags",
                false,
                Kind::Json,
                "JSON [{\"TagKey\":\"k\",\"TagValue\":\"v\"}], at most 20; keys and values 1-128 characters of A-Z a-z 0-9 /\\_.+=:@ and space",
            ),
        ],
    },
    Operation {
        action: "GetSecretValue",
        summary: "Read a version's value (default: the ACSCurrent version)",
        params: &[
            SECRET_NAME,
            p("VersionId", false, Kind::Text, "the version to read"),
            p(
                "VersionStage",
                false,
                Kind::Text,
                "the stage label of the version to read (default ACSCurrent)",
            ),
        ],
    },
    Operation {
        action: "PutSecretValue",
        summary: "Store a new version of a secret",
        params: &[
            SECRET_NAME,
            VERSION_ID,
            SECRET_DATA,
            SECRET_DATA_TYPE,
            p(
                "VersionStages",
                false,
                Kind::Json,
                "JSON array of labels to attach (1-64 characters of A-Z a-z 0-9 _.-); default [\"ACSCurrent\"]",
            ),
        ],
    },
    Operation {
        action: "UpdateSecretVersionStage",
        summary: "Add, remove or move a stage label",
        params: &[
            SECRET_NAME,
            p(
                "VersionStage",
                true,
                Kind::Text,
                "the label (1-64 characters of A-Z a-z 0-9 _.-)",
            ),
            p(
                "RemoveFromVersion",
                false,
                Kind::Text,
                "the version that holds the label now",
            ),
            p(
                "MoveToVersion",
                false,
                Kind::Text,
                "the version to attach the label to",
            ),
        ],
    },
    Operation {
        action: "ListSecretVersionIds",
        summary: "List a secret's versions (never their values)",
        params: &[
            SECRET_NAME,
            p(
                "IncludeDeprecated",
                false,
                Kind::Bool,
                "also list versions without labels (default false)",
            ),
            p(
                "PageNumber",
                false,
                Kind::Number,
                "page, from 1 (default 1)",
            ),
            p("PageSize", false, Kind::Number, "1-100 (default 20)"),
        ],
    },
    Operation {
        action: "DescribeSecret",
        summary: "Describe a secret's metadata",
        params: &[
            SECRET_NAME,
            p(
                "FetchTags",
                false,
                Kind::Bool,
                "also return the tags (default false)",
            ),
        ],
    },
    Operation {
        action: "UpdateSecret",
        summary: "Change a secret's description",
        params: &[
            SECRET_NAME,
            p("Description", false, Kind::Text, "at most 1024 characters"),
        ],
    },
    Operation {
        action: "DeleteSecret",
        summary: "Schedule a secret for deletion, or delete it at once with force",
        params: &[
            SECRET_NAME,
            p(
                "RecoveryWindowInDays",
                false,
                Kind::Number,
                "7-30 (default 30); not with force",
            ),
            p(
                "ForceDeleteWithoutRecovery",
                false,
                Kind::Bool,
                "delete at once, not restorable (default false)",
            ),
        ],
    },
    Operation {
        action: "RestoreSecret",
        summary: "Cancel a pending deletion",
        params: &[SECRET_NAME],
    },
    Operation {
        action: "ListSecrets",
        summary: "List secrets' metadata in name order",
        params: &[
            p(
                "PageNumber",
                false,
                Kind::Number,
                "page, from 1 (default 1)",
            ),
            p("PageSize", false, Kind::Number, "1-100 (default 10)"),
            p(
                "FetchTags",
                false,
                Kind::Bool,
                "also return tags (default false)",
            ),
            p(
                "Filters",
                false,
                Kind::Json,
                "JSON [{\"Key\":\"SecretName\",\"Values\":[\"db\"]}]: at most 10 filters of 1-10 values; keys SecretName, Description (substring), TagKey, TagValue, SecretType (exact)",
            ),
        ],
    },
    Operation {
        action: "TagResource",
        summary: "Set tags on a secret",
        params: &[
            SECRET_NAME,
            p(
                "Tags",
                true,
                Kind::Json,
                "JSON [{\"TagKey\":\"k\",\"TagValue\":\"v\"}]; at most 20 tags per secret",
            ),
        ],
    },
    Operation {
        action: "UntagResource",
        summary: "Remove tags from a secret",
        params: &[
            SECRET_NAME,
            p(
                "TagKeys",
                true,
                Kind::Json,
                "JSON array of tag keys; absent keys are ignored",
            ),
        ],
    },
    Operation {
        action: "TagResources",
        summary: "Set tags on several secrets",
        params: &[
            RESOURCE_TYPE,
            RESOURCE_ID,
            p("Tag", true, Kind::FlatTags, "tags (Tag.N.Key, Tag.N.Value)"),
        ],
    },
    Operation {
        action: "UntagResources",
        summary: "Remove tags from several secrets",
        params: &[
            RESOURCE_TYPE,
            RESOURCE_ID,
            p(
                "TagKey",
                false,
                Kind::FlatList,
                "tag keys to remove (TagKey.N)",
            ),
            p(
                "All",
                false,
                Kind::Bool,
                "remove every tag when no TagKey.N is given (default false)",
            ),
        ],
    },
    Operation {
        action: "ListTagResources",
        summary: "List the tags of several secrets",
        params: &[
            RESOURCE_TYPE,
            RESOURCE_ID,
            p(
                "TagKey",
                false,
                Kind::FlatList,
                "only these tag keys (TagKey.N)",
            ),
        ],
    },
    Operation {
        action: "GetRandomPassword",
        summary: "Generate a random password from the OS CSPRNG",
        params: &[
            p("PasswordLength", false, Kind::Number, "8-128 (default 32)"),
            p(
                "ExcludeCharacters",
                false,
                Kind::Text,
                "characters never to use",
            ),
            p(
                "ExcludeLowercase",
                false,
                Kind::Bool,
                "no a-z (default false)",
            ),
            p(
                "ExcludeUppercase",
                false,
                Kind::Bool,
                "no A-Z (default false)",
            ),
            p(
                "ExcludeNumbers",
                false,
                Kind::Bool,
                "no 0-9 (default false)",
            ),
            p(
                "ExcludePunctuation",
                false,
                Kind::Bool,
                "no punctuation (default false)",
            ),
            p(
                "RequireEachIncludedType",
                false,
                Kind::Bool,
                "at least one of each included type (default true)",
            ),
        ],
    },
];

/// The operation named `action`, if the store has it.
pub fn operation(action: &str) -> Option<&'static Operation> {
    OPERATIONS.iter().find(|o| o.action == action)
}
