"""Starts `secrets serve` on a free loopback port with a temporary store and access keys, for
the tests that drive it with Alibaba's official Python SDKs; stops it afterwards and checks
that its log never contained a secret."""

import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("SECRETS_BIN", ROOT / "target" / "debug" / "secrets"))

ADMIN = ("sdk-admin", "admin-" + uuid.uuid4().hex)
READER = ("sdk-reader", "reader-" + uuid.uuid4().hex)

#: Every secret value the tests send gets this marker, so the log can be searched for values.
VALUE_MARKER = "VALUE-" + uuid.uuid4().hex[:12]

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ACCOUNT = "0000000000000000"
REGION = "cn-hangzhou"

ACCESS_KEYS = {
    ADMIN[0]: {
        "secret": ADMIN[1],
        "policy": {"Version": "1", "Statement": [
            {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]},
    },
    READER[0]: {
        "secret": READER[1],
        "policy": {"Version": "1", "Statement": [
            {"Effect": "Allow", "Action": ["kms:GetSecretValue", "kms:Decrypt"],
             "Resource": ["acs:kms:*:*:secret/app/*", "acs:kms:*:*:key/*"]}]},
    },
}


def value(text):
    """A secret value carrying the marker the log is searched for."""
    return f"{VALUE_MARKER} {text}"


class Server:
    def __init__(self, address, log_path):
        self.address = address
        self.log_path = log_path


@pytest.fixture(scope="session")
def server():
    assert BINARY.exists(), f"build the binary first: {BINARY}"
    with tempfile.TemporaryDirectory(prefix="secrets-sdk-") as tmp:
        tmp = Path(tmp)
        keys = tmp / "access-keys.json"
        keys.write_text(json.dumps(ACCESS_KEYS))
        keys.chmod(0o600)
        log_path = tmp / "server.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [str(BINARY), "--store-dir", str(tmp / "store"), "--region", REGION,
                 "--account-id", ACCOUNT, "serve", "--listen", "127.0.0.1:0",
                 "--access-keys", str(keys)],
                stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                env={**os.environ, "RUST_LOG": "info"},
            )
            try:
                line = _read_line(proc, timeout=30)
                address = json.loads(line)["Listening"]
                yield Server(address, log_path)
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    code = proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    raise
        assert code == 0, f"secrets serve exited with {code}: {log_path.read_text()[-2000:]}"
        text = log_path.read_text()
        assert "secrets_server::request" in text, "no request was logged"
        for secret in (VALUE_MARKER, ADMIN[1], READER[1], "Signature="):
            assert secret not in text, f"the server log contains {secret!r}"


def _read_line(proc, timeout):
    result = {}

    def read():
        result["line"] = proc.stdout.readline().decode()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if not result.get("line"):
        proc.kill()
        raise RuntimeError("secrets serve did not report its address")
    return result["line"]


@pytest.fixture
def unique():
    """A fresh name part, so tests sharing the session's store do not collide."""
    return uuid.uuid4().hex[:10]

