//! `secrets`: every Secrets Manager operation on the embedded store, from the command line.
//!
//! ```text
//! secrets create-secret --secret-name db --version-id v1 --secret-data 's3cr3t'
//! secrets GetSecretValue --SecretName db
//! ```
//!
//! Subcommands and flags are built from `secrets_wire::OPERATIONS`, in kebab-case and in
//! Alibaba's spelling, so a command from Alibaba's documentation works after replacing
//! `aliyun kms` with `secrets`. Output is the HTTP API's JSON.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod command;
mod keys;
mod output;
mod root;
mod serve;
mod store;

use std::ffi::OsString;
use std::io::Read;
use std::process::ExitCode;

use clap::ArgMatches;
use secret_model::StoreLocation;
use secrets_wire::{Kind, Params, operation};
use serde_json::Value;

use crate::command::{KEY_COMMANDS, command};
use crate::output::{EXIT_OK, EXIT_USAGE, Failure, print_failure, print_response};

fn main() -> ExitCode {
    let (args, dotted) = match split_dotted(std::env::args_os().collect()) {
        Ok(split) => split,
        Err(failure) => return ExitCode::from(print_failure(&failure)),
    };
    let secret_data = takes_secret_data(&args);
    let matches = match command().try_get_matches_from(args) {
        Ok(m) => m,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::from(EXIT_OK);
            }
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                // `secrets` alone: the help, as text (on stderr), and the usage exit code.
                let _ = e.print();
                return ExitCode::from(EXIT_USAGE);
            }
            let message = usage_message(&e, secret_data);
            let failure = if e.kind() == ErrorKind::MissingRequiredArgument {
                Failure::api("MissingParameter", 400, message)
            } else {
                Failure::usage(message)
            };
            return ExitCode::from(print_failure(&failure));
        }
    };
    match run(&matches, dotted) {
        Ok(value) => ExitCode::from(print_response(&value)),
        Err(failure) => ExitCode::from(print_failure(&failure)),
    }
}

/// clap's message for a command line it refused, without repeating an argument it did not
/// expect: that text may be a value typed in the wrong place, and the message goes to stderr
/// (and so to logs). The flag it suggests instead, if any, is kept; for a command that takes a
/// secret value (`secret_data`), how to give one that starts with '-'.
fn usage_message(e: &clap::Error, secret_data: bool) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument {
        return e.to_string().trim().to_owned();
    }
    let mut message = if secret_data {
        "error: an unexpected argument was given (not repeated here: it may be a value; a value \
         that starts with '-' goes as --secret-data=VALUE or through --secret-data-file)"
    } else {
        "error: an unexpected argument was given (not repeated here: it may be a value)"
    }
    .to_owned();
    let suggested = match e.get(ContextKind::SuggestedArg) {
        Some(ContextValue::String(flag)) => Some(flag),
        Some(ContextValue::Strings(flags)) => flags.first(),
        _ => None,
    };
    if let Some(flag) = suggested {
        message.push_str(&format!("; did you mean '{flag}'?"));
    }
    message.push_str("\n\nFor more information, try '--help'.");
    message
}

/// Whether the command line names an operation that takes a secret value (CreateSecret,
/// PutSecretValue), in either spelling.
fn takes_secret_data(args: &[std::ffi::OsString]) -> bool {
    secrets_wire::OPERATIONS
        .iter()
        .filter(|op| op.params.iter().any(|p| p.kind == Kind::SecretData))
        .any(|op| {
            let kebab = command::kebab(op.action);
            args.iter()
                .any(|a| a.to_str().is_some_and(|a| a == kebab || a == op.action))
        })
}

/// Numbered flags by name (`ResourceId.1`, `Tag.1.Key`) and their values, in the order given.
type Dotted = Vec<(String, String)>;

/// Takes Alibaba's numbered forms (`--ResourceId.1 a`, `--Tag.1.Key k`, also `--X.1=v`) out of
/// the arguments, since they cannot be declared up front; [`params`] checks them against the
/// command. The argument after a secret-value flag (`--secret-data`) is that flag's value
/// whatever it looks like (clap takes values starting with `-` there), so it is left alone:
/// a value such as `--Winter.2024` is stored, never mistaken for a flag and quoted.
/// Errors: `InvalidParameter` for a numbered flag without a value or with one that is not
/// UTF-8 (the message names the flag, never a value).
fn split_dotted(args: Vec<OsString>) -> Result<(Vec<OsString>, Dotted), Failure> {
    let mut kept = Vec::with_capacity(args.len());
    let mut dotted = Vec::new();
    let mut iter = args.into_iter();
    while let Some(arg) = iter.next() {
        let Some(text) = arg.to_str() else {
            kept.push(arg);
            continue;
        };
        let Some(flag) = text.strip_prefix("--") else {
            kept.push(arg);
            continue;
        };
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (flag, None),
        };
        if inline.is_none() && is_secret_data_flag(name) {
            kept.push(arg);
            kept.extend(iter.next());
            continue;
        }
        let is_numbered = name
            .split('.')
            .nth(1)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if !is_numbered {
            kept.push(arg);
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => iter
                .next()
                .ok_or_else(|| Failure::usage(format!("--{name} needs a value")))?
                .into_string()
                .map_err(|_| Failure::usage(format!("the value of --{name} is not UTF-8")))?,
        };
        dotted.push((name.to_owned(), value));
    }
    Ok((kept, dotted))
}

