"""The engines that answer prompts: transformers (continuous batching, the default) or vLLM on CUDA.

Both hold one base model with every adapter and act as any of them (``model.acting_as``); ``generate`` takes
either. Living here rather than in ``model.py`` keeps the layers pointing down: the vLLM engine builds on
``model``, never the reverse.
"""

from __future__ import annotations

from .. import model as models


def load_for_answering(config, adapters: dict[str, str]):
    """The base model with every adapter, on ``config.backend`` (an ``AnswerSettings``): transformers or vLLM."""
    if config.backend == "vllm":
        from .vllm_backend import VllmModel

        return VllmModel(config.base_model, adapters, config.quantization, config.precision, config.trust_remote_code)
    return models.load_with_adapters(
        config.base_model, adapters, config.quantization, config.trust_remote_code, config.precision
    )
