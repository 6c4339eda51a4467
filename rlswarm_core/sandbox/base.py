"""What every sandbox does: send a job to the harness in a contained process and read the report."""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import ClassVar

from rlswarm_core.sandbox.limits import SandboxLimits, TestJob, TestReport
from rlswarm_core.sandbox.process import RunAs, run_contained
from rlswarm_core.sandbox.report import parse_report

# the harness's own output is a few bytes per test; anything beyond this is not the harness talking
HARNESS_OUTPUT_CAP = 256 * 1024


@cache
def harness_source() -> str:
    return (Path(__file__).parent / "harness.py").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    cwd: Path | None
    run_as: RunAs | None
    pass_fds: tuple[int, ...] = ()
    # called once the run's process is gone: waits until nothing of the run is left
    settle: Callable[[], None] | None = None


class Sandbox(ABC):
    """Runs model-written code against tests under :class:`SandboxLimits`."""

    name: ClassVar[str]
    # what the sandbox keeps the code from, in one line (shown to the operator)
    isolation: ClassVar[str]

    def __init__(self, limits: SandboxLimits | None = None) -> None:
        self.limits = limits or SandboxLimits()

    @abstractmethod
    def _launch(self) -> AbstractContextManager[Launch]:
        """The command for one run; leaving the context removes whatever the run left on disk."""

    def _payload_limits(self, run_as: RunAs | None) -> dict[str, object]:
        return self.limits.for_harness()

    def run(self, job: TestJob) -> TestReport:
        started = time.monotonic()
        if not job.tests:
            return TestReport((), (), 0.0, backend=self.name)
        with self._launch() as launch:
            payload = job.payload(self.limits)
            payload["limits"] = self._payload_limits(launch.run_as)
            try:
                outcome = run_contained(
                    launch.argv,
                    json.dumps(payload).encode("utf-8"),
                    self.limits.wall_s,
                    HARNESS_OUTPUT_CAP,
                    launch.env,
                    cwd=launch.cwd,
                    run_as=launch.run_as,
                    pass_fds=launch.pass_fds,
                )
            except OSError as exc:
                return parse_report(
                    b"", len(job.tests), time.monotonic() - started, False, self.name, f"cannot start: {exc}"
                )
            finally:
                if launch.settle is not None:
                    launch.settle()
        error = ""
        if b"\nE\n" not in b"\n" + outcome.stdout and not outcome.killed:
            # the harness never finished: the sandbox failed to start, or the run died; say why in one line
            said = outcome.stderr.decode("utf-8", "replace").strip().splitlines()
            error = said[-1][:300] if said else f"the sandbox exited with status {outcome.returncode}"
        return parse_report(
            outcome.stdout, len(job.tests), time.monotonic() - started, outcome.killed, self.name, error
        )
