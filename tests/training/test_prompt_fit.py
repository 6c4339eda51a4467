"""``max_prompt_length`` on real tokenizers: prompts are cut to fit, keep their shape, and reach trl cut."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rlswarm_core.training import prompts
from rlswarm_core.training.models import load_model
from rlswarm_core.training.prompt_fit import ELLIPSIS, fit_prompt, prompt_tokens


@pytest.fixture(scope="module")
def tokenizer(models_cache: Path):
    return load_model("builtin:tiny-qwen2", device="cpu", dtype="float32", cache_dir=models_cache).tokenizer


def _critique(answers: int, words: int = 60) -> list[dict]:
    reasoning = " ".join(["step"] * words)
    students = {
        prompts.student_label(i): f"<think>\n{reasoning} {i}\n</think>\n<answer>\n{i}\n</answer>"
        for i in range(answers)
    }
    return prompts.critique_messages("Tom has 3 apples and buys 4. How many apples now?", students)


def test_a_prompt_within_the_limit_is_left_alone(tokenizer) -> None:
    messages = prompts.answer_messages("What is 2 + 2?")
    limit = prompt_tokens(tokenizer, messages)
    fitted, cut = fit_prompt(tokenizer, messages, limit)
    assert fitted == messages and not cut


def test_a_long_prompt_is_cut_in_the_middle_of_its_longest_message(tokenizer) -> None:
    messages = _critique(answers=12)
    system_tokens = prompt_tokens(tokenizer, messages[:1])
    assert prompt_tokens(tokenizer, messages) > 1000 and system_tokens < 400
    fitted, cut = fit_prompt(tokenizer, messages, 700)
    assert cut and prompt_tokens(tokenizer, fitted) <= 700
    assert [m["role"] for m in fitted] == [m["role"] for m in messages]
    assert fitted[0] == messages[0]  # the shorter system message is untouched
    user = fitted[-1]["content"]
    assert ELLIPSIS in user
    assert user.startswith(messages[-1]["content"][:20])  # the question stays
    assert user.endswith(messages[-1]["content"][-10:])  # and the latest answer's end


def test_under_a_tight_limit_the_long_messages_give_way_evenly(tokenizer) -> None:
    messages = _critique(answers=12)
    fitted, cut = fit_prompt(tokenizer, messages, 256)
    assert cut and 200 < prompt_tokens(tokenizer, fitted) <= 256
    lengths = [len(tokenizer(m["content"], add_special_tokens=False)["input_ids"]) for m in fitted]
    assert all(ELLIPSIS in m["content"] for m in fitted)
    assert abs(lengths[0] - lengths[1]) <= 4, lengths


def test_a_limit_below_the_template_itself_still_gives_a_prompt(tokenizer, caplog) -> None:
    messages = prompts.answer_messages("What is 2 + 2?")
    with caplog.at_level(logging.WARNING, logger="rlswarm_core.training.prompt_fit"):
        fitted, cut = fit_prompt(tokenizer, messages, 8)
    assert cut and all(m["content"] == "" for m in fitted)
    assert "max_prompt_length 8 is too small" in caplog.text


def test_the_trainer_only_sees_prompts_within_max_prompt_length(models_cache: Path, tmp_path: Path) -> None:
    from rlswarm_core.settings.model import resolve
    from rlswarm_core.settings.profiles import get_profile
    from rlswarm_core.training.grpo import GrpoStageRunner

    loaded = load_model("builtin:tiny-qwen2", device="cpu", dtype="float32", cache_dir=models_cache)
    settings = resolve(
        profile_values=get_profile("local-tiny").values_for(None), flags={"max_prompt_length": 96}
    ).settings
    rows = [{"prompt": _critique(answers=6), "question_id": f"q{i}", "answer": "7"} for i in range(4)]
    assert min(prompt_tokens(loaded.tokenizer, r["prompt"]) for r in rows) > 500
    lengths: list[int] = []
    handle = loaded.model.model.register_forward_pre_hook(
        lambda module, args, kwargs: (
            lengths.append(kwargs["input_ids"].shape[1]) if kwargs.get("input_ids") is not None else None
        ),
        with_kwargs=True,
    )
    try:
        runner = GrpoStageRunner(loaded.model, loaded.tokenizer, settings, tmp_path / "work")
        runner.run_stage(rows, lambda rows, texts: [float(len(t) % 5) for t in texts], steps=1)
    finally:
        handle.remove()
    assert lengths and max(lengths) <= settings.max_prompt_length + settings.max_completion_length
