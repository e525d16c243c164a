//! The command line, built from the operations table so every operation and parameter of the
//! API has a subcommand and a flag, in kebab-case and in Alibaba's spelling.

use clap::builder::NonEmptyStringValueParser;
use clap::{Arg, ArgAction, Command};
use secrets_wire::{Kind, OPERATIONS, Operation, Param};

/// `CreateSecret` → `create-secret`.
pub(crate) fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The key-management subcommands (not part of the Secrets Manager API, but of the store).
pub(crate) const KEY_COMMANDS: &[(&str, &str, &str)] = &[
    (
        "CreateKey",
        "create-key",
        "Create a customer master key (prints its metadata)",
    ),
    (
        "DescribeKey",
        "describe-key",
        "Describe a customer master key",
    ),
    ("ListKeys", "list-keys", "List the customer master keys"),
    ("EnableKey", "enable-key", "Enable a customer master key"),
    (
        "DisableKey",
        "disable-key",
        "Disable a customer master key (its secrets become unreadable)",
    ),
    (
        "RotateKey",
        "rotate-key",
        "Add a new primary version to a key; old versions still decrypt",
    ),
];

const EXIT_CODES: &str = "\
Output: the operation's response as JSON in the shape of Alibaba's HTTP API (lists wrapped:
\"VersionStages\":{\"VersionStage\":[...]}), pretty-printed on a terminal. Errors: Alibaba's
error JSON on stderr.

Exit codes:
  0  success
  1  internal failure, storage unavailable, or the store is in use by another process
  2  invalid input (InvalidParameter, MissingParameter, Rejected.LimitExceeded, bad usage)
  3  not found (Forbidden.ResourceNotFound, Forbidden.KeyNotFound)
  4  conflict (Rejected.ResourceExist, Rejected.ResourceInDeleteWindow, Rejected.Disabled)
  5  permission denied (Forbidden.NoPermission)

The store: --store (a postgres:// URL or a directory), else the embedded sled store under
--store-dir, else $SECRETS_STORE (as --store), else $SECRETS_HOME, else the platform's data
directory (Linux: $XDG_DATA_HOME/secrets or ~/.local/share/secrets). Only create-secret,
create-key and serve make a store where there is none (other commands are refused there, exit
2; get-random-password needs none); the first one generates a root key into root.key (mode
0600) there unless --root-key-file or $SECRETS_ROOT_KEY gives one; back it up apart from the
data: without it nothing can be decrypted.

Every stored record is sealed (an HMAC under a key kept in the keyring) and a record whose seal
does not match is refused as tampered (InternalFailure); rotate-record-seal-key replaces that
key and seals every record again. A store written by a release before records were sealed: run
SECRETS_ACCEPT_UNSEALED_RECORDS=1 secrets rotate-record-seal-key once (it seals every record),
then go on without the variable.";

fn param_arg(param: &Param) -> Arg {
    let long = kebab(param.name);
    // No flag is required to clap: the operation checks its parameters (as the server's do)
    // and names a missing one with Alibaba's `MissingParameter`. (SecretData may also come
    // from --secret-data-file, flattened lists as --Name.N.)
    let help = if param.required {
        format!("[required] {}", param.help)
    } else {
        param.help.to_owned()
    };
    let mut arg = Arg::new(param.name)
        .long(long)
        .alias(param.name)
        .help(help)
        .value_name(value_name(param.kind));
    if matches!(param.kind, Kind::FlatList | Kind::FlatTags) {
        arg = arg.action(ArgAction::Append);
    }
    if param.kind == Kind::SecretData {
        // A value may start with `-` (GetRandomPassword's punctuation includes it): it is the
        // value, not a flag clap would refuse by quoting it.
        arg = arg.allow_hyphen_values(true);
    }
    arg
}

fn value_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Text => "TEXT",
        Kind::SecretData => "VALUE",
        Kind::Bool => "true|false",
        Kind::Number => "N",
        Kind::Json => "JSON",
        Kind::FlatList => "ITEM",
        Kind::FlatTags => "KEY=VALUE",
    }
}

fn operation_command(op: &Operation) -> Command {
    let mut cmd = Command::new(kebab(op.action))
        .alias(op.action)
        .about(op.summary);
    for param in op.params {
        cmd = cmd.arg(param_arg(param));
        if param.kind == Kind::SecretData {
            cmd = cmd.arg(
                Arg::new("SecretDataFile")
                    .long("secret-data-file")
                    .alias("SecretDataFile")
                    .value_name("PATH")
                    .conflicts_with("SecretData")
                    .help("read the value from a file, or from standard input with -, so it stays out of shell history"),
            );
        }
    }
    cmd
}

fn key_command(action: &str, name: &str, about: &str) -> Command {
    let cmd = Command::new(name.to_owned())
        .alias(action.to_owned())
        .about(about.to_owned());
    let cmd = if action == "RotateKey" {
        cmd.alias("CreateKeyVersion")
    } else {
        cmd
    };
    match action {
        "CreateKey" => cmd.arg(
            Arg::new("Description")
                .long("description")
                .alias("Description")
                .value_name("TEXT")
                .help("what the key is for"),
        ),
        "ListKeys" => cmd,
        _ => cmd.arg(
            Arg::new("KeyId")
                .long("key-id")
                .alias("KeyId")
                .value_name("UUID")
                .help("[required] the key's id"),
        ),
    }
}

