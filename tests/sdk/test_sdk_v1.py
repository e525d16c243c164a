"""Alibaba's older SDK, `aliyun-python-sdk-kms` on `aliyun-python-sdk-core`, against
`secrets serve`: signature V1 with every parameter in the query string, the whole secret
lifecycle, and the gateway's refusals."""

import base64
import json

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.utils import parameter_helper
from aliyunsdkkms.request.v20160120 import (
    CreateSecretRequest,
    DeleteSecretRequest,
    DescribeSecretRequest,
    GetRandomPasswordRequest,
    GetSecretValueRequest,
    ListSecretsRequest,
    ListSecretVersionIdsRequest,
    PutSecretValueRequest,
    RestoreSecretRequest,
    TagResourceRequest,
    UntagResourceRequest,
    UpdateSecretRequest,
    UpdateSecretVersionStageRequest,
)

from conftest import ACCOUNT, ADMIN, READER, REGION, TIME_RE, UUID_RE, value


class Kms:
    """Calls an operation by its request module with keyword parameters, as JSON."""

    def __init__(self, server, who):
        self.address = server.address
        self.client = AcsClient(who[0], who[1], REGION, auto_retry=False)

    def __call__(self, module, **params):
        request = getattr(module, module.__name__.rsplit(".", 1)[-1])()
        request.set_endpoint(self.address)
        request.set_protocol_type("http")
        for name, param in params.items():
            getattr(request, "set_" + name)(param)
        body = json.loads(self.client.do_action_with_exception(request))
        assert UUID_RE.match(body["RequestId"]), body
        return body

    def refused(self, module, **params):
        with pytest.raises(ServerException) as caught:
            self(module, **params)
        return caught.value.get_http_status(), caught.value.get_error_code()


@pytest.fixture
def kms(server):
    return Kms(server, ADMIN)


