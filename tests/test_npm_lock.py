"""The npm lock file is complete for every platform, so ``npm ci`` (what scripts/test.sh runs) works on
Linux, macOS and Windows alike and never needs to rewrite the lock."""

from __future__ import annotations

import json

from tests.helpers import REPO


def test_lock_pins_every_declared_package_and_every_platform_binary() -> None:
    manifest = json.loads((REPO / "package.json").read_text())
    lock = json.loads((REPO / "package-lock.json").read_text())
    packages = lock["packages"]
    assert packages[""]["devDependencies"] == manifest["devDependencies"]  # the lock matches package.json
    for name, version in manifest["devDependencies"].items():
        assert packages[f"node_modules/{name}"]["version"] == version
    anvil = packages["node_modules/@foundry-rs/anvil"]
    platforms = anvil["optionalDependencies"]
    assert len(platforms) >= 5  # darwin and linux on both architectures, and windows
    for name, version in platforms.items():
        entry = packages.get(f"node_modules/{name}")
        assert entry is not None, f"package-lock.json lacks {name}: npm ci fails on that platform"
        assert entry["version"] == version and entry["integrity"].startswith("sha512-")
        assert entry["optional"] is True and entry["os"] and entry["cpu"]


def test_the_test_script_installs_from_the_lock_without_rewriting_it() -> None:
    script = (REPO / "scripts" / "test.sh").read_text()
    commands = [line.split()[:2] for line in script.splitlines() if line.strip().startswith("npm ")]
    assert commands == [["npm", "ci"]]