/// Whether `--name` is a flag taking a secret value, in either spelling (`secret-data`,
/// `SecretData`).
fn is_secret_data_flag(name: &str) -> bool {
    secrets_wire::OPERATIONS
        .iter()
        .flat_map(|op| op.params)
        .filter(|p| p.kind == Kind::SecretData)
        .any(|p| name == p.name || name == command::kebab(p.name))
}

/// Refuses numbered flags given to a command that is not a Secrets Manager operation (none
/// of those take any).
fn no_dotted(sub: &str, dotted: &[(String, String)]) -> Result<(), Failure> {
    match dotted.first() {
        Some((name, _)) => Err(Failure::usage(format!("{sub} takes no flag --{name}"))),
        None => Ok(()),
    }
}

fn run(matches: &ArgMatches, dotted: Dotted) -> Result<Value, Failure> {
    let (sub, args) = matches
        .subcommand()
        .ok_or_else(|| Failure::usage("a command is required; see `secrets --help`"))?;
    // Errors the store logs (a record failing its seal names the secret to restore) reach
    // stderr, ahead of the command's own answer: written out when the guard drops, before
    // `main` prints. `serve` sets up its own, at `info`.
    let _log = (sub != "serve").then(|| secrets_server::logging::init_stderr("error"));
    let location = StoreLocation::new(
        matches
            .get_one::<String>("region")
            .map(String::as_str)
            .unwrap_or_default(),
        matches
            .get_one::<String>("account-id")
            .map(String::as_str)
            .unwrap_or_default(),
    )
    .map_err(|e| Failure::usage(e.message()))?;
    let place = store::place(
        matches.get_one::<String>("store"),
        matches.get_one::<String>("store-dir"),
    )?;
    let open = || {
        store::open(
            &place,
            matches.get_one::<String>("root-key-file"),
            location.clone(),
        )
    };

    if !secrets_wire::OPERATIONS
        .iter()
        .any(|o| command::kebab(o.action) == sub)
    {
        no_dotted(sub, &dotted)?;
    }
    if sub == "serve" {
        return serve::run(
            args,
            &place,
            matches.get_one::<String>("root-key-file"),
            location,
        );
    }
    if sub == "change-root-key" {
        return root::run(args, &place, matches.get_one::<String>("root-key-file"));
    }
    if sub == "rotate-record-seal-key" {
        store::require_existing(&place, "to rotate")?;
        let store = open()?;
        let done = store.manager.rotate_record_seal_key()?;
        return Ok(serde_json::json!({
            "RequestId": secrets_wire::new_request_id(),
            "RecordsChecked": done.records_checked,
            "RecordsResealed": done.records_resealed,
        }));
    }
    if sub == "purge-expired-secrets" {
        store::require_existing(&place, "to purge")?;
        let store = open()?;
        let purged = store.manager.purge_expired_secrets()?;
        return Ok(serde_json::json!({
            "RequestId": secrets_wire::new_request_id(),
            "SecretsPurged": purged,
        }));
    }
    if let Some((action, _, _)) = KEY_COMMANDS.iter().find(|(_, name, _)| *name == sub) {
        let takes_key_id = !matches!(*action, "CreateKey" | "ListKeys");
        if takes_key_id && args.get_one::<String>("KeyId").is_none_or(|k| k.is_empty()) {
            return Err(missing("KeyId"));
        }
        if *action != "CreateKey" {
            store::require_existing(&place, NOTHING_DONE)?;
        }
        let store = open()?;
        return keys::run(action, args, &store.kms, &location);
    }
    let op = secrets_wire::OPERATIONS
        .iter()
        .find(|o| command::kebab(o.action) == sub)
        .and_then(|o| operation(o.action))
        .ok_or_else(|| Failure::usage(format!("unknown command {sub}")))?;
    let params = params(op, args, dotted)?;
    // Before the store is opened, so that a command missing a flag creates nothing.
    check_required(op, &params)?;
    if op.action == "GetRandomPassword" {
        // Only the OS's randomness: no store is opened, so none is made.
        let manager = store::storeless_manager(location)?;
        return Ok(secrets_wire::call(&manager, op.action, &params)?);
    }
    // Only a create makes a store: any other operation needs secrets to act on, and on a
    // mistyped directory or schema would otherwise make an empty store and a root key.
    if op.action != "CreateSecret" {
        store::require_existing(&place, NOTHING_DONE)?;
    }
    let store = open()?;
    Ok(secrets_wire::call(&store.manager, op.action, &params)?)
}

