'use strict';
// Starts `secrets serve` on a free loopback port with a temporary store and access keys, for the
// tests that drive it with Alibaba's official Node.js SDKs (the Node twin of tests/sdk/conftest.py);
// stops it afterwards and checks that its log never contained a secret. Each test file starts its
// own server (node --test runs every file in a process of its own), so every SDK gets a fresh store.

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');

const ROOT = path.resolve(__dirname, '..', '..');
const BINARY = process.env.SECRETS_BIN || path.join(ROOT, 'target', 'debug', 'secrets');

const hex = (bytes) => crypto.randomBytes(bytes).toString('hex');

const ADMIN = { id: 'sdk-admin', secret: 'admin-' + hex(16) };
const ACCOUNT = '0000000000000000';
const REGION = 'cn-hangzhou';

/** Every secret value the tests send carries this marker, so the log can be searched for values. */
const VALUE_MARKER = 'VALUE-' + hex(6);

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TIME_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

/** A secret value carrying the marker the log is searched for. */
function value(text) {
  return `${VALUE_MARKER} ${text}`;
}

/** The largest SecretData the spec allows (SPEC §2), in bytes. */
const MAX_SECRET_BYTES = 30_720;

/** A value of exactly `bytes` UTF-8 bytes: the marker, a few dots, then `fill` (one character)
 * repeated to the end. */
function valueOfSize(bytes, fill) {
  const width = Buffer.byteLength(fill);
  const room = bytes - Buffer.byteLength(value(''));
  const text = value('.'.repeat(room % width)) + fill.repeat(Math.floor(room / width));
  assert.equal(Buffer.byteLength(text), bytes);
  return text;
}

/**
 * The most SecretData bytes the tests send in a query string when every byte is percent-encoded
 * (three characters each): hyper refuses a URI longer than 65,534 bytes (the `http` crate's
 * limit) with 414 and an empty body before the server sees the request, so through the query
 * string such a value fits up to about 21 KiB; in a POST body the whole 30,720 bytes do.
 */
const QUERY_ENCODED_BYTES = 20_000;

/** A fresh name part, so tests sharing a server's store do not collide. */
function unique() {
  return hex(5);
}

/** Starts the server; resolves to { address, stop }, where stop() ends it and checks its log. */
async function startServer() {
  assert.ok(fs.existsSync(BINARY), `build the binary first: ${BINARY}`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'secrets-sdk-node-'));
  const keys = path.join(tmp, 'access-keys.json');
  fs.writeFileSync(
    keys,
    JSON.stringify({
      [ADMIN.id]: {
        secret: ADMIN.secret,
        policy: { Version: '1', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] },
      },
    }),
    { mode: 0o600 },
  );
  const logPath = path.join(tmp, 'server.log');
  const log = fs.openSync(logPath, 'w');
  const proc = spawn(
    BINARY,
    ['--store-dir', path.join(tmp, 'store'), '--region', REGION, '--account-id', ACCOUNT,
      'serve', '--listen', '127.0.0.1:0', '--access-keys', keys],
    { stdio: ['ignore', 'pipe', log], env: { ...process.env, RUST_LOG: 'info' } },
  );
  fs.closeSync(log);
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));

  let address;
  try {
    address = await firstLine(proc, 30_000).then((line) => JSON.parse(line).Listening);
    assert.match(address, /^127\.0\.0\.1:\d+$/);
  } catch (e) {
    proc.kill('SIGKILL');
    await exited;
    const tail = fs.readFileSync(logPath, 'utf8').slice(-2000);
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new Error(`secrets serve did not report its address (${e.message}): ${tail}`);
  }

  async function stop() {
    try {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      const { code, signal } = await exited;
      clearTimeout(timer);
      const text = fs.readFileSync(logPath, 'utf8');
      assert.equal(code, 0, `secrets serve exited with ${code ?? signal}: ${text.slice(-2000)}`);
      assert.ok(text.includes('secrets_server::request'), 'no request was logged');
      for (const secret of [VALUE_MARKER, ADMIN.secret, 'Signature=']) {
        assert.ok(!text.includes(secret), `the server log contains ${JSON.stringify(secret)}`);
      }
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }

  return { address, stop };
}

function firstLine(proc, timeoutMs) {
  return new Promise((resolve, reject) => {
    const lines = readline.createInterface({ input: proc.stdout });
    const timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
    lines.once('line', (line) => {
      clearTimeout(timer);
      // Keep draining stdout so the server never blocks on a full pipe.
      lines.on('line', () => {});
      resolve(line);
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code}`));
    });
  });
}

module.exports = {
  ACCOUNT, ADMIN, MAX_SECRET_BYTES, REGION, TIME_RE, QUERY_ENCODED_BYTES, UUID_RE, VALUE_MARKER,
  startServer, unique, value, valueOfSize,
};
