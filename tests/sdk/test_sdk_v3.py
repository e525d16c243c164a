"""Alibaba's current SDK, `alibabacloud-kms20160120` (3.x), against `secrets serve`: signature
V3 by default and V1 with `signature_algorithm="v2"`, the whole secret lifecycle, and the
gateway's refusals."""

import base64
import json

import pytest
from alibabacloud_kms20160120 import models as m
from alibabacloud_kms20160120.client import Client
from alibabacloud_tea_openapi import utils_models as openapi
from darabonba.runtime import ExtendsParameters, RuntimeOptions

from conftest import ACCOUNT, ADMIN, READER, REGION, TIME_RE, UUID_RE, value

SIGNATURES = {"v3": None, "v1": "v2"}


def client(server, who, signature):
    config = openapi.Config(
        access_key_id=who[0], access_key_secret=who[1], endpoint=server.address, protocol="http"
    )
    if SIGNATURES[signature]:
        config.signature_algorithm = SIGNATURES[signature]
    return Client(config)


@pytest.fixture(params=sorted(SIGNATURES))
def signature(request):
    return request.param


@pytest.fixture
def admin(server, signature):
    return client(server, ADMIN, signature)


def ok(response):
    assert response.status_code == 200
    assert UUID_RE.match(response.body.request_id), response.body.request_id
    return response.body


def refused(call):
    with pytest.raises(Exception) as caught:
        call()
    return caught.value


def test_whole_lifecycle(admin, unique):
    name = f"app/{unique}/db"
    arn = f"acs:kms:{REGION}:{ACCOUNT}:secret/{name}"
    first, second = value("first p@ss w+rd/&="), value("second")

    b = ok(admin.create_secret(m.CreateSecretRequest(
        secret_name=name, version_id="v1", secret_data=first, description="db password",
        tags=json.dumps([{"TagKey": "env", "TagValue": "prod"}]))))
    assert (b.arn, b.secret_name, b.version_id, b.secret_type) == (arn, name, "v1", "Generic")

    b = ok(admin.get_secret_value(m.GetSecretValueRequest(secret_name=name)))
    assert (b.secret_name, b.version_id, b.secret_data) == (name, "v1", first)
    assert (b.secret_data_type, b.secret_type) == ("text", "Generic")
    assert b.version_stages.version_stage == ["ACSCurrent"]
    assert TIME_RE.match(b.create_time)

    # put: the new version becomes ACSCurrent, the old one ACSPrevious
    b = ok(admin.put_secret_value(m.PutSecretValueRequest(
        secret_name=name, version_id="v2", secret_data=second)))
    assert (b.secret_name, b.version_id, b.version_stages.version_stage) == (name, "v2", ["ACSCurrent"])
    b = ok(admin.get_secret_value(m.GetSecretValueRequest(secret_name=name, version_stage="ACSPrevious")))
    assert (b.version_id, b.secret_data, b.version_stages.version_stage) == ("v1", first, ["ACSPrevious"])

    # a binary version under a custom stage only
    raw = base64.b64encode(b"\x00\x01" + VALUE_BYTES).decode()
    b = ok(admin.put_secret_value(m.PutSecretValueRequest(
        secret_name=name, version_id="v3", secret_data=raw, secret_data_type="binary",
        version_stages='["Pending"]')))
    assert b.version_stages.version_stage == ["Pending"]
    b = ok(admin.get_secret_value(m.GetSecretValueRequest(secret_name=name, version_stage="Pending")))
    assert (b.version_id, b.secret_data, b.secret_data_type) == ("v3", raw, "binary")

    # stage moves: ACSCurrent v2 -> v3 (v2 becomes ACSPrevious), then Pending removed from v3
    b = ok(admin.update_secret_version_stage(m.UpdateSecretVersionStageRequest(
        secret_name=name, version_stage="ACSCurrent", remove_from_version="v2", move_to_version="v3")))
    assert b.secret_name == name
    ok(admin.update_secret_version_stage(m.UpdateSecretVersionStageRequest(
        secret_name=name, version_stage="Pending", remove_from_version="v3")))
    b = ok(admin.get_secret_value(m.GetSecretValueRequest(secret_name=name)))
    assert (b.version_id, b.version_stages.version_stage) == ("v3", ["ACSCurrent"])

    b = ok(admin.list_secret_version_ids(m.ListSecretVersionIdsRequest(
        secret_name=name, include_deprecated="true")))
    assert (b.secret_name, b.total_count, b.page_number) == (name, 3, 1)
    stages = {v.version_id: v.version_stages.version_stage for v in b.version_ids.version_id}
    assert stages == {"v1": [], "v2": ["ACSPrevious"], "v3": ["ACSCurrent"]}
    assert all(TIME_RE.match(v.create_time) for v in b.version_ids.version_id)
    b = ok(admin.list_secret_version_ids(m.ListSecretVersionIdsRequest(secret_name=name)))
    assert sorted(v.version_id for v in b.version_ids.version_id) == ["v2", "v3"]

    b = ok(admin.describe_secret(m.DescribeSecretRequest(secret_name=name, fetch_tags="true")))
    assert (b.arn, b.secret_name, b.secret_type, b.description) == (arn, name, "Generic", "db password")
    assert UUID_RE.match(b.encryption_key_id)
    assert TIME_RE.match(b.create_time) and TIME_RE.match(b.update_time)
    assert [(t.tag_key, t.tag_value) for t in b.tags.tag] == [("env", "prod")]

    assert ok(admin.update_secret(m.UpdateSecretRequest(secret_name=name, description="rotated"))).secret_name == name
    assert ok(admin.describe_secret(m.DescribeSecretRequest(secret_name=name))).description == "rotated"

    # tags, one secret at a time and in batch
    ok(admin.tag_resource(m.TagResourceRequest(
        secret_name=name, tags=json.dumps([{"TagKey": "team", "TagValue": "core"}]))))
    ok(admin.untag_resource(m.UntagResourceRequest(secret_name=name, tag_keys='["env"]')))
    ok(admin.tag_resources(m.TagResourcesRequest(
        resource_type="secret", resource_id=[name], tag=[m.TagResourcesRequestTag(key="tier", value="1")])))
    b = ok(admin.list_tag_resources(m.ListTagResourcesRequest(resource_type="secret", resource_id=[name])))
    assert sorted((t.resource_id, t.tag_key, t.tag_value) for t in b.tag_resources.tag_resource) == [
        (name, "team", "core"), (name, "tier", "1")]
    ok(admin.untag_resources(m.UntagResourcesRequest(resource_type="secret", resource_id=[name], tag_key=["tier"])))
    b = ok(admin.describe_secret(m.DescribeSecretRequest(secret_name=name, fetch_tags="true")))
    assert [(t.tag_key, t.tag_value) for t in b.tags.tag] == [("team", "core")]

    b = ok(admin.list_secrets(m.ListSecretsRequest(
        page_size=100, fetch_tags="true", filters=json.dumps([{"Key": "SecretName", "Values": [unique]}]))))
    assert (b.total_count, b.page_number, b.page_size) == (1, 1, 100)
    [listed] = b.secret_list.secret
    assert (listed.secret_name, listed.secret_type) == (name, "Generic")
    assert TIME_RE.match(listed.create_time) and TIME_RE.match(listed.update_time)
    assert [(t.tag_key, t.tag_value) for t in listed.tags.tag] == [("team", "core")]

    # delete with a recovery window, restore, then force delete
    b = ok(admin.delete_secret(m.DeleteSecretRequest(secret_name=name, recovery_window_in_days="7")))
    assert b.secret_name == name and TIME_RE.match(b.planned_delete_time)
    e = refused(lambda: admin.get_secret_value(m.GetSecretValueRequest(secret_name=name)))
    assert (e.status_code, e.code) == (409, "Rejected.ResourceInDeleteWindow")
    assert ok(admin.describe_secret(m.DescribeSecretRequest(secret_name=name))).planned_delete_time == b.planned_delete_time
    assert ok(admin.restore_secret(m.RestoreSecretRequest(secret_name=name))).secret_name == name
    assert ok(admin.get_secret_value(m.GetSecretValueRequest(secret_name=name))).version_id == "v3"
    assert ok(admin.delete_secret(m.DeleteSecretRequest(
        secret_name=name, force_delete_without_recovery="true"))).secret_name == name
    e = refused(lambda: admin.get_secret_value(m.GetSecretValueRequest(secret_name=name)))
    assert (e.status_code, e.code) == (404, "Forbidden.ResourceNotFound")

    b = ok(admin.get_random_password(m.GetRandomPasswordRequest(password_length="24", exclude_punctuation="true")))
    assert len(b.random_password) == 24 and b.random_password.isalnum()


