"""The second Ctrl-C of a node forces the stop even when it lands after the runtime's own clean-up, in
interpreter shutdown, where Python prints and ignores a KeyboardInterrupt."""

from __future__ import annotations

import signal
import subprocess
import sys

from tests.helpers import REPO

_SCRIPT = """
import atexit, time
from rlswarm_core.node.signals import StopPolicy

policy = StopPolicy().install()

def slow_finaliser():  # stands in for torch's and hivemind's atexit work
    print("in atexit", flush=True)
    time.sleep(30)

atexit.register(slow_finaliser)
policy.stop.set()  # the first Ctrl-C
policy.cleaned_up()  # the runtime's clean-up has run
"""


def test_second_ctrl_c_during_interpreter_shutdown_exits_130() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _SCRIPT],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "in atexit"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert "error: interrupted" in err
    assert "Traceback" not in err
