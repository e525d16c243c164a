//! A fixed workload for counting instructions, which unlike timings do not drift with the
//! machine's load: N in-memory creates of 1 KiB secrets, then N gets (only the creates with
//! `CREATE_ONLY` set). `docs/benchmarks.md` gives figures taken with it.
//!
//! ```text
//! cargo build --release -p secrets-manager --example instruction_counts
//! valgrind --tool=callgrind --callgrind-out-file=cg.out \
//!     target/release/examples/instruction_counts 20000
//! callgrind_annotate --inclusive=yes cg.out | grep -E 'create_secret \[|get_secret_value \['
//! ```

use std::sync::Arc;

use secrets_manager::crypto::{LocalKms, RootKey};
use secrets_manager::storage::MemoryStorage;
use secrets_manager::{CreateSecretRequest, GetSecretValueRequest, SecretsManager};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map_or(20_000, |s| s.parse().expect("N is a number"));
    let kms = LocalKms::in_memory(RootKey::from_bytes([3; 32]));
    let store = SecretsManager::builder(Arc::new(MemoryStorage::new()), Arc::new(kms)).build();
    let value = "x".repeat(1024);
    for i in 0..n {
        store
            .create_secret(CreateSecretRequest {
                secret_name: format!("s{i:08}"),
                secret_data: value.as_str().into(),
                version_id: "v1".into(),
                ..Default::default()
            })
            .expect("the create succeeds");
    }
    if std::env::var_os("CREATE_ONLY").is_some() {
        return;
    }
    for i in 0..n {
        let got = store
            .get_secret_value(GetSecretValueRequest {
                secret_name: format!("s{i:08}"),
                ..Default::default()
            })
            .expect("the get succeeds");
        assert_eq!(got.secret_data.expose().len(), 1024);
    }
}
