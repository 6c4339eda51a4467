"""Running model-written code: a contained process per run, with time, CPU, memory, process and output
limits, no network and a private temporary folder (see :mod:`rlswarm_core.sandbox.bubblewrap`), or an
explicitly chosen weaker fallback (:mod:`rlswarm_core.sandbox.fallback`).

Nothing here imports torch or any training library; the code family and the round-winner re-scoring
both run peers' and the model's code through :func:`open_sandbox`.
"""

from rlswarm_core.sandbox.base import Sandbox
from rlswarm_core.sandbox.choose import MODES, SandboxUnavailable, bubblewrap_problem, open_sandbox
from rlswarm_core.sandbox.limits import SandboxLimits, TestJob, TestReport

__all__ = [
    "MODES",
    "Sandbox",
    "SandboxLimits",
    "SandboxUnavailable",
    "TestJob",
    "TestReport",
    "bubblewrap_problem",
    "open_sandbox",
]