def test_whole_lifecycle(kms, unique):
    name = f"app/{unique}/old-sdk"
    first, second = value("first p@ss w+rd/&= *~"), value("second")

    b = kms(CreateSecretRequest, SecretName=name, VersionId="v1", SecretData=first,
            Description="db password", Tags=json.dumps([{"TagKey": "env", "TagValue": "prod"}]))
    assert b["Arn"] == f"acs:kms:{REGION}:{ACCOUNT}:secret/{name}"
    assert (b["SecretName"], b["VersionId"], b["SecretType"]) == (name, "v1", "Generic")

    b = kms(GetSecretValueRequest, SecretName=name)
    assert (b["SecretName"], b["VersionId"], b["SecretData"]) == (name, "v1", first)
    assert (b["SecretDataType"], b["SecretType"]) == ("text", "Generic")
    assert b["VersionStages"] == {"VersionStage": ["ACSCurrent"]}
    assert TIME_RE.match(b["CreateTime"])

    b = kms(PutSecretValueRequest, SecretName=name, VersionId="v2", SecretData=second)
    assert (b["SecretName"], b["VersionId"], b["VersionStages"]) == (
        name, "v2", {"VersionStage": ["ACSCurrent"]})
    b = kms(GetSecretValueRequest, SecretName=name, VersionStage="ACSPrevious")
    assert (b["VersionId"], b["SecretData"]) == ("v1", first)

    raw = base64.b64encode(b"\x00\xffold sdk").decode()
    b = kms(PutSecretValueRequest, SecretName=name, VersionId="v3", SecretData=raw,
            SecretDataType="binary", VersionStages='["Pending"]')
    assert b["VersionStages"] == {"VersionStage": ["Pending"]}
    b = kms(GetSecretValueRequest, SecretName=name, VersionId="v3")
    assert (b["SecretData"], b["SecretDataType"]) == (raw, "binary")

    b = kms(UpdateSecretVersionStageRequest, SecretName=name, VersionStage="ACSCurrent",
            RemoveFromVersion="v2", MoveToVersion="v3")
    assert b["SecretName"] == name
    kms(UpdateSecretVersionStageRequest, SecretName=name, VersionStage="Pending", RemoveFromVersion="v3")
    b = kms(GetSecretValueRequest, SecretName=name)
    assert (b["VersionId"], b["VersionStages"]) == ("v3", {"VersionStage": ["ACSCurrent"]})

    b = kms(ListSecretVersionIdsRequest, SecretName=name, IncludeDeprecated="true")
    assert (b["SecretName"], b["TotalCount"], b["PageNumber"]) == (name, 3, 1)
    stages = {v["VersionId"]: v["VersionStages"]["VersionStage"] for v in b["VersionIds"]["VersionId"]}
    assert stages == {"v1": [], "v2": ["ACSPrevious"], "v3": ["ACSCurrent"]}
    assert all(TIME_RE.match(v["CreateTime"]) for v in b["VersionIds"]["VersionId"])

    b = kms(DescribeSecretRequest, SecretName=name, FetchTags="true")
    assert (b["SecretName"], b["Description"], b["SecretType"]) == (name, "db password", "Generic")
    assert UUID_RE.match(b["EncryptionKeyId"])
    assert TIME_RE.match(b["CreateTime"]) and TIME_RE.match(b["UpdateTime"])
    assert b["Tags"] == {"Tag": [{"TagKey": "env", "TagValue": "prod"}]}

    assert kms(UpdateSecretRequest, SecretName=name, Description="rotated")["SecretName"] == name
    assert kms(DescribeSecretRequest, SecretName=name)["Description"] == "rotated"

    kms(TagResourceRequest, SecretName=name, Tags=json.dumps([{"TagKey": "team", "TagValue": "core"}]))
    kms(UntagResourceRequest, SecretName=name, TagKeys='["env"]')
    b = kms(DescribeSecretRequest, SecretName=name, FetchTags="true")
    assert b["Tags"] == {"Tag": [{"TagKey": "team", "TagValue": "core"}]}

    b = kms(ListSecretsRequest, PageSize=100, FetchTags="true",
            Filters=json.dumps([{"Key": "SecretName", "Values": [unique]}]))
    assert (b["TotalCount"], b["PageNumber"], b["PageSize"]) == (1, 1, 100)
    [listed] = b["SecretList"]["Secret"]
    assert (listed["SecretName"], listed["SecretType"]) == (name, "Generic")
    assert listed["Tags"] == {"Tag": [{"TagKey": "team", "TagValue": "core"}]}

    b = kms(DeleteSecretRequest, SecretName=name, RecoveryWindowInDays="7")
    assert b["SecretName"] == name and TIME_RE.match(b["PlannedDeleteTime"])
    assert kms.refused(GetSecretValueRequest, SecretName=name) == (409, "Rejected.ResourceInDeleteWindow")
    assert kms(RestoreSecretRequest, SecretName=name)["SecretName"] == name
    assert kms(GetSecretValueRequest, SecretName=name)["VersionId"] == "v3"
    b = kms(DeleteSecretRequest, SecretName=name, ForceDeleteWithoutRecovery="true")
    assert b["SecretName"] == name
    assert kms.refused(GetSecretValueRequest, SecretName=name) == (404, "Forbidden.ResourceNotFound")

    b = kms(GetRandomPasswordRequest, PasswordLength="20", ExcludePunctuation="true")
    assert len(b["RandomPassword"]) == 20 and b["RandomPassword"].isalnum()


def test_wrong_secret_is_signature_does_not_match(server):
    wrong = Kms(server, (ADMIN[0], "not-the-secret"))
    # The SDK compares the string to sign at the end of the server's SignatureDoesNotMatch
    # message with its own, and reports InvalidAccessKeySecret when they are equal: this
    # passes only if the server's V1 string to sign is byte for byte the SDK's.
    assert wrong.refused(ListSecretsRequest) == (400, "InvalidAccessKeySecret")


def test_replayed_nonce_is_refused(kms, monkeypatch):
    monkeypatch.setattr(parameter_helper, "get_uuid", lambda: "old-sdk-replayed-nonce")
    assert len(kms(GetRandomPasswordRequest, PasswordLength="16")["RandomPassword"]) == 16
    assert kms.refused(GetRandomPasswordRequest, PasswordLength="16") == (400, "SignatureNonceUsed")


def test_policy_denies_what_it_does_not_allow(server, kms, unique):
    name = f"app/{unique}/old-readable"
    kms(CreateSecretRequest, SecretName=name, VersionId="v1", SecretData=value("r"))
    reader = Kms(server, READER)
    assert reader(GetSecretValueRequest, SecretName=name)["SecretData"] == value("r")
    assert reader.refused(PutSecretValueRequest, SecretName=name, VersionId="v2",
                          SecretData=value("w")) == (403, "Forbidden.NoPermission")
    assert reader.refused(ListSecretsRequest) == (403, "Forbidden.NoPermission")