/// What a command that needs an existing store says when there is none.
const NOTHING_DONE: &str = "done (create-secret or create-key makes a store)";

/// `MissingParameter` naming `name`, in Alibaba's words.
fn missing(name: &'static str) -> Failure {
    let e = secret_model::ValidationError::missing(name);
    Failure::api(e.code().as_str(), 400, e.message())
}

/// Refuses a command without one of its operation's required parameters (a flattened one
/// counts when any of its numbered entries is given); the operation checks the values.
fn check_required(op: &secrets_wire::Operation, params: &Params) -> Result<(), Failure> {
    for param in op.params.iter().filter(|p| p.required) {
        let given = match param.kind {
            Kind::FlatList | Kind::FlatTags => params.iter().any(|(name, _)| {
                name.strip_prefix(param.name)
                    .is_some_and(|r| r.starts_with('.'))
            }),
            _ => params.get(param.name).is_some_and(|v| !v.is_empty()),
        };
        if !given {
            return Err(missing(param.name));
        }
    }
    Ok(())
}

/// The operation's parameters by Alibaba's names, from the flags.
fn params(
    op: &secrets_wire::Operation,
    args: &ArgMatches,
    dotted: Dotted,
) -> Result<Params, Failure> {
    let mut params = Params::new();
    for param in op.params {
        match param.kind {
            Kind::FlatList => {
                for (i, v) in args
                    .get_many::<String>(param.name)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    params.insert(format!("{}.{}", param.name, i + 1), v.clone());
                }
            }
            Kind::FlatTags => {
                for (i, v) in args
                    .get_many::<String>(param.name)
                    .into_iter()
                    .flatten()
                    .enumerate()
                {
                    let (key, value) = v.split_once('=').ok_or_else(|| {
                        Failure::usage(format!("--tag takes KEY=VALUE, got {v:?}"))
                    })?;
                    params.insert(format!("Tag.{}.Key", i + 1), key);
                    params.insert(format!("Tag.{}.Value", i + 1), value);
                }
            }
            Kind::SecretData => {
                if let Some(v) = args.get_one::<String>(param.name) {
                    params.insert(param.name, v.clone());
                } else if let Some(path) = args.get_one::<String>("SecretDataFile") {
                    params.insert(param.name, read_value(path)?);
                }
            }
            _ => {
                if let Some(v) = args.get_one::<String>(param.name) {
                    params.insert(param.name, v.clone());
                }
            }
        }
    }
    for (name, value) in dotted {
        let prefix = name.split('.').next().unwrap_or_default();
        let flattened = op
            .params
            .iter()
            .any(|p| p.name == prefix && matches!(p.kind, Kind::FlatList | Kind::FlatTags));
        if !flattened {
            return Err(Failure::usage(format!(
                "{} takes no flag --{name}",
                command::kebab(op.action)
            )));
        }
        if params.get(&name).is_some() {
            // As the server refuses a name given twice: the last one must not silently win.
            return Err(Failure::usage(format!(
                "the parameter {name} is given more than once"
            )));
        }
        params.insert(name, value);
    }
    Ok(params)
}

/// Reads a value from a file, or from standard input for `-`. The bytes are taken exactly
/// (a trailing newline is part of the value); they must be UTF-8 text (base64 for binary).
///
/// The buffer is sized once for the largest value the API takes (as base64, with room to see
/// that a longer one is too long), so it never grows and leaves no copy behind; the value moves
/// into the parameters, which wipe it when dropped.
fn read_value(path: &str) -> Result<String, Failure> {
    use zeroize::Zeroize;
    // Base64 of the largest binary value with a line ending after it (files usually end in
    // one; the value's rules trim it), and one byte more to tell a longer one.
    let room = secret_model::limits::SECRET_DATA_MAX.div_ceil(3) * 4 + 2;
    let most = room + 1;
    let mut bytes = zeroize::Zeroizing::new(Vec::with_capacity(most));
    let limit = most as u64;
    let result = if path == "-" {
        std::io::stdin().take(limit).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(limit).read_to_end(&mut bytes))
    };
    result.map_err(|e| Failure::usage(format!("cannot read --secret-data-file {path}: {e}")))?;
    if bytes.len() == most {
        return Err(Failure::api(
            "InvalidParameter",
            400,
            format!(
                "The specified parameter \"SecretData\" is invalid: --secret-data-file {path} \
                 holds more than {room} bytes, more than any value (30720 bytes, as base64, \
                 and a line ending)"
            ),
        ));
    }
    String::from_utf8(std::mem::take(&mut *bytes)).map_err(|e| {
        e.into_bytes().zeroize();
        Failure::usage(
            "the value in --secret-data-file must be UTF-8 text (for a binary value, give base64 with --secret-data-type binary)",
        )
    })
}