/// The whole command line.
/// The flag `name`, taking a value that must not be empty: `--store-dir ""` (what
/// `--store-dir "$DIR"` gives with `DIR` unset) is refused by name rather than taken as the
/// current directory.
pub(crate) fn non_empty(name: &'static str) -> Arg {
    Arg::new(name)
        .long(name)
        .value_parser(NonEmptyStringValueParser::new())
}

pub(crate) fn command() -> Command {
    let mut cmd = Command::new("secrets")
        .about("An embeddable secrets store speaking Alibaba Cloud KMS Secrets Manager's API")
        .version(env!("CARGO_PKG_VERSION"))
        .subcommand_required(true)
        .arg_required_else_help(true)
        .after_long_help(EXIT_CODES)
        .after_help("Run `secrets --help` for the output format, exit codes and where the store lives.")
        .arg(
            non_empty("store-dir")
                .global(true)
                .value_name("DIR")
                .help("the store's directory (without it: $SECRETS_STORE if set, else $SECRETS_HOME, else the platform's data directory)"),
        )
        .arg(
            non_empty("store")
                .global(true)
                .value_name("URL|DIR")
                .help("postgres://user@host/db?sslmode=require[&schema=NAME] (or libpq's key=value form, 'host=H dbname=D user=U [schema=NAME]') for a shared PostgreSQL store (root key from --root-key-file or $SECRETS_ROOT_KEY), or a directory; default: the embedded store of --store-dir, else $SECRETS_STORE, else the embedded store in $SECRETS_HOME, $XDG_DATA_HOME/secrets or ~/.local/share/secrets"),
        )
        .arg(
            non_empty("root-key-file")
                .global(true)
                .value_name("PATH")
                .help("a 0600 file holding the root key (64 hex digits); default: $SECRETS_ROOT_KEY, else root.key in the store directory"),
        )
        .arg(
            non_empty("region")
                .global(true)
                .value_name("REGION")
                .default_value("cn-hangzhou")
                .help("the region id in ARNs"),
        )
        .arg(
            non_empty("account-id")
                .global(true)
                .value_name("ACCOUNT")
                .default_value("0000000000000000")
                .help("the account id in ARNs"),
        );
    for op in OPERATIONS {
        cmd = cmd.subcommand(operation_command(op));
    }
    for (action, name, about) in KEY_COMMANDS {
        cmd = cmd.subcommand(key_command(action, name, about));
    }
    cmd.subcommand(crate::root::command())
        .subcommand(rotate_record_seal_key_command())
        .subcommand(
            Command::new("purge-expired-secrets")
                .alias("PurgeExpiredSecrets")
                .about(
                    "Purge every secret whose recovery window has ended (record and \
                     ciphertexts); prints how many",
                )
                .long_about(
                    "Purge every secret whose recovery window has ended: its record and \
                     ciphertexts are removed (such a secret already behaves as absent). Prints \
                     {\"SecretsPurged\": N}. For an embedded store no server serves (a \
                     `secrets serve` purges its store itself, hourly by default, and holds it \
                     meanwhile). A store that is not there is refused (exit 2), nothing \
                     created. A stored record that fails its seal stops it (exit 1; the log \
                     names the secret): what was purged before stays purged.",
                ),
        )
        .subcommand(crate::serve::command())
}

/// `rotate-record-seal-key`: takes no flags of its own.
fn rotate_record_seal_key_command() -> Command {
    Command::new("rotate-record-seal-key")
        .alias("RotateRecordSealKey")
        .about("Replace the key stored records are sealed with, and seal every record again")
        .long_about(
            "Replace the record seal key (kept in the keyring; every stored record carries an \
             HMAC under it) with a fresh one, and seal every record again under it: after a \
             root key or a copy of the keyring may have leaked, so that the old key can no \
             longer forge records the store accepts. Values are not decrypted. Prints how many \
             records were checked and sealed again. A store that is not there (no keyring or \
             no records; a PostgreSQL schema that does not exist or holds no keyring) is \
             refused, nothing created.\n\n\
             Interrupted, the keyring keeps both keys (both are accepted) and running it again \
             finishes the rotation under the same new key. A record that fails its check stops \
             it (exit 1; the log names the secret). With SECRETS_ACCEPT_UNSEALED_RECORDS=1 it \
             also seals every record written before records were sealed.\n\n\
             Stop every other process using the store first: an embedded store refuses while \
             another process has it open; on PostgreSQL, a `secrets serve` left running keeps \
             sealing under the old key, and its records are refused afterwards.",
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kebab_case_of_actions() {
        assert_eq!(kebab("CreateSecret"), "create-secret");
        assert_eq!(kebab("ListSecretVersionIds"), "list-secret-version-ids");
        assert_eq!(kebab("SecretName"), "secret-name");
    }

    #[test]
    fn the_command_line_is_well_formed() {
        command().debug_assert();
    }
}
