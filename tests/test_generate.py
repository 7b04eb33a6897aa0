"""The answering engines agree: transformers' generate one prompt at a time, on fixed batches (the reference
engine), continuous batching (the default), and any of them through the answer cache."""

from __future__ import annotations

import copy

import pytest

from taiyi_utils import model as models
from taiyi_utils.chat import render_prompt
from taiyi_utils.evaluation.engines import CachedEngine, ContinuousBatching, PlainBatches
from taiyi_utils.evaluation.generate import generate

PROMPTS = [
    "What is sepsis?",
    "hi",
    "Extract the diseases: the patient had diabetes and hypertension before the stroke.",
    "Translate to Chinese: heart failure",
    "Is aspirin an NSAID? Answer yes or no.",
    "Define apoptosis.",
    "Name two antibiotics for pneumonia and say briefly why each one works in the lung.",
]
LIMITS = [12, 5, 20, 9, 3, 16, 14]


@pytest.fixture(scope="module")
def noisy_llama():
    """tiny:llama with weights spread wide enough that greedy answers vary, and an end token it often emits."""
    import torch

    tokenizer, model = copy.deepcopy(models.load_tokenizer("tiny:llama")), models.load_base_model("tiny:llama")
    model.to("cuda" if torch.cuda.is_available() else "cpu")  # make gpu-check: the same answers on CUDA
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.5)
    first = one_at_a_time(model, tokenizer, PROMPTS, [12] * len(PROMPTS), as_ids=True)
    tokenizer.eos_token = tokenizer.convert_ids_to_tokens(first[0][3])  # ends some answers early
    return tokenizer, model


def one_at_a_time(model, tokenizer, prompts, limits, as_ids=False):
    """The naive path: transformers' generate on each prompt alone."""
    answers = []
    for prompt, limit in zip(prompts, limits):
        enc = tokenizer([render_prompt(prompt, tokenizer)], return_tensors="pt", add_special_tokens=False).to(
            model.device
        )
        out = model.generate(
            **enc,
            max_new_tokens=limit,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
            temperature=None,
            top_p=None,
            top_k=None,
        )
        ids = out[0, enc["input_ids"].shape[1] :].tolist()
        ids = ids[:-1] if ids[-1:] == [tokenizer.eos_token_id] else ids  # our end token is not a special one
        answers.append(ids if as_ids else tokenizer.decode(ids, skip_special_tokens=True).strip())
    return answers


@pytest.mark.gpu
def test_continuous_batching_matches_one_at_a_time_and_refills_rows(noisy_llama):
    tokenizer, model = noisy_llama
    rows_per_step, reported = [], []
    hook = model.register_forward_hook(
        lambda module, args, kwargs, out: rows_per_step.append(kwargs["input_ids"].shape), with_kwargs=True
    )
    try:
        answers = generate(
            model,
            tokenizer,
            PROMPTS,
            max_new_tokens=LIMITS,
            batch_size=3,
            on_batch=lambda indices, texts, lengths: reported.extend(zip(indices, texts)),
        )
    finally:
        hook.remove()
    assert answers == one_at_a_time(model, tokenizer, PROMPTS, LIMITS)
    lengths = [len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in answers]
    assert any(n < limit - 1 for n, limit in zip(lengths, LIMITS))  # some answers ended on the end token
    assert sorted(reported) == sorted(enumerate(answers))  # every answer reported once, as it finished
    decode_rows = [shape[0] for shape in rows_per_step if shape[1] == 1]
    assert max(decode_rows) == 3 and len(rows_per_step) - len(decode_rows) == len(PROMPTS)  # one prefill each


def test_token_budget_limits_rows_and_keeps_answers(noisy_llama):
    tokenizer, model = noisy_llama
    shortest = min(len(tokenizer(render_prompt(p, tokenizer), add_special_tokens=False)["input_ids"]) for p in PROMPTS)
    budget = 2 * (shortest + min(LIMITS)) - 1  # no two prompts fit together: rows x (padded length + limit)
    rows_per_step = []
    hook = model.register_forward_hook(
        lambda module, args, kwargs, out: rows_per_step.append(kwargs["input_ids"].shape[0]), with_kwargs=True
    )
    try:
        answers = generate(model, tokenizer, PROMPTS, max_new_tokens=LIMITS, batch_size=16, max_batch_tokens=budget)
    finally:
        hook.remove()
    assert max(rows_per_step) == 1
    assert answers == one_at_a_time(model, tokenizer, PROMPTS, LIMITS)


