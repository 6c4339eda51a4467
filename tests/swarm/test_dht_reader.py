"""The short-lived DHT reader that ``rewards --source dht`` uses: it reads signed records from a real
swarm in a fresh interpreter without importing torch, starts its p2pd without the caller's secrets,
leaves no daemon or socket behind, and says in one line when the swarm cannot be reached."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from rlswarm_core.swarm.coordinator import RoundStage
from rlswarm_core.swarm.exchange import Exchange
from tests.swarm.conftest import Swarm

REPO = Path(__file__).resolve().parents[2]
PLANTED = "0x" + "5e" * 32

READ = textwrap.dedent(
    """
    import json, os, sys
    import psutil
    from rlswarm_core.swarm import keys
    from rlswarm_core.swarm.reader import open_reader
    from rlswarm_core.swarm.records import check_entry

    peers, key, planted = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
    with open_reader(peers, timeout=3.0) as reader:
        daemons = [p for p in psutil.Process().children(recursive=True) if p.name() == "p2pd"]
        environs = [open(f"/proc/{p.pid}/environ", "rb").read().decode(errors="replace") for p in daemons]
        sockets = [a for p in daemons for a in p.cmdline() if ".sock" in a]
        found = reader.get_many([key], timeout=3.0)[key] or {}
        rewards = sorted(check_entry(s, v).reward for s, v in found.items())
    # what is still running once the reader closed (a zombie would be a daemon nobody waited for)
    running = [p.pid for p in psutil.Process().children(recursive=True) if p.name() == "p2pd"]
    print(json.dumps({
        "running_after": running,
        "rewards": rewards,
        "daemons": [p.pid for p in daemons],
        "secret_in_p2pd_env": any(planted in e for e in environs),
        "sockets": sockets,
        "torch": "torch" in sys.modules,
        "dht_process_class": "hivemind.dht.dht" in sys.modules,
        "caller_env_kept": os.environ.get("RLSWARM_WALLET_PRIVATE_KEY") == planted,
    }))
    """
)


def _run(code: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RLSWARM_WALLET_PRIVATE_KEY": PLANTED}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout,
    )


def test_reads_signed_records_without_torch_secrets_or_leftovers(swarm: Swarm) -> None:
    rs = RoundStage(700, 1)
    for i, node in enumerate(swarm.nodes[1:3]):
        assert Exchange(node).publish_reward(rs, 1.0 + i, steps=2)
    from rlswarm_core.swarm import keys

    done = _run(READ, json.dumps(swarm.bootstrap), keys.rewards_key(rs.round, rs.stage), PLANTED)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["rewards"] == [1.0, 2.0]
    assert len(seen["daemons"]) == 1 and not seen["secret_in_p2pd_env"]
    # the secret went back into the caller's own environment after p2pd started
    assert seen["caller_env_kept"]
    assert not seen["torch"] and not seen["dht_process_class"]
    assert seen["running_after"] == []
    paths = [arg.split("/unix", 1)[1] for arg in seen["sockets"] if "/unix" in arg]
    assert paths and not any(Path(p).exists() for p in paths)
    assert done.stderr == ""  # nothing from hivemind or asyncio in the command's output


def test_an_unreachable_swarm_is_one_line_and_leaves_no_daemon(swarm: Swarm) -> None:
    # a peer id that exists (the bootstrap node's) behind a port where nobody listens
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    peer_id = swarm.bootstrap[0].rsplit("/p2p/", 1)[1]
    code = textwrap.dedent(
        """
        import glob, json, sys, psutil
        from rlswarm_core.errors import RlswarmError
        before = set(glob.glob("/tmp/hivemind-p2pd-*.sock"))
        from rlswarm_core.swarm.reader import open_reader
        try:
            with open_reader([sys.argv[1]], timeout=1.0):
                print("joined")
        except RlswarmError as exc:
            print(json.dumps({"line": exc.one_line()}))
        left = [p.pid for p in psutil.Process().children(recursive=True) if p.name() == "p2pd"]
        new_sockets = sorted(set(glob.glob("/tmp/hivemind-p2pd-*.sock")) - before)
        print(json.dumps({"left": left, "sockets": new_sockets}))
        """
    )
    done = _run(code, f"/ip4/127.0.0.1/tcp/{port}/p2p/{peer_id}")
    assert done.returncode == 0, done.stderr
    first, second = (json.loads(line) for line in done.stdout.strip().splitlines()[-2:])
    assert first["line"].startswith(f"could not reach the swarm through /ip4/127.0.0.1/tcp/{port}")
    assert "\n" not in first["line"] and "Traceback" not in done.stderr
    assert second["left"] == [] and second["sockets"] == []
    assert done.stderr == ""


def test_the_stand_in_packages_complete_themselves_for_other_callers() -> None:
    code = textwrap.dedent(
        """
        import sys
        from rlswarm_core.swarm.light_import import dht_node_class
        dht_node_class()
        assert "torch" not in sys.modules
        from hivemind.utils import MPFuture, get_dht_time  # MPFuture is not among the light names
        from hivemind.dht import DHT
        import hivemind
        assert hivemind.DHT is DHT and callable(get_dht_time) and MPFuture is not None
        print("torch" in sys.modules)
        """
    )
    done = _run(code, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"  # the full package ran, torch and all, once it was asked for
