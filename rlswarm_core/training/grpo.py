"""One GRPO stage on trl's ``GRPOTrainer``, configured and extended with callbacks (never forked).

The runner keeps one model and tokenizer across stages and rounds; each stage gets a fresh trainer
(cheap: the model object is reused) over that stage's rows. A single reward function per stage scores
every completion with the stage's pure reward functions and records, per question, the best
completion and the running stage reward, which is what the node publishes to the swarm.

A trainer per stage needs two corrections to trl's one-trainer-per-run assumptions, both kept here:
- the KL reference. trl reloads it from the model's original path in every trainer (seconds for a
  real model, and a crash once that path, a pruned checkpoint, is gone) and, for a LoRA model, adds a
  ``ref`` adapter that a third trainer cannot add again. The runner copies the reference once and
  lends it to every trainer; LoRA nodes use the model with its adapter disabled, which is the model
  the adapter started from.
- the model's ``forward``. Each trainer wraps it (fused LM head, mixed precision) and never unwraps
  it, so the wrappers would pile up stage after stage until Python's recursion limit. The runner
  puts back the plain ``forward`` after every stage.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from rlswarm_core.settings.model import NodeSettings
from rlswarm_core.training.prompt_fit import fit_prompt

_log = logging.getLogger(__name__)

# rows and completions (plain text) in, one reward per completion out
ScoreFn = Callable[[Sequence[Mapping[str, Any]], Sequence[str]], list[float]]


@dataclass
class StageProgress:
    """What the stage has produced so far; handed to the publish hook every N steps."""

    step: int = 0
    steps: int = 0
    reward_sum: float = 0.0
    completions_scored: int = 0
    completion_tokens: int = 0
    best: dict[str, tuple[str, float]] = field(default_factory=dict)  # question id -> (completion, reward)
    started: float = field(default_factory=time.monotonic)

    @property
    def mean_reward(self) -> float:
        return self.reward_sum / self.completions_scored if self.completions_scored else 0.0

    @property
    def tokens_per_second(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.completion_tokens / elapsed if elapsed > 0 else 0.0


@dataclass
class StageResult:
    progress: StageProgress
    seconds: float
    stopped_early: bool


def completion_text(completion: Any) -> str:
    """trl hands conversational completions as message lists, plain ones as strings."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list) and completion and isinstance(completion[-1], Mapping):
        return str(completion[-1].get("content", ""))
    return ""


class _Recorder:
    def __init__(self, rows: Sequence[Mapping[str, Any]], score: ScoreFn, progress: StageProgress) -> None:
        self.rows = rows
        self.score = score
        self.progress = progress
        self.lock = threading.Lock()
        self.__name__ = "stage_reward"  # trl names reward columns after the function

    def __call__(
        self, prompts: list[Any], completions: list[Any], row_id: list[int], **kwargs: Any
    ) -> list[float]:
        texts = [completion_text(c) for c in completions]
        contexts = [self.rows[i] for i in row_id]
        rewards = [
            float(r) if r is not None and math.isfinite(r) else 0.0 for r in self.score(contexts, texts)
        ]
        ids = kwargs.get("completion_ids") or []
        with self.lock:
            p = self.progress
            p.reward_sum += sum(rewards)
            p.completions_scored += len(rewards)
            p.completion_tokens += sum(len(x) for x in ids)
            for ctx, text, reward in zip(contexts, texts, rewards, strict=True):
                qid = str(ctx["question_id"])
                current = p.best.get(qid)
                if current is None or reward > current[1]:
                    p.best[qid] = (text, reward)
        return rewards


def training_precision(device: str, dtype: str) -> dict[str, Any]:
    """Trainer precision flags for a device/dtype pair. The weights themselves are loaded in ``dtype``;
    mixed precision is only asked of CUDA, where it is reliable."""
    return {
        "bf16": device == "cuda" and dtype == "bfloat16",
        "fp16": device == "cuda" and dtype == "float16",
        "use_cpu": device == "cpu",
    }


def vllm_enabled(wanted: bool, device: str, gpus: int = 1, quantization: str = "none") -> bool:
    """vLLM generation (colocated in the trainer) only where it can run, see
    :func:`~rlswarm_core.training.device.choose_vllm`; otherwise trl's own generation, with a log line
    saying why (a profile that asks for vLLM still runs without it)."""
    from rlswarm_core.training.device import Capabilities, choose_vllm, installed

    caps = Capabilities(cuda=device == "cuda", vllm=installed("vllm"))
    reason = choose_vllm(wanted, device, caps, gpus, quantization)
    if wanted and reason:
        level = logging.WARNING if device == "cuda" else logging.INFO
        _log.log(level, "use_vllm ignored: %s", reason)
    return not reason


