"""What ``rlswarm instances list`` shows: each instance's state, processes, progress and rewards."""

from __future__ import annotations

import time
from typing import Any


def instance_rows() -> list[dict[str, Any]]:
    """One row per instance, read from its registry record, its state file and its event journal."""
    from rlswarm_core.identity.names import animal_name
    from rlswarm_core.instances import registry
    from rlswarm_core.instances.state import liveness
    from rlswarm_core.rewards.view import read_summary

    rows = []
    now = time.time()
    for record in registry.list_records():
        live = liveness(record.name)
        summary = read_summary(record.journal, record.name)
        rows.append(
            {
                "name": record.name,
                "animal_name": animal_name(record.peer_id) if record.peer_id else "",
                "peer_id": record.peer_id,
                "role": record.role,
                "pid": live.child.pid if live.child_alive and live.child else None,
                "supervisor_pid": live.supervisor.pid if live.supervisor_alive and live.supervisor else None,
                "port": record.port,
                "state": live.state,
                "round": summary.round,
                "stage": summary.stage,
                "rewards": summary.total,
                "stages_done": len(summary.stages),
                "restarts": live.restarts,
                "last_exit_code": live.last_exit_code,
                "uptime_s": round(now - live.child_started, 1) if live.child_started else None,
                "profile": record.profile,
                "gpu": record.gpu,
            }
        )
    return rows
