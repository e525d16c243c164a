'use strict';
// Alibaba's generic Node.js RPC client, `@alicloud/pop-core`, against `secrets serve`: signature V1
// (HMAC-SHA1) with every parameter in the query string (GET) or every parameter, Action and
// Signature included, in a form body and none in the query (POST); the whole secret lifecycle, and
// the gateway's refusals as the SDK reports them (error.code is the server's Code).

const assert = require('node:assert/strict');
const { after, before, describe, test } = require('node:test');
const RPCClient = require('@alicloud/pop-core').RPCClient;

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
  return new RPCClient({
    accessKeyId: who.id,
    accessKeySecret: who.secret,
    endpoint: `http://${server.address}`,
    apiVersion: '2016-01-20',
  });
}

/** pop-core parses bodies with json-bigint, whose objects have a null prototype: made plain here
 * so that deepStrictEqual compares them with object literals (the numbers are all small). */
function plain(json) {
  return JSON.parse(JSON.stringify(json));
}

/** Calls an action with the given HTTP method; checks the RequestId and returns the body. */
function kms(who, method) {
  const rpc = client(who);
  const call = async (action, params = {}) => {
    const body = plain(await rpc.request(action, params, { method, timeout: 10_000 }));
    assert.match(body.RequestId, UUID_RE);
    return body;
  };
  /** The error a call fails with, which must be the server's refusal. */
  call.error = async (action, params = {}) => {
    const e = await call(action, params).then(
      (body) => assert.fail(`${action} succeeded: ${JSON.stringify(body)}`),
      (err) => err,
    );
    assert.ok(e.entry && e.data, `not a server refusal: ${e.stack}`);
    assert.match(e.data.RequestId, UUID_RE);
    return e;
  };
  /** The refusal of a call, as [HTTP status, error.code, error.data.Code]. */
  call.refused = async (action, params = {}) => {
    const e = await call.error(action, params);
    return [e.entry.response.statusCode, e.code, e.data.Code];
  };
  return call;
}

