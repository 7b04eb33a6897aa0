"""The causal-LM loss without the full logits: the LM head applied chunk by chunk to the answer tokens only.

At Taiyi's batch (12 x 1024 tokens) and Qwen's 152k vocabulary the logits alone are 7.5 GB in fp32,
more than a 7B model in 4 bits. Here the decoder's last hidden states come out of the model (the
head is bypassed for that forward), only positions whose label is learned are kept (answers only:
often a minority of tokens), and the head and cross-entropy run over ``chunk`` of them at a time;
backward recomputes each chunk's logits instead of keeping them. Loss and gradients equal the
standard loss (tests/test_losses.py). On CUDA with Liger installed, its fused kernel does the same.
"""

from __future__ import annotations

import importlib.util
from contextlib import contextmanager

from .chat import IGNORE

CHUNK = 256  # tokens whose logits exist at once: 256 x 152k x 4 bytes = 0.16 GB per fp32 copy for Qwen


def _chunk_loss(hidden, weight, labels):
    import torch.nn.functional as F

    # accelerate returns the hidden states in fp32 outside autocast; the head runs in its weight's dtype
    return F.cross_entropy((hidden.to(weight.dtype) @ weight.T).float(), labels, reduction="sum")


def chunked_cross_entropy(hidden, weight, labels, num_items_in_batch=None, chunk: int = CHUNK):
    """transformers' causal-LM loss (labels shifted left by one, -100 ignored, mean over learned tokens or sum
    over ``num_items_in_batch``) from ``hidden`` states [batch, tokens, dim] and the head's ``weight``."""
    import torch
    import torch.nn.functional as F
    from torch.utils.checkpoint import checkpoint

    targets = F.pad(labels, (0, 1), value=IGNORE)[..., 1:].reshape(-1)
    learned = targets != IGNORE
    hidden, targets = hidden.reshape(-1, hidden.shape[-1])[learned], targets[learned]
    if _use_liger(hidden):
        from liger_kernel.transformers import LigerFusedLinearCrossEntropyLoss

        total = LigerFusedLinearCrossEntropyLoss(reduction="sum")(weight, hidden, targets)
    else:
        total = hidden.new_zeros((), dtype=torch.float32)
        for start in range(0, len(targets), chunk):
            part = slice(start, start + chunk)
            total = total + checkpoint(_chunk_loss, hidden[part], weight, targets[part], use_reentrant=False)
    if num_items_in_batch is None:
        return total / learned.sum().clamp(min=1)
    return total / num_items_in_batch


def _use_liger(hidden) -> bool:
    return hidden.is_cuda and importlib.util.find_spec("liger_kernel") is not None


@contextmanager
def hidden_states_out(head):
    """For the forwards inside, the LM ``head`` passes its input through: the model's "logits" are the hidden states."""
    head.forward = lambda hidden: hidden
    try:
        yield head
    finally:
        del head.forward


def answer_loss_sum(model, batch: dict) -> tuple[float, int]:
    """(summed loss, learned tokens) of one batch, without the full logits: losses of several batches add up."""
    inputs = dict(batch)
    labels = inputs.pop("labels")
    head = model.get_output_embeddings()
    with hidden_states_out(head):
        hidden = model(**inputs).logits
    learned = int((labels[..., 1:] != IGNORE).sum())
    return float(chunked_cross_entropy(hidden, head.weight, labels, num_items_in_batch=1)), learned
