"""The node exempts its start-up objects from the cyclic collector; what it makes later is still collected."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_startup_heap_is_frozen_once_and_later_garbage_is_still_collected() -> None:
    code = textwrap.dedent(
        """
        import gc, weakref
        from rlswarm_core.node.engine import freeze_startup_heap

        freeze_startup_heap()
        frozen = gc.get_freeze_count()
        freeze_startup_heap()
        assert gc.get_freeze_count() == frozen, "frozen twice"
        assert frozen > 10_000, frozen  # torch, transformers and trl are among them

        class Trainer:
            pass

        later = Trainer()
        later.me = later  # a reference cycle, as a stage's trainer and its callbacks are
        ref = weakref.ref(later)
        del later
        gc.collect()
        assert ref() is None, "an object made after the freeze was not collected"
        print("ok")
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