class GrpoStageRunner:
    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        settings: NodeSettings,
        work_dir: Path,
        device: str = "cpu",
        seed: int = 42,
        dtype: str | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings
        self.work_dir = Path(work_dir)
        self.device = device
        self.seed = seed
        # the dtype the device resolved to (auto, or a fallback such as bfloat16 -> float16 on older GPUs)
        self.dtype = dtype or settings.dtype
        self.trainer: Any = None
        self.global_step = 0
        self._reference: Any = None
        s = settings
        self.use_vllm = vllm_enabled(s.use_vllm, device, s.gpus, s.quantization)
        # the colocated vLLM engine, started by the first stage's trainer and lent to the later ones
        self._vllm: Any = None

    def _config(self, steps: int) -> Any:
        from trl import GRPOConfig

        s = self.settings
        return GRPOConfig(
            output_dir=str(self.work_dir / "trainer"),
            max_steps=steps,
            per_device_train_batch_size=s.batch_size,
            num_generations=s.num_generations,
            max_completion_length=s.max_completion_length,
            gradient_accumulation_steps=s.gradient_accumulation_steps,
            learning_rate=s.learning_rate,
            lr_scheduler_type="cosine",
            # transformers 5 reads a float below 1 as a fraction of the total steps
            warmup_steps=s.warmup_ratio,
            # trl would build (or add) its own reference with beta > 0; the runner lends one instead
            beta=0.0,
            # a later stage's trainer must not start a second engine: it borrows the first one
            use_vllm=self.use_vllm and self._vllm is None,
            vllm_mode="colocate",
            report_to=[],
            save_strategy="no",
            logging_steps=1,
            disable_tqdm=True,
            seed=self.seed,
            dataloader_num_workers=0,
            **training_precision(self.device, self.dtype),
        )

    def run_stage(
        self,
        rows: Sequence[Mapping[str, Any]],
        score: ScoreFn,
        steps: int,
        on_publish: Callable[[StageProgress], None] | None = None,
        publish_every: int = 4,
        stop: threading.Event | None = None,
        on_log: Callable[[dict[str, float]], None] | None = None,
    ) -> StageResult:
        """Train ``steps`` GRPO steps over ``rows`` (each with ``prompt`` messages and ``question_id``)."""
        from datasets import Dataset
        from transformers import TrainerCallback
        from transformers.trainer_callback import PrinterCallback, ProgressCallback
        from trl import GRPOTrainer

        if not rows:
            raise ValueError("a stage needs at least one row")
        progress = StageProgress(steps=steps)
        recorder = _Recorder(rows, score, progress)
        limit = self.settings.max_prompt_length
        fitted = [fit_prompt(self.tokenizer, r["prompt"], limit) for r in rows]
        if any(cut for _, cut in fitted):
            _log.info(
                "%d of %d prompts cut to max_prompt_length (%d tokens)",
                sum(cut for _, cut in fitted),
                len(rows),
                limit,
            )
        dataset = Dataset.from_list([{"prompt": prompt, "row_id": i} for i, (prompt, _) in enumerate(fitted)])
        runner = self

        class _Hooks(TrainerCallback):
            def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
                progress.step = state.global_step
                runner.global_step += 1
                if on_publish is not None and (
                    state.global_step % publish_every == 0 or state.global_step == steps
                ):
                    on_publish(progress)
                if stop is not None and stop.is_set():
                    control.should_training_stop = True
                return control

            def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> Any:
                if on_log is not None and logs:
                    on_log({k: float(v) for k, v in logs.items() if isinstance(v, int | float)})
                return control

        started = time.monotonic()
        reference = self._reference_model()
        plain = _ForwardRestorer(self.model)
        hooks = _HookRestorer(self.model)
        plain_reference = _ForwardRestorer(reference) if reference is not None else None
        trainer = GRPOTrainer(
            model=self.model,
            reward_funcs=[recorder],
            args=self._config(steps),
            train_dataset=dataset,
            processing_class=self.tokenizer,
            callbacks=[_Hooks()],
            peft_config=self._lora_config(),
        )
        try:
            # With LoRA the trainer wraps the model once; later stages keep training that same adapter.
            self.model = trainer.model
            self._lend_reference(trainer, reference)
            self._lend_vllm(trainer)
            # The engine never prints: progress reaches the operator through events.
            trainer.remove_callback(PrinterCallback)
            trainer.remove_callback(ProgressCallback)
            self.trainer = trainer
            trainer.train()
        finally:
            plain.restore(trainer.model)
            hooks.restore()
            if plain_reference is not None:
                # mixed precision wraps the reference's forward as well, once per trainer
                plain_reference.restore(reference)
        stopped = stop is not None and stop.is_set() and progress.step < steps
        return StageResult(progress=progress, seconds=time.monotonic() - started, stopped_early=stopped)

    def _reference_model(self) -> Any:
        """The frozen KL reference for full fine-tuning: a copy of the model as this process first
        trains it (the start model, or the checkpoint it resumed from), made once."""
        if self.settings.beta == 0 or self.settings.lora or hasattr(self.model, "peft_config"):
            return None
        if self._reference is None:
            import copy

            # Copied before any trainer has wrapped the model's forward (each stage puts it back).
            reference = copy.deepcopy(self.model)
            reference.requires_grad_(False)
            reference.eval()
            self._add_fused_head(reference)
            self._reference = reference
        return self._reference

    def _add_fused_head(self, reference: Any) -> None:
        """What trl does to the reference it builds itself: log-probs straight from a fused LM head."""
        try:
            from trl.trainer.utils import add_fused_lm_head
        except ImportError:  # an older trl scores the reference through the plain forward
            return
        args = self._config(1)
        add_fused_lm_head(
            reference, temperature=args.temperature, cast_lm_head_to_fp32=args.cast_lm_head_to_fp32
        )

    def _lend_reference(self, trainer: Any, reference: Any) -> None:
        """Turn the KL term back on in ``trainer`` with the runner's reference (None: LoRA, whose
        trainer computes the reference with the adapter disabled)."""
        trainer.beta = self.settings.beta
        if not trainer.beta or reference is None:
            return
        trainer.ref_model = trainer.accelerator.prepare_model(reference, evaluation_mode=True)

    def _lend_vllm(self, trainer: Any) -> None:
        """One vLLM engine per process: each engine takes its share of GPU memory and a long start, so
        the first trainer's engine generates for every later stage's trainer too."""
        if not self.use_vllm:
            return
        if self._vllm is None:
            self._vllm = trainer.vllm_generation
            return
        self._vllm.model = trainer.model
        trainer.vllm_generation = self._vllm
        trainer.use_vllm = True
        # a new trainer restarts at step 0: push its weights to the engine before it first generates
        trainer._last_loaded_step = -1

    def _lora_config(self) -> Any:
        """A LoRA adapter config the first time a LoRA node trains; None once the model carries one."""
        if not self.settings.lora or hasattr(self.model, "peft_config"):
            return None
        from peft import LoraConfig

        return LoraConfig(
            r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear", task_type="CAUSAL_LM"
        )

    def save(self, folder: Path, with_optimizer: bool = False) -> None:
        """Model (safetensors), tokenizer, and optionally the last stage's optimizer state."""
        self.model.save_pretrained(folder, safe_serialization=True)
        self.tokenizer.save_pretrained(folder)
        generation = getattr(self.model, "generation_config", None)
        if generation is not None:
            generation.save_pretrained(folder)
        if with_optimizer and self.trainer is not None and self.trainer.optimizer is not None:
            import torch

            torch.save(self.trainer.optimizer.state_dict(), Path(folder) / "optimizer.pt")


