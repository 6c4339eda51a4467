"""The program that runs inside the sandbox: it limits itself, then runs each test in a forked child.

It is passed to a bare interpreter (``python -I -S -c``) and reads one JSON job from standard input, so
it imports only the standard library and runs on any Python from 3.8 on. For each test it prints one
line ``T <index> <ok|fail|timeout|output|skip> <pass 0/1>`` as soon as the test ends, so a run that is
killed part-way still reports what it finished.

Why a child per test: model-written code runs only in the children. A child proves that its test
passed by writing a per-run random token after the test code returns, so solution code that exits
early (``os._exit(0)``), raises ``SystemExit`` or prints "ok" does not pass. Each child gets its own
process group, which the harness kills when the test ends, and a CPU limit; the harness itself holds
the run's process, memory, file-size and open-file limits, which every child inherits.
"""

import contextlib
import json
import os
import resource
import select
import sys
import time

# after this many timed-out tests the rest are not run: code that hangs on two inputs hangs on most
MAX_TIMEOUTS = 2


def _limit(name, value):
    kind = getattr(resource, name, None)
    if kind is None or value is None:
        return False
    try:
        resource.setrlimit(kind, (value, value))
    except (ValueError, OSError):
        # macOS refuses some limits (RLIMIT_AS); the host documents that fallback as weaker
        return False
    return True


def apply_limits(limits):
    applied = {
        "processes": _limit("RLIMIT_NPROC", limits.get("processes")),
        "memory": _limit("RLIMIT_AS", limits.get("memory_bytes")),
        "file_size": _limit("RLIMIT_FSIZE", limits.get("file_bytes")),
        "open_files": _limit("RLIMIT_NOFILE", limits.get("open_files")),
        "core": _limit("RLIMIT_CORE", 0),
    }
    return sorted(k for k, ok in applied.items() if not ok)


def _kill_group(pid):
    with contextlib.suppress(OSError):
        os.killpg(pid, 9)


def _reap(pid, deadline):
    """Wait for the child until ``deadline``; its exit status, or None when it is still running."""
    delay = 0.0005
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return 0
        if done:
            return status
        if time.monotonic() >= deadline:
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


def _child(script, stdin_path, out_fd, token_fd, token, cpu_seconds):
    """In the forked child: become a process group, wire the standard streams, run the test."""
    try:
        os.setpgid(0, 0)
        _limit("RLIMIT_CPU", cpu_seconds)
        stdin = os.open(stdin_path or os.devnull, os.O_RDONLY)
        os.dup2(stdin, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        keep = {0, 1, 2, token_fd}
        for fd in range(3, 256):
            if fd not in keep:
                with contextlib.suppress(OSError):
                    os.close(fd)
        # the streams live until the child exits; there is nothing to close them for
        sys.stdin = open(0, closefd=False)  # noqa: SIM115
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    except BaseException:
        os._exit(3)
    try:
        namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        exec(compile(script, "<solution>", "exec"), namespace)
        sys.stdout.flush()
    except BaseException:
        os._exit(1)
    try:
        os.write(token_fd, token)
    finally:
        os._exit(0)


def run_test(script, stdin_text, timeout, output_limit, capture):
    """(outcome, output bytes) for one test script; outcome is ok, fail, timeout or output."""
    token = os.urandom(16).hex().encode()
    stdin_path = None
    if stdin_text is not None:
        stdin_path = f"stdin-{os.getpid()}.txt"
        with open(stdin_path, "w") as handle:
            handle.write(stdin_text)
    out_r, out_w = os.pipe()
    tok_r, tok_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(out_r)
        os.close(tok_r)
        _child(script, stdin_path, out_w, tok_w, token, max(1, int(timeout + 1)))
    os.close(out_w)
    os.close(tok_w)
    deadline = time.monotonic() + timeout
    output, got, outcome, status = bytearray(), bytearray(), None, None
    open_fds = [out_r, tok_r]
    poll = 0.001

    def take(fd, chunk):
        if fd == tok_r:
            got.extend(chunk[: 64 - len(got)])
        elif capture:
            output.extend(chunk)

    while outcome is None and status is None:
        left = deadline - time.monotonic()
        if left <= 0:
            outcome = "timeout"
            break
        ready, _, _ = select.select(open_fds, [], [], min(left, poll)) if open_fds else ([], [], [])
        for fd in ready:
            chunk = os.read(fd, 65536)
            if chunk:
                take(fd, chunk)
            else:
                open_fds.remove(fd)
        if len(output) > output_limit:
            outcome = "output"
        elif not open_fds:
            status = _reap(pid, deadline)
            if status is None:
                outcome = "timeout"
        else:
            # a child may exit while something it started still holds the pipes open
            done, found = os.waitpid(pid, os.WNOHANG)
            if done:
                status = found
                for fd in select.select(open_fds, [], [], 0)[0]:
                    take(fd, os.read(fd, 65536))
            poll = min(poll * 2, 0.05)
    _kill_group(pid)
    if status is None:
        with contextlib.suppress(OSError):
            os.kill(pid, 9)
        _reap(pid, time.monotonic() + 5)
        outcome = outcome or "timeout"
    os.close(out_r)
    os.close(tok_r)
    if stdin_path:
        os.unlink(stdin_path)
    if outcome is None:
        passed = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 and bytes(got) == token
        outcome = "ok" if passed else "fail"
    return outcome, bytes(output)


def same_output(got, expected):
    """Whitespace-insensitive comparison of a program's output with the expected output."""
    return got.split() == expected.split()


def main():
    job = json.loads(sys.stdin.read())
    sys.stdin.close()
    limits = job.get("limits", {})
    unapplied = apply_limits(limits)
    print("L " + json.dumps(unapplied), flush=True)
    timeout = float(limits.get("test_timeout_s", 2.0))
    output_limit = int(limits.get("output_bytes", 1 << 20))
    head = job.get("preamble", "") + "\n" + job.get("solution", "") + "\n"
    timeouts = 0
    for index, test in enumerate(job.get("tests", [])):
        if timeouts >= MAX_TIMEOUTS:
            print(f"T {index} skip 0", flush=True)
            continue
        if job.get("kind") == "stdio":
            outcome, output = run_test(
                job.get("solution", ""), test.get("input", ""), timeout, output_limit, True
            )
            passed = outcome == "ok" and same_output(
                output.decode("utf-8", "replace"), test.get("output", "")
            )
        else:
            script = head + job.get("setup", "") + "\n" + test.get("pre", "") + "\n" + test.get("code", "")
            outcome, _ = run_test(script, None, timeout, output_limit, False)
            passed = outcome == "ok"
        if outcome == "timeout":
            timeouts += 1
        print(f"T {index} {outcome} {1 if passed else 0}", flush=True)
    print("E", flush=True)


if __name__ == "__main__":
    main()
