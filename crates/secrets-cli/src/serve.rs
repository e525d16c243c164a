//! `secrets serve`: the store over HTTP(S), speaking Alibaba's KMS protocol.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Arg, ArgMatches, Command, value_parser};
use secret_model::StoreLocation;
use secrets_server::{AccessKeys, ServerConfig, SharedNonces, TlsFiles};
use serde_json::{Value, json};

use crate::output::Failure;
use crate::store;

/// The `serve` subcommand.
pub(crate) fn command() -> Command {
    Command::new("serve")
        .about("Serve the store over HTTP(S) with Alibaba's KMS RPC protocol (signatures V3 and V1), for Alibaba's SDKs")
        .long_about(
            "Serve the store over HTTP(S) with Alibaba's KMS RPC protocol, so Alibaba's SDKs \
             work against it unchanged. Every request must be signed by an access key of \
             --access-keys, a JSON file (mode 0600) mapping each AccessKeyId to \
             {\"secret\": ..., \"policy\": <RAM policy document>}. Prints one JSON line \
             {\"Listening\": ADDR, \"Tls\": BOOL} once bound; logs one line per request on \
             stderr (RUST_LOG filters); stops gracefully on SIGINT/SIGTERM.",
        )
        .arg(
            Arg::new("listen")
                .long("listen")
                .value_name("ADDR")
                .default_value("127.0.0.1:8080")
                .value_parser(value_parser!(std::net::SocketAddr))
                .help("the address to listen on (port 0 picks a free port)"),
        )
        .arg(
            crate::command::non_empty("access-keys")
                .value_name("FILE")
                .required(true)
                .help("[required] the access-keys JSON file (AccessKeyId -> secret and policy)"),
        )
        .arg(
            crate::command::non_empty("tls-cert")
                .value_name("PEM")
                .requires("tls-key")
                .help("serve HTTPS with this certificate chain"),
        )
        .arg(
            crate::command::non_empty("tls-key")
                .value_name("PEM")
                .requires("tls-cert")
                .help("the private key of --tls-cert"),
        )
        .arg(
            Arg::new("body-limit")
                .long("body-limit")
                .value_name("BYTES")
                .default_value("1048576")
                .value_parser(value_parser!(usize))
                .help("the largest request body accepted"),
        )
        .arg(
            Arg::new("body-budget")
                .long("body-budget")
                .value_name("BYTES")
                .value_parser(value_parser!(usize))
                .help(
                    "the request-body bytes all connections together may hold (bodies are read \
                     before their signature is checked; default 64 MiB); a body that does not \
                     fit gets ServiceUnavailableTemporary (503)",
                ),
        )
        .arg(
            Arg::new("max-connections")
                .long("max-connections")
                .value_name("N")
                .value_parser(value_parser!(usize))
                .help(
                    "connections served at once (default 512); more wait in the kernel's \
                     listen backlog",
                ),
        )
        .arg(
            crate::command::non_empty("nonce-log")
                .value_name("DIR")
                .help(
                    "where accepted request nonces are written, so that a restarted server \
                     still refuses replays (default: the store directory's nonces/; a \
                     PostgreSQL store needs none: its servers share the store's nonce table)",
                ),
        )
        .arg(
            Arg::new("purge-interval")
                .long("purge-interval")
                .value_name("SECONDS")
                .default_value("3600")
                .value_parser(value_parser!(u64))
                .help(
                    "purge the secrets whose recovery window has ended (record and \
                     ciphertexts) once serving and then every SECONDS; 0: never (a request \
                     naming such a secret still purges it)",
                ),
        )
        .arg(
            Arg::new("shared-nonces")
                .long("shared-nonces")
                .value_name("on|off")
                .value_parser(["on", "off"])
                .default_value("on")
                .help(
                    "on a PostgreSQL store, record every request's nonce in the store's \
                     nonce table, so that no server on the store accepts a replay of what \
                     another accepted (one more round trip per request); off: each server \
                     refuses only replays of what it accepted itself, and forgets them on \
                     restart unless --nonce-log is given",
                ),
        )
}

/// The store's PostgreSQL nonce table as the server's shared replay guard.
#[derive(Debug)]
struct PostgresNonces(secret_storage_postgres::NonceTable);

impl SharedNonces for PostgresNonces {
    fn record(
        &self,
        key: u64,
        nonce: u64,
        seen_at: i64,
        window: i64,
        now: i64,
    ) -> Result<bool, String> {
        self.0
            .record(key, nonce, seen_at, window, now)
            .map_err(|e| e.to_string())
    }
}

/// Opens the store and serves it until SIGINT or SIGTERM.
pub(crate) fn run(
    args: &ArgMatches,
    place: &store::Place,
    root_key_file: Option<&String>,
    location: StoreLocation,
) -> Result<Value, Failure> {
    let _log = secrets_server::logging::init_stderr("info");
    let keys_file = args
        .get_one::<String>("access-keys")
        .ok_or_else(|| Failure::usage("--access-keys is required"))?;
    let keys =
        Arc::new(AccessKeys::from_file(keys_file).map_err(|e| Failure::usage(e.to_string()))?);
    let listen = *args
        .get_one::<std::net::SocketAddr>("listen")
        .ok_or_else(|| Failure::usage("--listen is required"))?;
    let mut config = ServerConfig::new(listen, keys.clone());
    config.body_limit = args
        .get_one::<usize>("body-limit")
        .copied()
        .unwrap_or(config.body_limit);
    config.body_budget = args
        .get_one::<usize>("body-budget")
        .copied()
        .unwrap_or(config.body_budget);
    config.purge_interval = match args.get_one::<u64>("purge-interval").copied() {
        Some(0) => None,
        Some(secs) => Some(std::time::Duration::from_secs(secs)),
        None => config.purge_interval,
    };
    config.max_connections = args
        .get_one::<usize>("max-connections")
        .copied()
        .unwrap_or(config.max_connections);
    if let (Some(cert), Some(key)) = (
        args.get_one::<String>("tls-cert"),
        args.get_one::<String>("tls-key"),
    ) {
        config.tls = Some(TlsFiles {
            cert: PathBuf::from(cert),
            key: PathBuf::from(key),
        });
    }
    // A store directory keeps a nonce log beside the data; a PostgreSQL store shares its
    // nonce table between every server on it (and needs no log for restarts).
    config.nonce_log = match (args.get_one::<String>("nonce-log"), place) {
        (Some(dir), _) => Some(PathBuf::from(dir)),
        (None, store::Place::Dir(dir)) => Some(dir.join("nonces")),
        (None, store::Place::Postgres(_)) => None,
    };
    let shared = args.get_one::<String>("shared-nonces").map(String::as_str) != Some("off");
    let opened = store::open_with(place, root_key_file, location, keys, shared)?;
    config.shared_nonces = opened
        .nonces
        .map(|table| Arc::new(PostgresNonces(table)) as Arc<dyn SharedNonces>);
    let mut bound = listen;
    secrets_server::run(config, opened.manager, |addr, tls| {
        bound = addr;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{}",
            json!({"Listening": addr.to_string(), "Tls": tls})
        );
        let _ = out.flush();
    })
    .map_err(|e| Failure::internal(e.to_string()))?;
    Ok(json!({"Stopped": bound.to_string()}))
}
