//! Signed requests from a Rust client, V3 and V1, through every kind of parameter.

mod common;

use common::{ADMIN, READER};
use secrets_server::client::{CallOptions, Client, SignatureVersion};
use serde_json::{Value, json};

async fn ok(client: &mut Client, action: &str, params: &[(&str, &str)]) -> Value {
    let reply = client.call(action, params).await.unwrap();
    assert_eq!(reply.status, 200, "{action}: {}", reply.body);
    let request_id = reply.body["RequestId"].as_str().unwrap();
    assert_eq!(request_id.len(), 36, "{request_id}");
    reply.body
}

async fn lifecycle(version: SignatureVersion) {
    let server = common::start().await;
    let mut c = server.client(ADMIN, version).await;
    let name = "app/db+pw=1@x.y";

    let created = ok(
        &mut c,
        "CreateSecret",
        &[
            ("SecretName", name),
            ("VersionId", "v1"),
            ("SecretData", "p@ss w+rd/é&="),
            ("Description", "the db"),
            ("Tags", r#"[{"TagKey":"env","TagValue":"prod"}]"#),
        ],
    )
    .await;
    assert_eq!(created["SecretName"], name);
    assert_eq!(created["VersionId"], "v1");
    assert!(
        created["Arn"]
            .as_str()
            .unwrap()
            .ends_with(":secret/app/db+pw=1@x.y")
    );

    let got = ok(&mut c, "GetSecretValue", &[("SecretName", name)]).await;
    assert_eq!(got["SecretData"], "p@ss w+rd/é&=");
    assert_eq!(got["SecretDataType"], "text");
    assert_eq!(
        got["VersionStages"],
        json!({"VersionStage": ["ACSCurrent"]})
    );

    let put = ok(
        &mut c,
        "PutSecretValue",
        &[
            ("SecretName", name),
            ("VersionId", "v2"),
            ("SecretData", "AAEC"),
            ("SecretDataType", "binary"),
        ],
    )
    .await;
    assert_eq!(
        put["VersionStages"],
        json!({"VersionStage": ["ACSCurrent"]})
    );
    let got = ok(
        &mut c,
        "GetSecretValue",
        &[("SecretName", name), ("VersionStage", "ACSPrevious")],
    )
    .await;
    assert_eq!(got["VersionId"], "v1");

    let versions = ok(&mut c, "ListSecretVersionIds", &[("SecretName", name)]).await;
    assert_eq!(versions["TotalCount"], 2);
    assert_eq!(
        versions["VersionIds"]["VersionId"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let described = ok(
        &mut c,
        "DescribeSecret",
        &[("SecretName", name), ("FetchTags", "True")],
    )
    .await;
    assert_eq!(described["Description"], "the db");
    assert_eq!(
        described["Tags"],
        json!({"Tag": [{"TagKey": "env", "TagValue": "prod"}]})
    );

    ok(
        &mut c,
        "TagResources",
        &[
            ("ResourceType", "secret"),
            ("ResourceId.1", name),
            ("Tag.1.Key", "team"),
            ("Tag.1.Value", "core"),
        ],
    )
    .await;
    let tags = ok(
        &mut c,
        "ListTagResources",
        &[("ResourceType", "secret"), ("ResourceId.1", name)],
    )
    .await;
    assert_eq!(
        tags["TagResources"]["TagResource"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let listed = ok(&mut c, "ListSecrets", &[("PageSize", "10")]).await;
    assert_eq!(listed["SecretList"]["Secret"][0]["SecretName"], name);

    // GET with everything in the query string works too.
    let options = CallOptions {
        get: true,
        ..CallOptions::default()
    };
    let reply = c
        .call_with(
            "GetSecretValue",
            &[("SecretName", name), ("VersionId", "v2")],
            &options,
        )
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["SecretData"], "AAEC");
    assert_eq!(reply.body["SecretDataType"], "binary");

    let deleted = ok(
        &mut c,
        "DeleteSecret",
        &[("SecretName", name), ("ForceDeleteWithoutRecovery", "true")],
    )
    .await;
    assert_eq!(deleted["SecretName"], name);
    let gone = c
        .call("GetSecretValue", &[("SecretName", name)])
        .await
        .unwrap();
    assert_eq!(
        (gone.status, gone.code()),
        (404, Some("Forbidden.ResourceNotFound"))
    );
    server.stop().await;
}

#[tokio::test]
async fn v3_signed_requests_run_the_whole_lifecycle() {
    lifecycle(SignatureVersion::V3).await;
}

#[tokio::test]
async fn v1_signed_requests_run_the_whole_lifecycle() {
    lifecycle(SignatureVersion::V1).await;
}

#[tokio::test]
async fn a_policy_limits_an_access_key_to_its_actions_and_resources() {
    let server = common::start().await;
    let mut admin = server.client(ADMIN, SignatureVersion::V3).await;
    for name in ["app/db", "ops/root"] {
        ok(
            &mut admin,
            "CreateSecret",
            &[
                ("SecretName", name),
                ("VersionId", "v1"),
                ("SecretData", "x"),
            ],
        )
        .await;
    }
    let mut reader = server.client(READER, SignatureVersion::V3).await;
    let got = ok(&mut reader, "GetSecretValue", &[("SecretName", "app/db")]).await;
    assert_eq!(got["SecretData"], "x");
    // The client's reply holds the value, and never shows it.
    let reply = reader
        .call("GetSecretValue", &[("SecretName", "app/db")])
        .await
        .unwrap();
    assert_eq!(reply.body["SecretData"], "x");
    let shown = format!("{reply:?}");
    assert!(
        shown.contains("\"[REDACTED]\"") && !shown.contains("\"x\""),
        "{shown}"
    );

    let denied = reader
        .call("GetSecretValue", &[("SecretName", "ops/root")])
        .await
        .unwrap();
    assert_eq!(
        (denied.status, denied.code()),
        (403, Some("Forbidden.NoPermission"))
    );
    let denied = reader
        .call(
            "PutSecretValue",
            &[
                ("SecretName", "app/db"),
                ("VersionId", "v2"),
                ("SecretData", "y"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        (denied.status, denied.code()),
        (403, Some("Forbidden.NoPermission"))
    );
    server.stop().await;
}
