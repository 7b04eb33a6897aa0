"""The chunked loss equals transformers' causal-LM loss, value and gradients, on a padding-free batch."""

from __future__ import annotations

import pytest
import torch

from taiyi_utils import model as models
from taiyi_utils.losses import chunked_cross_entropy, hidden_states_out

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"  # make gpu-check runs these on CUDA (Liger where installed)


def lora_model_and_batch():
    from peft import get_peft_model
    from transformers import DataCollatorWithFlattening

    torch.manual_seed(0)
    model = get_peft_model(models.load_base_model("tiny:qwen2", precision="fp32"), models.lora_config(r=4, dropout=0.0))
    model.to(DEVICE)
    examples = []
    for length, answer in ((9, 4), (13, 6), (7, 2)):
        ids = torch.randint(5, 400, (length,)).tolist()
        examples.append({"input_ids": ids, "labels": [-100] * (length - answer) + ids[-answer:]})
    batch = DataCollatorWithFlattening(return_position_ids=True, separator_id=-100)(examples)
    return model, {k: v.to(DEVICE) for k, v in batch.items()}


def grads(model) -> dict[str, torch.Tensor]:
    out = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
    model.zero_grad()
    return out


@pytest.mark.gpu
@pytest.mark.parametrize("num_items", [None, 7])
def test_chunked_loss_and_gradients_equal_the_standard_loss(num_items):
    model, batch = lora_model_and_batch()
    extra = {} if num_items is None else {"num_items_in_batch": num_items}
    standard = model(**batch, **extra).loss
    standard.backward()
    expected = grads(model)

    head = model.get_output_embeddings()
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with hidden_states_out(head):
        hidden = model(**inputs).logits
    assert hidden.shape[-1] == model.config.hidden_size  # the head was bypassed: no vocabulary-wide logits
    chunked = chunked_cross_entropy(hidden, head.weight, batch["labels"], num_items, chunk=3)
    chunked.backward()
    got = grads(model)

    assert chunked.item() == pytest.approx(standard.item(), rel=1e-4)
    assert set(got) == set(expected) and len(got) > 0
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-4, atol=1e-6)
    assert model.get_output_embeddings()(hidden[:, :1]).shape[-1] == model.config.vocab_size  # head restored


def test_only_learned_positions_reach_the_head():
    """Labels shift left by one: position t predicts label t+1; an all-ignored batch has loss 0, not NaN."""
    hidden = torch.randn(1, 4, 8, requires_grad=True)
    weight = torch.randn(11, 8)
    labels = torch.tensor([[-100, -100, 3, 5]])
    expected = torch.nn.functional.cross_entropy(hidden[0, 1:3] @ weight.T, torch.tensor([3, 5]))
    assert chunked_cross_entropy(hidden, weight, labels, chunk=1).item() == pytest.approx(expected.item())
    assert chunked_cross_entropy(hidden, weight, torch.full((1, 4), -100)).item() == 0.0
