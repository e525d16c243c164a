'use strict';
// Alibaba's generated Node.js KMS client, `@alicloud/kms20160120` on `@alicloud/rpc-client`,
// against `secrets serve`: signature V1 (HMAC-SHA1), POST with every parameter in the query string
// and an empty body; the whole secret lifecycle, and the gateway's refusals as the SDK reports them
// (error.code is the server's Code with "Error" appended, error.data the server's error body).

const assert = require('node:assert/strict');
const { after, before, test } = require('node:test');
const Kms = require('@alicloud/kms20160120').default;
const m = require('@alicloud/kms20160120');
const TeaUtil = require('@alicloud/tea-util').default;

const {
  ACCOUNT, ADMIN, MAX_SECRET_BYTES, REGION, TIME_RE, QUERY_ENCODED_BYTES, UUID_RE, startServer, unique,
  value, valueOfSize,
} = require('./server');

let server;
before(async () => {
  server = await startServer();
});
after(async () => {
  if (server) await server.stop();
});

function client(who) {
  // As the package's README shows, with the endpoint pointed at the server: without a scheme,
  // as the signed host, and protocol http.
  return new Kms({
    accessKeyId: who.id,
    accessKeySecret: who.secret,
    endpoint: server.address,
    protocol: 'http',
    regionId: REGION,
    type: 'access_key',
  });
}

function ok(response) {
  assert.match(response.requestId, UUID_RE);
  return response;
}

/** The refusal a call fails with, as [HTTP status, error.code, error.data.Code]. */
async function refused(call) {
  const e = await call().then(
    (body) => assert.fail(`the call succeeded: ${JSON.stringify(body)}`),
    (err) => err,
  );
  assert.ok(e.data && e.data.Code, `not a server refusal: ${e.stack}`);
  assert.match(e.data.RequestId, UUID_RE);
  // rpc-client puts the HTTP status in the message only: "code: 404, <Message> requestid: <id>".
  const status = /code: (\d+), /.exec(e.message);
  assert.ok(status, e.message);
  return [Number(status[1]), e.code, e.data.Code];
}

