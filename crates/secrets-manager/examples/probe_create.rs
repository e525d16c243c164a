//! probe
use secrets_manager::crypto::{LocalKms, RootKey};
use secrets_manager::storage::MemoryStorage;
use secrets_manager::{CreateSecretRequest, GetSecretValueRequest, SecretsManager};
use std::sync::Arc;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(20_000);
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
            .unwrap();
    }
    if std::env::var("CREATE_ONLY").is_ok() {
        return;
    }
    for i in 0..n {
        let got = store
            .get_secret_value(GetSecretValueRequest {
                secret_name: format!("s{i:08}"),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(got.secret_data.expose().len(), 1024);
    }
}
