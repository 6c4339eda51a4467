"""The dashboard starts and answers every endpoint without importing torch, transformers, trl, hivemind or
web3, and its assets ship in the wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

from rlswarm_core.instances import registry
from tests.helpers import HEAVY_MODULES, REPO
from tests.rewards.journals import write_journal

PROBE = f"""
import sys, urllib.request
import rlswarm_cli.main, rlswarm_cli.commands.dashboard_cmd
from rlswarm_core.dashboard.collector import DashboardOptions
from rlswarm_core.dashboard.server import DashboardServer
server = DashboardServer(DashboardOptions(port=0))
url = server.start()
for path in ("", "api/instances", "api/rewards", "api/leaderboard", "static/app.js"):
    with urllib.request.urlopen(url + path, timeout=30) as reply:
        assert reply.status == 200, path
server.close()
heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY_MODULES)!r}))
print('HEAVY=' + ','.join(heavy))
"""


def test_dashboard_serves_without_heavy_imports() -> None:
    registry.create("node-1", profile="local-tiny", port=41000, threads=1, memory_budget_gb=1)
    write_journal("node-1", 2)
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "HEAVY="


def test_wheel_ships_the_page_and_its_assets(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-c", f"from hatchling.build import build_wheel; build_wheel({str(tmp_path)!r})"],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("rlswarm-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    static = REPO / "rlswarm_core" / "dashboard" / "static"
    for asset in ("index.html", "app.js", "style.css", "uPlot.iife.min.js", "uPlot.min.css", "uPlot.LICENSE"):
        assert (static / asset).is_file()
        assert f"rlswarm_core/dashboard/static/{asset}" in names
