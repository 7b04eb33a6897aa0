"""The vLLM engine answers as the reference engine does: same prompts, same greedy answers (CUDA and vllm only)."""

from __future__ import annotations

import pytest
import torch

from taiyi_utils import model as models
from taiyi_utils.evaluation.engines import PlainBatches, load_for_answering
from taiyi_utils.evaluation.generate import generate
from taiyi_utils.settings import EvalConfig

PROMPTS = ["What is sepsis?", "Extract the diseases: diabetes and hypertension.", "Is aspirin an NSAID?"]


@pytest.mark.gpu
def test_vllm_answers_equal_transformers_greedy_answers():
    if not torch.cuda.is_available():
        pytest.skip("the vLLM backend needs CUDA")
    pytest.importorskip("vllm", reason="the vLLM backend needs the vllm extra (its own environment)")
    config = EvalConfig(base_model="tiny:qwen2", precision="fp32", quantization="none", backend="vllm")
    tokenizer = models.load_tokenizer(config.base_model)
    engine = load_for_answering(config, {})
    reference = models.load_base_model(config.base_model, "none", precision="fp32").to("cuda")
    with engine.acting_as("base"):
        answers = generate(engine, tokenizer, PROMPTS, max_new_tokens=12)
    assert answers == generate(PlainBatches(reference), tokenizer, PROMPTS, max_new_tokens=12)


def test_the_backend_setting_is_checked():
    from taiyi_utils.settings import SettingError

    with pytest.raises(SettingError, match="backend: 'tgi' must be transformers, generate or vllm"):
        EvalConfig(backend="tgi")
