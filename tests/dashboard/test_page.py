"""Two supervised local-tiny nodes and ``rlswarm dashboard``, seen in headless Chromium: the table, the
charts drawn and growing as the nodes train, and a screenshot that is not blank.

Set DASHBOARD_SCREENSHOT_TO=docs/dashboard.png to keep the screenshot (the README's figure comes from here).
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlswarm_core.instances import supervisor
from rlswarm_core.rewards.view import read_summary
from rlswarm_core.system.paths import app_paths
from tests.dashboard.browser import chromium
from tests.helpers import REPO, Cli
from tests.instances.ports import free_port_block

pytestmark = pytest.mark.slow
NAMES = ("node-1", "node-2")


def stages_done(name: str) -> int:
    return len(read_summary(app_paths().instances / name / "events.jsonl", name).stages)


def wait(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    logs = {
        n: (app_paths().logs / f"{n}.log").read_text()[-1500:]
        for n in NAMES
        if (app_paths().logs / f"{n}.log").exists()
    }
    raise AssertionError(f"{what} within {timeout:.0f} s; logs: {logs}")


def start_dashboard() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rlswarm_cli.main", "dashboard", "--port", "0", "--interval", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ},
    )  # fmt: skip
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("dashboard at http://127.0.0.1:"):
        proc.kill()
        raise AssertionError(
            f"no address from the dashboard: {line!r} {proc.stderr.read() if proc.stderr else ''}"
        )
    return proc, line.split(" at ", 1)[1].strip()


def not_blank(png: bytes) -> int:
    """How many distinct colours the picture has (a blank page has one or two)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    return len(image.getcolors(maxcolors=1 << 20) or [])


CHART_PIXELS = """
(() => {
  const canvas = document.querySelector('#cumulative canvas');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
  return painted;
})()
"""


def test_dashboard_shows_two_supervised_nodes_in_a_browser(tmp_path: Path, cli: Cli) -> None:
    port = free_port_block(2)
    added = cli(
        "instances",
        "add",
        "--count",
        "2",
        "--profile",
        "local-tiny",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    )
    assert added.exit_code == 0, added.stderr
    dashboard = None
    try:
        started = cli("instances", "start")
        assert started.exit_code == 0, started.stderr
        wait(lambda: all(stages_done(n) >= 2 for n in NAMES), 150, "both nodes did not finish two stages")
        dashboard, url = start_dashboard()
        with chromium() as page:
            page.call("Page.navigate", url=url)
            page.wait_for("Number(document.body.dataset.charts) === 3", 60, "three charts")
            page.wait_for(
                "Array.from(document.querySelectorAll('.chart')).every(c => Number(c.dataset.points) >= 2)",
                60,
                "every chart has points",
            )
            assert page.evaluate(CHART_PIXELS) > 500  # the canvas has lines drawn on it
            table = page.evaluate("document.querySelector('#instances tbody').innerText")
            assert table.count("running") == 2 and "node-1" in table and "node-2" in table
            assert "MiB" in table or "GiB" in table  # memory of each running node
            assert page.evaluate("document.getElementById('updated').textContent").startswith("updated ")
            summary = page.evaluate("document.getElementById('summary').innerText")
            assert summary.startswith("2 instance(s), 2 running")
            titles = page.evaluate("Array.from(document.querySelectorAll('.card h3')).map(h => h.innerText)")
            assert [t.split(" · ")[0] for t in titles] == list(NAMES)
            title = page.evaluate("document.getElementById('leaderboard-title').textContent")
            assert title.startswith("Leaderboard (DHT, round ")
            board = page.evaluate("document.querySelector('#leaderboard tbody').innerText")
            assert "node-1" in board and "node-2" in board  # both local peers are on the swarm's board

            # live: as the nodes finish more stages, the page redraws without a reload
            shown = int(page.evaluate("document.querySelector('#chart-node-1').dataset.points"))
            page.wait_for(
                f"Number(document.querySelector('#chart-node-1').dataset.points) > {shown}",
                120,
                "live update",
            )

            png = page.screenshot(tmp_path / "dashboard.png")
        assert not_blank(png) > 50
        keep = os.environ.get("DASHBOARD_SCREENSHOT_TO")
        if keep:
            shutil.copy(tmp_path / "dashboard.png", keep)

        # the dashboard stops cleanly on SIGTERM (a service manager's stop)
        dashboard.send_signal(signal.SIGTERM)
        _, err = dashboard.communicate(timeout=30)
        assert dashboard.returncode == 0 and "dashboard stopped" in err, err
    finally:
        if dashboard is not None and dashboard.poll() is None:
            dashboard.kill()
            dashboard.communicate(timeout=10)
        supervisor.stop_many(list(NAMES), timeout_s=20)
