"""DHT key names, identical to the reference node's so that tools reading the swarm keep working."""

from __future__ import annotations

import hashlib

ROUND_STAGE_KEY = "rl_swarm_rs"


def outputs_key(peer_id: str, round_: int, stage: int) -> str:
    return f"rl_swarm_outputs_{peer_id}_{round_}_{stage}"


def rewards_key(round_: int, stage: int) -> str:
    return f"rl_swarm_rewards_{round_}_{stage}"


def leaderboard_key(round_: int, stage: int) -> str:
    return f"rl_swarm_leaderboard_{round_}_{stage}"


def question_hash(question: str) -> str:
    """Outputs are grouped by the md5 of the question, as the reference node does."""
    return hashlib.md5(question.encode("utf-8")).hexdigest()