for (const method of ['GET', 'POST']) {
  describe(`pop-core ${method}`, () => {
    test('the whole lifecycle', async () => {
      const admin = kms(ADMIN, method);
      const part = unique();
      const name = `app/${part}/pop-${method.toLowerCase()}`;
      const first = value('first p@ss w+rd/&= *~');
      const second = value('second');

      let b = await admin('CreateSecret', {
        SecretName: name, VersionId: 'v1', SecretData: first, Description: 'db password',
        Tags: JSON.stringify([{ TagKey: 'env', TagValue: 'prod' }]),
      });
      assert.equal(b.Arn, `acs:kms:${REGION}:${ACCOUNT}:secret/${name}`);
      assert.deepEqual([b.SecretName, b.VersionId, b.SecretType], [name, 'v1', 'Generic']);

      b = await admin('GetSecretValue', { SecretName: name });
      assert.deepEqual([b.SecretName, b.VersionId, b.SecretData], [name, 'v1', first]);
      assert.deepEqual([b.SecretDataType, b.SecretType], ['text', 'Generic']);
      assert.deepEqual(b.VersionStages, { VersionStage: ['ACSCurrent'] });
      assert.match(b.CreateTime, TIME_RE);

      b = await admin('PutSecretValue', { SecretName: name, VersionId: 'v2', SecretData: second });
      assert.deepEqual([b.SecretName, b.VersionId, b.VersionStages],
        [name, 'v2', { VersionStage: ['ACSCurrent'] }]);
      b = await admin('GetSecretValue', { SecretName: name, VersionStage: 'ACSPrevious' });
      assert.deepEqual([b.VersionId, b.SecretData, b.VersionStages],
        ['v1', first, { VersionStage: ['ACSPrevious'] }]);
      b = await admin('GetSecretValue', { SecretName: name });
      assert.deepEqual([b.VersionId, b.SecretData], ['v2', second]);

      // ACSCurrent back to v1: v2 becomes ACSPrevious
      b = await admin('UpdateSecretVersionStage', {
        SecretName: name, VersionStage: 'ACSCurrent', RemoveFromVersion: 'v2', MoveToVersion: 'v1',
      });
      assert.equal(b.SecretName, name);
      b = await admin('GetSecretValue', { SecretName: name });
      assert.deepEqual([b.VersionId, b.SecretData], ['v1', first]);
      b = await admin('GetSecretValue', { SecretName: name, VersionStage: 'ACSPrevious' });
      assert.equal(b.VersionId, 'v2');

      b = await admin('ListSecrets', {
        PageSize: 100, FetchTags: 'true',
        Filters: JSON.stringify([{ Key: 'SecretName', Values: [part] }]),
      });
      assert.deepEqual([b.TotalCount, b.PageNumber, b.PageSize], [1, 1, 100]);
      assert.equal(b.SecretList.Secret.length, 1);
      const [listed] = b.SecretList.Secret;
      assert.deepEqual([listed.SecretName, listed.SecretType], [name, 'Generic']);
      assert.match(listed.CreateTime, TIME_RE);
      assert.deepEqual(listed.Tags, { Tag: [{ TagKey: 'env', TagValue: 'prod' }] });

      b = await admin('DescribeSecret', { SecretName: name, FetchTags: 'true' });
      assert.deepEqual([b.Arn, b.SecretName, b.Description, b.SecretType],
        [`acs:kms:${REGION}:${ACCOUNT}:secret/${name}`, name, 'db password', 'Generic']);
      assert.match(b.EncryptionKeyId, UUID_RE);
      assert.match(b.CreateTime, TIME_RE);
      assert.match(b.UpdateTime, TIME_RE);
      assert.deepEqual(b.Tags, { Tag: [{ TagKey: 'env', TagValue: 'prod' }] });

      b = await admin('DeleteSecret', { SecretName: name, ForceDeleteWithoutRecovery: 'true' });
      assert.equal(b.SecretName, name);
      assert.deepEqual(await admin.refused('GetSecretValue', { SecretName: name }),
        [404, 'Forbidden.ResourceNotFound', 'Forbidden.ResourceNotFound']);
      assert.deepEqual(await admin.refused('DescribeSecret', { SecretName: name }),
        [404, 'Forbidden.ResourceNotFound', 'Forbidden.ResourceNotFound']);
    });

    test('a value with non-ASCII and reserved characters round-trips exactly', async () => {
      const admin = kms(ADMIN, method);
      const name = `app/${unique()}/pop-bytes-${method.toLowerCase()}`;
      const tricky = value("pässwörd 密码 🔑 +/=&% %2B%20 a+b=c&d ~*!'() \"\\ end");
      const tricky2 = value('Ünïcödé ++//== &&%% ');
      await admin('CreateSecret', { SecretName: name, VersionId: 'v1', SecretData: tricky });
      let b = await admin('GetSecretValue', { SecretName: name });
      assert.equal(b.SecretData, tricky);
      await admin('PutSecretValue', { SecretName: name, VersionId: 'v2', SecretData: tricky2 });
      b = await admin('GetSecretValue', { SecretName: name });
      assert.equal(b.SecretData, tricky2);
      b = await admin('GetSecretValue', { SecretName: name, VersionId: 'v1' });
      assert.equal(b.SecretData, tricky);
      await admin('DeleteSecret', { SecretName: name, ForceDeleteWithoutRecovery: 'true' });
    });

    // POST carries the value in the body, where the largest fits; GET in the query string,
    // where hyper's URI limit holds a percent-encoded value to about 21 KiB.
    const encodedBytes = method === 'GET' ? QUERY_ENCODED_BYTES : MAX_SECRET_BYTES;
    test(`a value of ${encodedBytes} bytes, every one percent-encoded, round-trips exactly`,
      async () => {
        const admin = kms(ADMIN, method);
        for (const fill of ['密', '%']) {
          const name = `app/${unique()}/pop-largest-${method.toLowerCase()}`;
          const large = valueOfSize(encodedBytes, fill);
          await admin('CreateSecret', { SecretName: name, VersionId: 'v1', SecretData: large });
          const b = await admin('GetSecretValue', { SecretName: name });
          assert.ok(b.SecretData === large, `the ${fill} value came back different`);
          await admin('DeleteSecret', { SecretName: name, ForceDeleteWithoutRecovery: 'true' });
        }
      });

    test('a missing secret is Forbidden.ResourceNotFound', async () => {
      const admin = kms(ADMIN, method);
      assert.deepEqual(await admin.refused('GetSecretValue', { SecretName: `app/${unique()}/none` }),
        [404, 'Forbidden.ResourceNotFound', 'Forbidden.ResourceNotFound']);
    });

    test('a wrong AccessKeySecret is SignatureDoesNotMatch', async () => {
      const wrong = kms({ id: ADMIN.id, secret: 'not-the-secret' }, method);
      const e = await wrong.error('ListSecrets');
      assert.deepEqual([e.entry.response.statusCode, e.code], [400, 'SignatureDoesNotMatch']);
      assert.match(e.data.Message, /server string to sign is:/);
    });

    test('an unknown AccessKeyId is InvalidAccessKeyId.NotFound', async () => {
      const nobody = kms({ id: 'no-such-key', secret: 'x' }, method);
      assert.deepEqual(await nobody.refused('ListSecrets'),
        [404, 'InvalidAccessKeyId.NotFound', 'InvalidAccessKeyId.NotFound']);
    });

    test('a replayed SignatureNonce is SignatureNonceUsed', async () => {
      // pop-core lets a request's own parameters override the nonce it generates.
      const admin = kms(ADMIN, method);
      const params = { PasswordLength: '16', SignatureNonce: `replayed-${method}-${unique()}` };
      const b = await admin('GetRandomPassword', params);
      assert.equal(b.RandomPassword.length, 16);
      assert.deepEqual(await admin.refused('GetRandomPassword', params),
        [400, 'SignatureNonceUsed', 'SignatureNonceUsed']);
    });
  });
}
