"""vLLM as the answering engine on CUDA (``backend: vllm``): the same prompts, limits, cache and scoring.

One engine holds the base model; each stage's adapter is a LoRA request, so base and stages are
answered by one loaded model, as with transformers. Decoding is greedy. Install it in its own
environment (``pip install -e ".[vllm]"``: vLLM pins its own torch); continuous batching on
transformers stays the default and the CPU path.
"""

from __future__ import annotations

from contextlib import contextmanager


class VllmEngine:
    """A vLLM engine over ``base_model`` acting as the base or as one of ``adapters`` (label -> folder).

    The model is split over every visible GPU (tensor parallelism, ``tensor_parallel_size``); choose the GPUs
    with ``CUDA_VISIBLE_DEVICES``. A model that fits one GPU answers faster as one engine per GPU, which vLLM
    runs as separate processes: not wired here (the transformers engines shard under accelerate instead)."""

    backend = "vllm"

    def __init__(
        self,
        base_model: str,
        adapters: dict[str, str],
        quantization: str = "auto",
        precision: str = "auto",
        trust_remote_code: bool = False,
        max_lora_rank: int = 64,
    ):
        import torch
        from vllm import LLM

        from .. import model as models
        from ..model_files import model_path

        self.dtype = "bfloat16" if models.resolve_precision(precision) == "bf16" else "float32"
        self.is_loaded_in_4bit = models.use_4bit(quantization)
        self.adapters = dict(adapters)
        self.engine = LLM(
            model=model_path(base_model),
            dtype=self.dtype,
            quantization="bitsandbytes" if self.is_loaded_in_4bit else None,
            enable_lora=bool(adapters),
            max_lora_rank=max_lora_rank,
            max_loras=max(1, len(adapters)),
            trust_remote_code=trust_remote_code,
            tensor_parallel_size=max(1, torch.cuda.device_count()),
            seed=0,
        )
        self.lora = None

    def identity(self) -> dict:
        return {"backend": self.backend, "dtype": self.dtype, "4bit": self.is_loaded_in_4bit}

    @contextmanager
    def acting_as(self, label: str):
        from vllm.lora.request import LoRARequest

        if label != "base" and label not in self.adapters:
            raise KeyError(f"no adapter {label!r} loaded; have {['base', *self.adapters]}")
        index = list(self.adapters).index(label) + 1 if label != "base" else 0
        self.lora = LoRARequest(label, index, self.adapters[label]) if index else None
        try:
            yield self
        finally:
            self.lora = None

    def answer_ids(self, prompt_ids, limits, eos_token_id, on_answers=None) -> list[list[int]]:
        """Greedy answer token ids per prompt, without the end token (vLLM batches by itself)."""
        from vllm import SamplingParams

        stop = [eos_token_id] if eos_token_id is not None else None
        params = [SamplingParams(temperature=0.0, max_tokens=n, stop_token_ids=stop, detokenize=False) for n in limits]
        prompts = [{"prompt_token_ids": ids} for ids in prompt_ids]
        outputs = self.engine.generate(prompts, params, lora_request=self.lora, use_tqdm=True)
        answers = [list(out.outputs[0].token_ids) for out in outputs]
        answers = [ids[:-1] if ids[-1:] == [eos_token_id] else ids for ids in answers]
        if on_answers is not None and answers:
            on_answers(dict(enumerate(answers)))
        return answers
