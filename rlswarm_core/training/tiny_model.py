"""``builtin:tiny-qwen2``: a 2-layer, 64-wide Qwen2 model with a byte-level BPE tokenizer trained here.

Nothing is downloaded. The tokenizer is trained with the ``tokenizers`` library on a small built-in
corpus (the stage prompts and GSM-style sentences), the weights are initialised from a seed, and both
are saved once under the models cache so later loads are plain ``from_pretrained`` calls.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rlswarm_core.training import prompts
from rlswarm_core.training.cache import build_once, quiet_transformers

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast, Qwen2ForCausalLM

NAME = "tiny-qwen2"
FORMAT_VERSION = 1
VOCAB_SIZE = 1024
HIDDEN = 64
LAYERS = 2
HEADS = 4
KV_HEADS = 2
INTERMEDIATE = 256
MAX_POSITIONS = 4096

PAD, EOS, BOS = "<|endoftext|>", "<|im_end|>", "<|im_start|>"
SPECIAL_TOKENS = [PAD, BOS, EOS]
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\n' }}{%- endif -%}"
)

_NAMES = ("Tom", "Ana", "Li", "Sam", "Maya", "Omar", "Jo", "Eve")
_THINGS = ("apples", "pencils", "coins", "books", "marbles", "eggs", "cards", "stamps")
_VERBS = ("buys", "finds", "gives away", "sells", "loses", "gets")


def corpus(seed: int = 0) -> Iterator[str]:
    """The training text: every stage prompt and reply layout, and seeded arithmetic word problems."""
    yield from (prompts.ANSWER_SYSTEM, prompts.CRITIQUE_SYSTEM, prompts.DECIDE_SYSTEM)
    rng = random.Random(seed)
    for _ in range(400):
        name, thing, verb = rng.choice(_NAMES), rng.choice(_THINGS), rng.choice(_VERBS)
        a, b = rng.randint(0, 999), rng.randint(0, 99)
        total = a + b if verb in ("buys", "finds", "gets") else a - b
        question = f"{name} has {a} {thing} and {verb} {b}. How many {thing} does {name} have now?"
        yield prompts.critique_prompt(question, {"Student #0": f"<think>\n{a} and {b}\n</think>"})
        sign = "+" if total >= a else "-"
        yield f"<think>\n{name} starts with {a}. {a} {sign} {b} = {total}.\n</think>\n"
        yield f"<answer>\n{total}\n</answer>\n"


def train_tokenizer(seed: int = 0) -> PreTrainedTokenizerFast:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(corpus(seed), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=EOS,
        pad_token=PAD,
        bos_token=None,
        chat_template=CHAT_TEMPLATE,
        model_max_length=MAX_POSITIONS,
    )


def build_model(vocab_size: int, eos_id: int, pad_id: int, seed: int = 0) -> Qwen2ForCausalLM:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=HIDDEN,
        intermediate_size=INTERMEDIATE,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS,
        max_position_embeddings=MAX_POSITIONS,
        tie_word_embeddings=True,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
    )
    # Fork the RNG so building a model never changes the caller's random stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = eos_id
    model.generation_config.pad_token_id = pad_id
    return model


def _write(target: Path, seed: int) -> None:
    quiet_transformers()
    tokenizer = train_tokenizer(seed)
    model = build_model(len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, seed)
    tokenizer.save_pretrained(str(target))
    model.save_pretrained(str(target))


def ensure_tiny_model(cache_dir: Path, seed: int = 0) -> Path:
    """The folder holding the tiny model and tokenizer for ``seed``, built on first use."""
    return build_once(
        Path(cache_dir) / f"{NAME}-v{FORMAT_VERSION}-seed{seed}", lambda target: _write(target, seed)
    )


def load_tiny_tokenizer(folder: Path) -> PreTrainedTokenizerFast:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast.from_pretrained(str(folder))
