"""The sandboxes themselves: what sandboxed code sees, the opt-in fallback, and the refusal to run
model-written code without isolation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from rlswarm_core.sandbox import SandboxLimits, SandboxUnavailable, TestJob, open_sandbox
from rlswarm_core.sandbox.bubblewrap import BubblewrapSandbox
from rlswarm_core.sandbox.fallback import RlimitSandbox
from tests.helpers import REPO

LIMITS = SandboxLimits(test_timeout_s=1.0, wall_s=15.0, memory_mb=256, processes=24)
GOOD = "def add(a, b):\n    return a + b\n"
ADD_TESTS = ({"code": "assert add(1, 2) == 3"}, {"code": "assert add(2, 2) == 4"})


def _checks(*statements: str) -> TestJob:
    """One test per statement; each passes when the statement holds inside the sandbox."""
    return TestJob(solution="import os, socket, sys", tests=tuple({"code": s} for s in statements))


def test_what_sandboxed_code_sees(
    monkeypatch: pytest.MonkeyPatch, bubblewrap: None, nothing_left_behind: None
) -> None:
    monkeypatch.setenv("HF_TOKEN", "hf_not_for_the_sandbox")
    checks = [
        "assert 'HF_TOKEN' not in os.environ and 'RLSWARM_HOME' not in os.environ",
        "assert os.getcwd() == '/tmp' and os.environ['HOME'] == '/tmp'",
        "assert sorted(os.listdir('/')) == sorted(n for n in os.listdir('/') if n in "
        "{'usr', 'bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32', 'tmp', 'dev'})",
        "assert not os.path.exists('/proc/1') and not os.path.exists('/etc/passwd')",
        f"assert not os.path.exists({str(REPO)!r}) and not os.path.exists({str(Path.home())!r})",
        "assert os.getuid() != 0 or os.geteuid() != 0",
        "open('/tmp/mine', 'w').write('x'); assert open('/tmp/mine').read() == 'x'",
        "import errno\ntry:\n    open('/usr/evil', 'w')\n"
        "except OSError as e:\n    assert e.errno in (errno.EROFS, errno.EACCES)\n"
        "else:\n    raise AssertionError('wrote to /usr')",
        "s = socket.socket()\ntry:\n    s.connect(('1.1.1.1', 53))\nexcept OSError:\n    pass\n"
        "else:\n    raise AssertionError('reached the internet')",
    ]
    report = BubblewrapSandbox(LIMITS).run(_checks(*checks))
    assert report.passed == (True,) * len(checks), list(zip(checks, report.outcomes, strict=True))
    # the sandbox's working folder is private: nothing of it reaches the host's /tmp
    assert not Path("/tmp/mine").exists()


def test_limits_hold_inside(bubblewrap: None, nothing_left_behind: None) -> None:
    limit = LIMITS.file_bytes
    report = BubblewrapSandbox(LIMITS).run(
        _checks(
            "import resource\nassert resource.getrlimit(resource.RLIMIT_NPROC)[1] == 24",
            "try:\n    bytearray(300 * 1024 * 1024)\nexcept MemoryError:\n    pass\n"
            "else:\n    raise AssertionError('allocated past the memory limit')",
            "f = open('big', 'wb')\ntry:\n    for _ in range(8):\n"
            "        f.write(b'0' * 2**20)\n        f.flush()\n"
            f"except OSError:\n    pass\nassert os.path.getsize('big') <= {limit}",
        )
    )
    assert report.passed == (True, True, True), report.outcomes


@pytest.mark.parametrize(
    ("name", "solution", "passed"),
    [
        ("correct", GOOD, 2),
        ("wrong", "def add(a, b):\n    return 3\n", 1),
        ("syntax error", "def add(a, b) return a", 0),
        ("infinite loop", "while True:\n    pass\n" + GOOD, 0),
        ("fork bomb", "import os\nwhile True:\n    os.fork()\n" + GOOD, 0),
        ("huge output", "print('x' * 10**9)\n" + GOOD, 0),
        ("exits early", "import os\nos._exit(0)\n", 0),
    ],
)
def test_fallback_applies_the_resource_limits(
    name: str, solution: str, passed: int, nothing_left_behind: None
) -> None:
    """The opt-in fallback: the same resource outcomes, and its temporary folder is removed."""
    sandbox = open_sandbox("rlimits", LIMITS)
    assert isinstance(sandbox, RlimitSandbox) and "no network" in sandbox.isolation
    report = sandbox.run(TestJob(solution=solution, tests=ADD_TESTS))
    assert report.passed_count == passed and not report.killed and not report.error
    if sys.platform.startswith("linux"):
        assert report.unapplied_limits == ()


def test_fallback_leaves_no_files(tmp_path: Path, nothing_left_behind: None) -> None:
    """Code may make its folder hard to delete; the fallback removes it all the same."""
    solution = (
        "import os\nif not os.path.exists('a'):\n    os.makedirs('a/b')\n    open('a/b/f', 'w').write('x')\n"
        "    os.chmod('a/b', 0)\n    os.chmod('a', 0o500)\n"
    )
    report = open_sandbox("rlimits", LIMITS).run(TestJob(solution=solution + GOOD, tests=ADD_TESTS))
    assert report.passed == (True, True)


def _python_with_path(path: str, code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)


def test_refuses_without_bubblewrap_unless_opted_in(tmp_path: Path) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    code = (
        "from rlswarm_core.sandbox import open_sandbox, SandboxUnavailable\n"
        "try:\n    open_sandbox('auto')\n"
        "except SandboxUnavailable as e:\n    print('REFUSED', e.one_line())\n"
        "print('FALLBACK', type(open_sandbox('rlimits')).__name__)\n"
    )
    out = _python_with_path(str(empty), code)
    assert out.returncode == 0, out.stderr
    refused = next(line for line in out.stdout.splitlines() if line.startswith("REFUSED"))
    assert "bubblewrap (bwrap) is not installed" in refused and "apt install bubblewrap" in refused
    assert "code_sandbox: rlimits" in refused
    assert "FALLBACK RlimitSandbox" in out.stdout


def test_refuses_when_bubblewrap_cannot_make_namespaces() -> None:
    """A bwrap that fails the way it does where user namespaces are forbidden (some containers and
    distributions): installed is not enough, the probe's real job has to pass."""
    # a folder the sandbox's unprivileged account can enter (pytest's tmp_path is private to root)
    folder = Path(tempfile.mkdtemp(prefix="rlswarm-test-bin-"))
    folder.chmod(0o755)
    fake = folder / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to creating new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    code = (
        "from rlswarm_core.sandbox import open_sandbox, SandboxUnavailable\n"
        "try:\n    open_sandbox('bubblewrap')\nexcept SandboxUnavailable as e:\n    print(e.one_line())\n"
    )
    try:
        out = _python_with_path(f"{folder}:/usr/bin:/bin", code)
    finally:
        shutil.rmtree(folder)
    assert "bubblewrap does not run here: bwrap: No permissions to creating new namespace" in out.stdout
    assert "unprivileged_userns_clone" in out.stdout and "code_sandbox: rlimits" in out.stdout


def test_unknown_mode() -> None:
    with pytest.raises(SandboxUnavailable.__mro__[1], match="unknown code_sandbox"):
        open_sandbox("docker")
