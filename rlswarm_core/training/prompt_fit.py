"""Holding stage prompts to ``max_prompt_length`` tokens.

trl no longer cuts prompts, and stage prompts grow with what peers publish (critique and decide
prompts quote other nodes' answers), so without a limit one peer's long answer would make every node's
attention slower and its memory larger. A prompt over the limit keeps its shape: the longest message
loses tokens from its middle, marked with an ellipsis, until the chat-template rendering (generation
prompt included) fits. The start of a message (the question) and its end (the latest answer) stay.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

_log = logging.getLogger(__name__)

ELLIPSIS = " … "
# cutting a message re-tokenises its two halves, which can shift a token either way at the seams
_MAX_PASSES = 8


def prompt_tokens(tokenizer: Any, messages: Sequence[Mapping[str, Any]]) -> int:
    """Tokens of ``messages`` as the model sees them: chat template and generation prompt included."""
    text = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
    return len(_ids(tokenizer, text))


def fit_prompt(
    tokenizer: Any, messages: Sequence[Mapping[str, Any]], max_tokens: int
) -> tuple[list[dict[str, Any]], bool]:
    """``messages`` cut to at most ``max_tokens`` tokens, and whether anything was cut.

    The longest messages are cut first, down to a common length (so one long quote of peers' answers
    gives way before a short instruction does). When even empty messages do not fit (a limit below the
    chat template's own tokens) the shortest possible prompt is returned and a warning logged.
    """
    fitted = [dict(m) for m in messages]
    cut = False
    for _ in range(_MAX_PASSES):
        over = prompt_tokens(tokenizer, fitted) - max_tokens
        if over <= 0:
            return fitted, cut
        texts = {
            i: _ids(tokenizer, m["content"])
            for i, m in enumerate(fitted)
            if isinstance(m.get("content"), str) and m["content"]
        }
        if not texts:
            break
        lengths = [len(ids) for ids in texts.values()]
        cap = _common_cap(lengths, sum(lengths) - over)
        for i, ids in texts.items():
            if len(ids) > cap:
                fitted[i]["content"] = _cut_middle(tokenizer, ids, cap)
        cut = True
    if prompt_tokens(tokenizer, fitted) > max_tokens:
        _log.warning(
            "max_prompt_length %d is too small for this prompt's chat template; "
            "training on a %d-token prompt (raise max_prompt_length)",
            max_tokens,
            prompt_tokens(tokenizer, fitted),
        )
    return fitted, cut


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _common_cap(lengths: list[int], budget: int) -> int:
    """The largest per-message length ``cap`` with ``sum(min(length, cap)) <= budget``."""
    low, high = 0, max(lengths)
    while low < high:
        middle = (low + high + 1) // 2
        if sum(min(length, middle) for length in lengths) <= budget:
            low = middle
        else:
            high = middle - 1
    return low


def _cut_middle(tokenizer: Any, ids: list[int], length: int) -> str:
    """The text of ``ids`` in ``length`` tokens: its start, an ellipsis, its end."""
    keep = length - len(_ids(tokenizer, ELLIPSIS))
    if keep <= 1:
        return ""
    # one token more of the start when odd: it carries the instructions or the question
    head = (keep + 1) // 2
    tail = keep - head
    return tokenizer.decode(ids[:head]) + ELLIPSIS + (tokenizer.decode(ids[-tail:]) if tail else "")