class _ForwardRestorer:
    """Remembers the ``forward`` a model (and, for LoRA, its base model) had before a trainer wrapped
    it, and puts it back afterwards."""

    _ABSENT = object()

    def __init__(self, model: Any) -> None:
        self._saved = {id(m): (m, m.__dict__.get("forward", self._ABSENT)) for m in _forward_owners(model)}

    def restore(self, model: Any) -> None:
        for owner in _forward_owners(model):
            self._saved.setdefault(id(owner), (owner, self._ABSENT))
        for owner, forward in self._saved.values():
            if forward is self._ABSENT:
                owner.__dict__.pop("forward", None)
            else:
                owner.forward = forward


class _HookRestorer:
    """Remembers the hooks on each module of a model before a trainer runs, and removes the ones the
    trainer added once it is done.

    transformers registers a hook on the input embeddings each time gradient checkpointing is enabled
    and forgets the earlier handle; trl enables it for each trainer. A node builds a trainer per stage
    for as long as it runs, so the hooks piled up (three a stage), every one of them run on every forward
    pass: the node trained slower the longer it had been up. The next trainer adds what it needs again.
    """

    _KINDS: ClassVar[tuple[str, ...]] = (
        "_forward_hooks",
        "_forward_pre_hooks",
        "_backward_hooks",
        "_backward_pre_hooks",
    )
    # torch keeps per-hook flags beside the hooks, under the same handle id
    _FLAGS: ClassVar[dict[str, tuple[str, ...]]] = {
        "_forward_hooks": ("_forward_hooks_with_kwargs", "_forward_hooks_always_called"),
        "_forward_pre_hooks": ("_forward_pre_hooks_with_kwargs",),
    }

    def __init__(self, model: Any) -> None:
        self._before = [
            (module, {kind: set(getattr(module, kind, None) or ()) for kind in self._KINDS})
            for module in model.modules()
        ]

    def restore(self) -> None:
        for module, before in self._before:
            for kind, kept in before.items():
                hooks = getattr(module, kind, None)
                if not hooks:
                    continue
                for handle_id in [h for h in hooks if h not in kept]:
                    del hooks[handle_id]
                    for flags in self._FLAGS.get(kind, ()):
                        getattr(module, flags, {}).pop(handle_id, None)


def _forward_owners(model: Any) -> list[Any]:
    owners = [model]
    get_base = getattr(model, "get_base_model", None)
    if callable(get_base):
        base = get_base()
        if base is not model:
            owners.append(base)
    return owners