test('kms20160120: the whole lifecycle', async () => {
  const admin = client(ADMIN);
  const name = `app/${unique()}/kms-db`;
  const arn = `acs:kms:${REGION}:${ACCOUNT}:secret/${name}`;
  const first = value('first p@ss w+rd/&= *~');
  const second = value('second');

  let b = ok(await admin.createSecret(new m.CreateSecretRequest({
    secretName: name, versionId: 'v1', secretData: first, description: 'db password',
    tags: JSON.stringify([{ TagKey: 'env', TagValue: 'prod' }]),
  })));
  assert.deepEqual([b.arn, b.secretName, b.versionId], [arn, name, 'v1']);

  b = ok(await admin.getSecretValue(new m.GetSecretValueRequest({ secretName: name })));
  assert.deepEqual([b.secretName, b.versionId, b.secretData, b.secretDataType],
    [name, 'v1', first, 'text']);
  assert.deepEqual(b.versionStages.versionStage, ['ACSCurrent']);
  assert.match(b.createTime, TIME_RE);

  // put: the new version becomes ACSCurrent, the old one ACSPrevious
  b = ok(await admin.putSecretValue(new m.PutSecretValueRequest({
    secretName: name, versionId: 'v2', secretData: second,
  })));
  assert.deepEqual([b.secretName, b.versionId, b.versionStages.versionStage],
    [name, 'v2', ['ACSCurrent']]);
  b = ok(await admin.getSecretValue(new m.GetSecretValueRequest({
    secretName: name, versionStage: 'ACSPrevious',
  })));
  assert.deepEqual([b.versionId, b.secretData, b.versionStages.versionStage],
    ['v1', first, ['ACSPrevious']]);

  // a version under a custom stage only, then ACSCurrent moved onto it (v2 becomes ACSPrevious)
  b = ok(await admin.putSecretValue(new m.PutSecretValueRequest({
    secretName: name, versionId: 'v3', secretData: value('third'), versionStages: '["Pending"]',
  })));
  assert.deepEqual(b.versionStages.versionStage, ['Pending']);
  b = ok(await admin.updateSecretVersionStage(new m.UpdateSecretVersionStageRequest({
    secretName: name, versionStage: 'ACSCurrent', removeFromVersion: 'v2', moveToVersion: 'v3',
  })));
  assert.equal(b.secretName, name);
  b = ok(await admin.getSecretValue(new m.GetSecretValueRequest({ secretName: name })));
  assert.deepEqual([b.versionId, b.secretData], ['v3', value('third')]);
  assert.deepEqual([...b.versionStages.versionStage].sort(), ['ACSCurrent', 'Pending']);
  b = ok(await admin.getSecretValue(new m.GetSecretValueRequest({
    secretName: name, versionStage: 'ACSPrevious',
  })));
  assert.equal(b.versionId, 'v2');

  b = ok(await admin.listSecretVersionIds(new m.ListSecretVersionIdsRequest({
    secretName: name, includeDeprecated: 'true',
  })));
  assert.equal(b.totalCount, 3);
  const stages = Object.fromEntries(
    b.versionIds.versionId.map((v) => [v.versionId, [...v.versionStages.versionStage].sort()]));
  assert.deepEqual(stages, { v1: [], v2: ['ACSPrevious'], v3: ['ACSCurrent', 'Pending'] });

  // ListSecrets of this SDK version has no Filters: the store is this file's own
  b = ok(await admin.listSecrets(new m.ListSecretsRequest({ pageSize: 100, fetchTags: 'true' })));
  assert.deepEqual([b.pageNumber, b.pageSize], [1, 100]);
  const listed = b.secretList.secret.filter((s) => s.secretName === name);
  assert.equal(listed.length, 1);
  assert.equal(b.totalCount, b.secretList.secret.length);
  assert.match(listed[0].createTime, TIME_RE);
  assert.match(listed[0].updateTime, TIME_RE);
  assert.deepEqual(listed[0].tags.tag.map((t) => [t.tagKey, t.tagValue]), [['env', 'prod']]);

  b = ok(await admin.describeSecret(new m.DescribeSecretRequest({ secretName: name, fetchTags: 'true' })));
  assert.deepEqual([b.arn, b.secretName, b.description], [arn, name, 'db password']);
  assert.match(b.encryptionKeyId, UUID_RE);
  assert.match(b.createTime, TIME_RE);
  assert.match(b.updateTime, TIME_RE);
  assert.deepEqual(b.tags.tag.map((t) => [t.tagKey, t.tagValue]), [['env', 'prod']]);

  b = ok(await admin.updateSecret(new m.UpdateSecretRequest({ secretName: name, description: 'rotated' })));
  assert.equal(b.secretName, name);
  b = ok(await admin.describeSecret(new m.DescribeSecretRequest({ secretName: name })));
  assert.equal(b.description, 'rotated');

  // delete with a recovery window, restore, then force delete
  b = ok(await admin.deleteSecret(new m.DeleteSecretRequest({ secretName: name, recoveryWindowInDays: '7' })));
  assert.equal(b.secretName, name);
  assert.match(b.plannedDeleteTime, TIME_RE);
  assert.deepEqual(
    await refused(() => admin.getSecretValue(new m.GetSecretValueRequest({ secretName: name }))),
    [409, 'Rejected.ResourceInDeleteWindowError', 'Rejected.ResourceInDeleteWindow']);
  b = ok(await admin.restoreSecret(new m.RestoreSecretRequest({ secretName: name })));
  assert.equal(b.secretName, name);
  b = ok(await admin.getSecretValue(new m.GetSecretValueRequest({ secretName: name })));
  assert.equal(b.versionId, 'v3');
  b = ok(await admin.deleteSecret(new m.DeleteSecretRequest({
    secretName: name, forceDeleteWithoutRecovery: 'true',
  })));
  assert.equal(b.secretName, name);
  assert.deepEqual(
    await refused(() => admin.getSecretValue(new m.GetSecretValueRequest({ secretName: name }))),
    [404, 'Forbidden.ResourceNotFoundError', 'Forbidden.ResourceNotFound']);
});