def test_plain_batches_are_the_reference_and_the_cache_wraps_any_engine(noisy_llama, tmp_path):
    tokenizer, model = noisy_llama
    reference = generate(PlainBatches(model, batch_size=3), tokenizer, PROMPTS, max_new_tokens=LIMITS)
    assert reference == one_at_a_time(model, tokenizer, PROMPTS, LIMITS)
    cache = tmp_path / "cache.jsonl"
    assert generate(CachedEngine(ContinuousBatching(model, 3), cache), tokenizer, PROMPTS, max_new_tokens=LIMITS) == (
        reference
    )
    lines = cache.read_text()
    assert len(lines.splitlines()) == len(PROMPTS)
    model.train()
    assert generate(CachedEngine(PlainBatches(None), cache), tokenizer, PROMPTS, max_new_tokens=LIMITS) == reference
    assert cache.read_text() == lines and model.training  # all read back: the wrapped engine (no model) never ran
    shorter = generate(CachedEngine(PlainBatches(model), cache), tokenizer, PROMPTS[:2], max_new_tokens=2)
    assert len(cache.read_text().splitlines()) == len(PROMPTS) + 2 and model.training  # a new limit is a new request
    assert shorter == generate(model, tokenizer, PROMPTS[:2], max_new_tokens=2)


def test_evaluation_settings_bound_the_answering_cache():
    """max_batch_tokens, the evaluation's memory peak, reaches the engine from the profile; nonsense is refused."""
    from taiyi_utils.evaluation.engines import load_for_answering
    from taiyi_utils.settings import EvalConfig, SettingError

    engine = load_for_answering(EvalConfig(base_model="tiny:llama", batch_size=8, max_batch_tokens=777), {})
    assert (type(engine), engine.batch_size, engine.max_batch_tokens) == (ContinuousBatching, 8, 777)
    with pytest.raises(SettingError, match="max_batch_tokens"):
        EvalConfig(base_model="tiny:llama", max_batch_tokens=0)


def test_an_adapter_answers_from_inside_the_weights_and_leaves_them_bit_for_bit(tmp_path):
    """On CPU the engine adds the adapter into the weights while answering as it: the logits are peft's own up to
    rounding (far closer than the base model's), and on leaving (even by an error) every weight is restored exactly,
    so the base model and the other adapter answer as before. DoRA, which is not a plain sum, is never merged."""
    import torch
    from peft import LoraConfig, get_peft_model

    from taiyi_utils.evaluation.engines import load_for_answering
    from taiyi_utils.settings import EvalConfig

    torch.manual_seed(0)
    paths = {}
    for label in ("stage 1", "stage 2"):
        trained = get_peft_model(models.load_base_model("tiny:llama", precision="fp32"), models.lora_config(r=4))
        with torch.no_grad():
            for name, parameter in trained.named_parameters():
                if "lora_B" in name:  # B starts at zero: give the adapter an effect to merge
                    parameter.normal_(0, 0.2)
        paths[label] = str(tmp_path / label)
        trained.save_pretrained(paths[label])
    engine = load_for_answering(EvalConfig(base_model="tiny:llama"), paths)
    model = engine.model
    assert engine.merged and engine.identity()["merged"]
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    ids = torch.tensor([list(range(3, 40))])

    def logits(label, merged):
        with torch.no_grad(), models.acting_as(model, label, merged=merged):
            return model(ids).logits.float()

    base, peft_stage2 = logits("base", False), logits("stage 2", False)
    merged_stage2 = logits("stage 2", True)
    assert (merged_stage2 - peft_stage2).abs().max() < 0.1 * (base - peft_stage2).abs().max()
    with pytest.raises(RuntimeError, match="interrupted"), engine.acting_as("stage 1"):
        raise RuntimeError("interrupted")
    assert all(torch.equal(tensor, before[name]) for name, tensor in model.state_dict().items())
    assert torch.equal(logits("base", False), base) and torch.equal(logits("stage 2", False), peft_stage2)

    dora = get_peft_model(
        models.load_base_model("tiny:llama"), LoraConfig(r=4, use_dora=True, target_modules="all-linear")
    )
    assert models.mergeable(model) and not models.mergeable(dora) and not models.mergeable(dora.get_base_model())
