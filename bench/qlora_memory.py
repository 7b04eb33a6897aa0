"""Predicted peak GPU memory of Taiyi's QLoRA run on a 7B model, with and without the chunked loss.

    python bench/qlora_memory.py                    # Qwen2-7B's shape at 12 x 1024, both vocabularies

A prediction from the model's shape, not a measurement (a CUDA run of bench/train_throughput.py
measures it). Assumptions, per component:
  base      linear weights in NF4 with double quantisation: 0.5 byte + 1/64 byte (8-bit absmax per 64
            weights) + 4/16384 byte (fp32 constant per 256 blocks) per weight; embeddings and head in bf16
  adapter   LoRA r on every linear layer: fp32 weight, gradient and AdamW's two moments (16 bytes each)
  saved     gradient checkpointing keeps each layer's input: tokens x hidden x 2 bytes per layer
  layer     one layer recomputed in backward: about 6 hidden-wide and 4 intermediate-wide bf16 tensors per token
  logits    transformers' loss: bf16 logits, their fp32 copy, fp32 log-softmax kept for backward and the
            fp32 gradient: 14 bytes per token and vocabulary entry; chunked: the same for CHUNK tokens only
  context   CUDA context and allocator slack: 1 GiB
"""

from __future__ import annotations

import argparse

from common import parse, report  # bench/common.py (the script's folder is on sys.path)

from taiyi_utils.losses import CHUNK
from taiyi_utils.model_files import RANDOM

GIB = 2**30


def predict(shape: dict, vocab: int, tokens: int, rank: int, chunked: bool) -> dict[str, float]:
    h, i, layers = shape["hidden_size"], shape["intermediate_size"], shape["num_hidden_layers"]
    kv = h // shape["num_attention_heads"] * shape["num_key_value_heads"]
    linears = [(h, h), (h, kv), (h, kv), (h, h), (h, i), (h, i), (i, h)]  # q k v o gate up down
    weights = layers * sum(a * b for a, b in linears)
    adapter = layers * sum(rank * (a + b) for a, b in linears)
    logit_tokens = min(tokens, CHUNK) if chunked else tokens
    parts = {
        "base (NF4 + bf16 embeddings, head)": weights * (0.5 + 1 / 64 + 4 / 16384) + 2 * vocab * h * 2,
        "adapter + AdamW": adapter * 16,
        "saved layer inputs": layers * tokens * h * 2,
        "one layer recomputed": tokens * (6 * h + 4 * i) * 2,
        "logits and loss": logit_tokens * vocab * 14,
        "CUDA context": GIB,
    }
    return {k: v / GIB for k, v in parts.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=12)
    parser.add_argument("--max-length", type=int, default=1024)
    parser.add_argument("--rank", type=int, default=64)
    args = parse(parser, batch_size=1, max_length=64, rank=4)
    shape, tokens = RANDOM["random:qwen2-7b"], args.batch_size * args.max_length
    rows = []
    for model, vocab in (("random:qwen2-7b (embedded tokenizer)", 49152), ("Qwen2-7B", 152064)):
        for chunked in (False, True):
            parts = predict(shape, vocab, tokens, args.rank, chunked)
            rows.append(
                {
                    "model": model,
                    "vocabulary": vocab,
                    "loss": "chunked" if chunked else "full logits",
                    **{k: round(v, 2) for k, v in parts.items()},
                    "predicted peak GiB": round(sum(parts.values()), 1),
                }
            )
    report(
        "QLoRA peak memory, predicted (bench/qlora_memory.py)",
        rows,
        [
            f"Predicted from the shape, not measured: {args.batch_size} x {args.max_length} tokens per device, LoRA r "
            f"{args.rank} on every linear layer, NF4 + double quantisation, gradient checkpointing, bf16 compute, "
            f"chunks of {CHUNK} tokens. Assumptions in the script's docstring.",
            "Answer-only loss makes the chunked path cheaper still: only learned tokens reach the head.",
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