test('kms20160120: a value with non-ASCII and reserved characters round-trips exactly', async () => {
  const admin = client(ADMIN);
  const name = `app/${unique()}/kms-bytes`;
  const tricky = value("pässwörd 密码 🔑 +/=&% %2B%20 a+b=c&d ~*!'() \"\\ end");
  const tricky2 = value('Ünïcödé ++//== &&%% ');
  ok(await admin.createSecret(new m.CreateSecretRequest({ secretName: name, versionId: 'v1', secretData: tricky })));
  let b = ok(await admin.getSecretValue(new m.GetSecretValueRequest({ secretName: name })));
  assert.equal(b.secretData, tricky);
  ok(await admin.putSecretValue(new m.PutSecretValueRequest({ secretName: name, versionId: 'v2', secretData: tricky2 })));
  b = ok(await admin.getSecretValue(new m.GetSecretValueRequest({ secretName: name })));
  assert.equal(b.secretData, tricky2);
  b = ok(await admin.getSecretValue(new m.GetSecretValueRequest({ secretName: name, versionId: 'v1' })));
  assert.equal(b.secretData, tricky);
  ok(await admin.deleteSecret(new m.DeleteSecretRequest({ secretName: name, forceDeleteWithoutRecovery: 'true' })));
});

// This SDK sends every parameter in the query string: a largest value fits when its characters
// need no percent-encoding; one whose every byte is percent-encoded fits up to about 21 KiB
// (hyper's URI limit, see QUERY_ENCODED_BYTES).
test('kms20160120: a largest value of unreserved characters round-trips exactly', async () => {
  await roundTripLargest('a', MAX_SECRET_BYTES);
});

test(`kms20160120: a value of ${QUERY_ENCODED_BYTES} bytes, every one percent-encoded, round-trips exactly`,
  async () => {
    await roundTripLargest('密', QUERY_ENCODED_BYTES);
  });

async function roundTripLargest(fill, bytes) {
  const admin = client(ADMIN);
  const name = `app/${unique()}/kms-largest`;
  const large = valueOfSize(bytes, fill);
  ok(await admin.createSecret(new m.CreateSecretRequest({ secretName: name, versionId: 'v1', secretData: large })));
  const b = ok(await admin.getSecretValue(new m.GetSecretValueRequest({ secretName: name })));
  assert.ok(b.secretData === large, 'the value came back different');
  ok(await admin.deleteSecret(new m.DeleteSecretRequest({ secretName: name, forceDeleteWithoutRecovery: 'true' })));
}

test('kms20160120: a missing secret is Forbidden.ResourceNotFound', async () => {
  const admin = client(ADMIN);
  const request = new m.GetSecretValueRequest({ secretName: `app/${unique()}/none` });
  assert.deepEqual(await refused(() => admin.getSecretValue(request)),
    [404, 'Forbidden.ResourceNotFoundError', 'Forbidden.ResourceNotFound']);
});

test('kms20160120: a wrong AccessKeySecret is SignatureDoesNotMatch', async () => {
  const wrong = client({ id: ADMIN.id, secret: 'not-the-secret' });
  let message;
  assert.deepEqual(
    await refused(() => wrong.listSecrets(new m.ListSecretsRequest({})).catch((e) => {
      message = e.data && e.data.Message;
      throw e;
    })),
    [400, 'SignatureDoesNotMatchError', 'SignatureDoesNotMatch']);
  assert.match(message, /server string to sign is:/);
});

test('kms20160120: an unknown AccessKeyId is InvalidAccessKeyId.NotFound', async () => {
  const nobody = client({ id: 'no-such-key', secret: 'x' });
  assert.deepEqual(await refused(() => nobody.listSecrets(new m.ListSecretsRequest({}))),
    [404, 'InvalidAccessKeyId.NotFoundError', 'InvalidAccessKeyId.NotFound']);
});

test('kms20160120: a replayed SignatureNonce is SignatureNonceUsed', async (t) => {
  // rpc-client takes its nonce from tea-util's getNonce(): fix it for this test only.
  const nonce = `replayed-kms-${unique()}`;
  t.mock.method(TeaUtil, 'getNonce', () => nonce);
  const admin = client(ADMIN);
  const request = new m.GetRandomPasswordRequest({ passwordLength: '16' });
  const b = ok(await admin.getRandomPassword(request));
  assert.equal(b.randomPassword.length, 16);
  assert.deepEqual(await refused(() => admin.getRandomPassword(request)),
    [400, 'SignatureNonceUsedError', 'SignatureNonceUsed']);
});