VALUE_BYTES = b"binary \xff\xfe value"


def test_wrong_secret_is_signature_does_not_match(server, signature):
    wrong = client(server, (ADMIN[0], "not-the-secret"), signature)
    e = refused(lambda: wrong.list_secrets(m.ListSecretsRequest()))
    assert (e.status_code, e.code) == (400, "SignatureDoesNotMatch")
    assert "server string to sign is:" in e.message


def test_unknown_access_key_is_not_found(server, signature):
    nobody = client(server, ("no-such-key", "x"), signature)
    e = refused(lambda: nobody.list_secrets(m.ListSecretsRequest()))
    assert (e.status_code, e.code) == (404, "InvalidAccessKeyId.NotFound")


def test_replayed_nonce_is_refused(admin, signature):
    nonce = "replayed-" + signature + "-" + VALUE_BYTES.hex()
    # The SDK lets extends_parameters override the nonce it generates: the header for V3,
    # the SignatureNonce parameter for V1.
    if signature == "v3":
        extends = ExtendsParameters(headers={"x-acs-signature-nonce": nonce})
    else:
        extends = ExtendsParameters(queries={"SignatureNonce": nonce})
    runtime = RuntimeOptions(extends_parameters=extends)
    request = m.GetRandomPasswordRequest(password_length="16")
    assert len(ok(admin.get_random_password_with_options(request, runtime)).random_password) == 16
    e = refused(lambda: admin.get_random_password_with_options(request, runtime))
    assert (e.status_code, e.code) == (400, "SignatureNonceUsed")


def test_policy_denies_what_it_does_not_allow(server, admin, signature, unique):
    name = f"app/{unique}/readable"
    ok(admin.create_secret(m.CreateSecretRequest(secret_name=name, version_id="v1", secret_data=value("r"))))
    ok(admin.create_secret(m.CreateSecretRequest(
        secret_name=f"ops/{unique}", version_id="v1", secret_data=value("o"))))
    reader = client(server, READER, signature)
    assert ok(reader.get_secret_value(m.GetSecretValueRequest(secret_name=name))).secret_data == value("r")
    for call in (
        lambda: reader.put_secret_value(m.PutSecretValueRequest(
            secret_name=name, version_id="v2", secret_data=value("w"))),
        lambda: reader.get_secret_value(m.GetSecretValueRequest(secret_name=f"ops/{unique}")),
        lambda: reader.delete_secret(m.DeleteSecretRequest(secret_name=name)),
    ):
        e = refused(call)
        assert (e.status_code, e.code) == (403, "Forbidden.NoPermission")
