"""A real Secret Service (gnome-keyring on a private D-Bus session bus), and a machine without one.

The daemons run as children of the test process with their own HOME and XDG directories, so the
developer's own keyring is never touched, and teardown stops both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest

from rlswarm_core.secrets.store import SECRETS, SERVICE, select_backend

_PASSWORD = b"rlswarm-test-keyring\n"
_APT_HINT = "install the Debian packages: apt-get install -y gnome-keyring dbus"


def _require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"{program} not found: the keyring tests need a real Secret Service; {_APT_HINT}")
    return path


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _wait_for_service(address: str, keyring_proc: subprocess.Popen[bytes], deadline_s: float = 15.0) -> None:
    from contextlib import closing

    import secretstorage
    from jeepney.io.blocking import open_dbus_connection

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if keyring_proc.poll() is not None:
            stderr = keyring_proc.stderr.read().decode(errors="replace") if keyring_proc.stderr else ""
            pytest.fail(f"gnome-keyring-daemon exited with {keyring_proc.returncode}: {stderr.strip()}")
        with closing(open_dbus_connection(bus=address)) as conn:
            if secretstorage.check_service_availability(conn):
                return
        time.sleep(0.05)
    pytest.fail(f"gnome-keyring-daemon did not offer org.freedesktop.secrets within {deadline_s:g} s")


@pytest.fixture(scope="session")
def secret_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Start dbus-daemon and an unlocked gnome-keyring; yields the environment that reaches them."""
    dbus_daemon = _require("dbus-daemon")
    keyring_daemon = _require("gnome-keyring-daemon")
    root = tmp_path_factory.mktemp("secret-service")
    runtime = root / "run"
    runtime.mkdir(mode=0o700)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root),
        "XDG_DATA_HOME": str(root / "data"),
        "XDG_CONFIG_HOME": str(root / "config"),
        "XDG_CACHE_HOME": str(root / "cache"),
        "XDG_RUNTIME_DIR": str(runtime),
    }
    bus = subprocess.Popen(
        [dbus_daemon, "--session", "--nofork", "--nopidfile", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    keyring_proc: subprocess.Popen[bytes] | None = None
    try:
        assert bus.stdout is not None
        address = bus.stdout.readline().decode().strip()
        if not address:
            stderr = bus.stderr.read().decode(errors="replace") if bus.stderr else ""
            pytest.fail(f"dbus-daemon did not start: {stderr.strip()}")
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        # --unlock reads the login keyring's password from stdin (creating the keyring on first use).
        keyring_proc = subprocess.Popen(
            [keyring_daemon, "--foreground", "--unlock", "--components=secrets"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert keyring_proc.stdin is not None
        keyring_proc.stdin.write(_PASSWORD)
        keyring_proc.stdin.close()
        _wait_for_service(address, keyring_proc)
        yield env
    finally:
        if keyring_proc is not None:
            _stop(keyring_proc)
        _stop(bus)
        for stream in (bus.stdout, bus.stderr, keyring_proc.stderr if keyring_proc else None):
            if stream is not None:
                stream.close()


@pytest.fixture
def keyring_env(secret_service: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """This test sees the real Secret Service; rlswarm's entries are wiped afterwards."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service["DBUS_SESSION_BUS_ADDRESS"])
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    yield secret_service
    from keyring.backends.SecretService import Keyring

    # The test may have pointed the variables elsewhere; the cleanup must reach the real service.
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service["DBUS_SESSION_BUS_ADDRESS"])

    ring = Keyring()
    for key in SECRETS:
        if ring.get_password(SERVICE, key) is not None:
            ring.delete_password(SERVICE, key)


@pytest.fixture
def no_keyring_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """A headless machine: no session bus, so no Secret Service and no other secure backend."""
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    ring, _ = select_backend(os.environ)
    if ring is not None:
        pytest.fail(
            f"expected no secure keyring backend without a session bus, but {type(ring)} is viable here"
        )
