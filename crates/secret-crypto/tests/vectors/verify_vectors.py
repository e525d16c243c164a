#!/usr/bin/env python3
"""Independent reference decoder for the checked-in vectors, written from docs/formats.md.

Optional cross-check (needs the `cryptography` package); the Rust tests do not depend on it:
    python3 crates/secret-crypto/tests/vectors/verify_vectors.py
"""
import os
import struct

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HERE = os.path.dirname(os.path.abspath(__file__))


def read_hex(name):
    with open(os.path.join(HERE, name)) as f:
        return bytes.fromhex("".join(f.read().split()))


def lp(b):
    return struct.pack(">I", len(b)) + b


ROOT = bytes(range(0x80, 0xA0))
NAME, VERSION, TEXT = b"kat/secret", b"v1", 1
CONTEXT_TAIL = lp(NAME) + lp(VERSION) + bytes([TEXT])

# Keyring v1
blob = read_hex("keyring_v1.hex")
assert blob[:8] == b"SSKEYRNG" and blob[8] == 1
kek = HKDF(hashes.SHA256(), 32, b"secrets-store/root-key/v1", b"secrets-store/keyring-key/v1").derive(ROOT)
plain = AESGCM(kek).decrypt(blob[9:21], blob[21:], blob[:9])
pos = 0
assert plain[0] == 1
default = plain[1:17]
pos = 17
(count,) = struct.unpack_from(">I", plain, pos); pos += 4
assert count == 1
key_id = plain[pos:pos + 16]; pos += 16
state = plain[pos]; pos += 1
(created,) = struct.unpack_from(">q", plain, pos); pos += 8
(dlen,) = struct.unpack_from(">I", plain, pos); pos += 4
desc = plain[pos:pos + dlen]; pos += dlen
(nversions,) = struct.unpack_from(">I", plain, pos); pos += 4
material = {}
for _ in range(nversions):
    number, reserved = struct.unpack_from(">IQ", plain, pos); pos += 12
    material[number] = plain[pos:pos + 32]; pos += 32
assert pos == len(plain) and key_id == default and state == 1
print("keyring: key", key_id.hex(), "desc", desc.decode(), "versions", sorted(material))

# Envelopes sealed by LocalKms
for name, expected in [("envelope_v1_key_version_1.hex", b"sealed under version 1"),
                       ("envelope_v1_key_version_2.hex", b"sealed under version 2")]:
    env = read_hex(name)
    assert env[0] == 1 and env[1] == 1 and env[2:18] == key_id
    (kv,) = struct.unpack_from(">I", env, 18)
    (wlen,) = struct.unpack_from(">H", env, 22)
    header_end = 24 + wlen
    wrapped = env[24:header_end]
    nonce, ct = env[header_end:header_end + 12], env[header_end + 12:]
    dek_ctx = b"secrets-store/envelope-v1/dek" + CONTEXT_TAIL
    wrap_aad = b"secrets-store/dek-wrap/v1" + key_id + struct.pack(">I", kv) + lp(dek_ctx)
    dek = AESGCM(material[kv]).decrypt(wrapped[:12], wrapped[12:], wrap_aad)
    data_aad = b"secrets-store/envelope-v1/data" + env[:header_end] + CONTEXT_TAIL
    assert AESGCM(dek).decrypt(nonce, ct, data_aad) == expected
    print(name, "opens")

# The deterministic envelope
env = read_hex("envelope_v1_kat.hex")
dek = bytes(range(1, 33))
header = bytes([1, 1]) + bytes.fromhex("0f1e2d3c4b5a49788796a5b4c3d2e1f0") + struct.pack(">IH", 7, 60) + bytes(range(0xA0, 0xDC))
nonce = bytes(range(12))
data_aad = b"secrets-store/envelope-v1/data" + header + CONTEXT_TAIL
assert env == header + nonce + AESGCM(dek).encrypt(nonce, b"known answer", data_aad)
print("envelope_v1_kat.hex matches")

# Keyring v2: format 1's plaintext, then the record seal key; and a record seal under it
blob = read_hex("keyring_v2.hex")
assert blob[:8] == b"SSKEYRNG" and blob[8] == 2
plain = AESGCM(kek).decrypt(blob[9:21], blob[21:], blob[:9])
assert plain[0] == 1
default = plain[1:17]
pos = 17
(count,) = struct.unpack_from(">I", plain, pos); pos += 4
for _ in range(count):
    pos += 16 + 1 + 8
    (dlen,) = struct.unpack_from(">I", plain, pos); pos += 4 + dlen
    (nversions,) = struct.unpack_from(">I", plain, pos); pos += 4 + nversions * 44
assert plain[pos] == 1, "a record seal key is present"
record_seal_key = plain[pos + 1:pos + 33]
assert pos + 33 == len(plain)
with open(os.path.join(HERE, "keyring_v2_key_id.txt")) as f:
    assert default.hex() == f.read().strip().replace("-", "")
hmac_key = HKDF(hashes.SHA256(), 32, None, b"secrets-store/record-seal/v1").derive(record_seal_key)
h = hmac.HMAC(hmac_key, hashes.SHA256())
h.update(b"a record, as sealed_bytes gives it")
with open(os.path.join(HERE, "keyring_v2_record_seal.txt")) as f:
    assert h.finalize().hex() == f.read().strip()
print("keyring_v2.hex opens; its record seal matches")

# Keyring v3: format 2's plaintext, then the retiring record seal key (a rotation begun on the
# format-2 vector above: its seal key is the retiring one here)
blob = read_hex("keyring_v3.hex")
assert blob[:8] == b"SSKEYRNG" and blob[8] == 3
plain3 = AESGCM(kek).decrypt(blob[9:21], blob[21:], blob[:9])
assert plain3[:pos] == plain[:pos], "the same master keys as keyring_v2.hex"
assert plain3[pos] == 1
new_key, retiring = plain3[pos + 1:pos + 33], plain3[pos + 33:pos + 65]
assert pos + 65 == len(plain3)
assert retiring == record_seal_key and new_key != record_seal_key
hmac_key = HKDF(hashes.SHA256(), 32, None, b"secrets-store/record-seal/v1").derive(new_key)
h = hmac.HMAC(hmac_key, hashes.SHA256())
h.update(b"a record, as sealed_bytes gives it")
with open(os.path.join(HERE, "keyring_v3_record_seal.txt")) as f:
    assert h.finalize().hex() == f.read().strip()
print("keyring_v3.hex opens; it retires keyring_v2.hex's seal key; its record seal matches")
