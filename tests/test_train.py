"""SFT mechanics: answer-only loss, padding-free batches without cross-example attention, kill -9 + resume, DDP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from taiyi_utils import chat, model_files
from taiyi_utils import model as models
from taiyi_utils.files import write_jsonl
from taiyi_utils.settings import TrainConfig
from taiyi_utils.train import COMPLETE, fit, latest_checkpoint, setup

TURNS = [{"human": "Hi", "assistant": "Hello!"}, {"human": "Name a drug", "assistant": "aspirin"}]


@pytest.fixture(scope="module")
def tokenizer():
    return models.load_tokenizer("embedded:smollm2-135m")


def answer_text(tokenizer, encoded) -> str:
    return tokenizer.decode([i for i, label in zip(encoded["input_ids"], encoded["labels"]) if label != chat.IGNORE])


def test_random_qwen2_7b_has_qwen2_7b_shape(tokenizer):
    """The GPU benchmark's stand-in: Qwen2-7B's published 7,615,616,512 parameters, less the smaller vocabulary."""
    from transformers import AutoModelForCausalLM

    config, dtype = model_files.random_config("random:qwen2-7b", tokenizer)
    with torch.device("meta"):
        parameters = sum(p.numel() for p in AutoModelForCausalLM.from_config(config).parameters())
    qwen2_vocabulary, hidden = 152_064, 3584  # embeddings and head are untied: two matrices
    assert parameters == 7_615_616_512 - 2 * (qwen2_vocabulary - len(tokenizer)) * hidden
    assert dtype == torch.bfloat16


def test_loss_covers_every_assistant_turn_and_nothing_else(tokenizer):
    templated = chat.encode_conversation(TURNS, tokenizer, "template")
    assert answer_text(tokenizer, templated) == "Hello!<|im_end|>\naspirin<|im_end|>\n"
    assert tokenizer.decode(templated["input_ids"]).count("<|im_start|>user") == 2
    taiyi = chat.encode_conversation(TURNS, tokenizer, "taiyi")
    eod = tokenizer.eos_token
    assert tokenizer.decode(taiyi["input_ids"]) == f"{eod}Hi{eod}Hello!{eod}Name a drug{eod}aspirin{eod}"
    assert answer_text(tokenizer, taiyi) == f"Hello!{eod}aspirin{eod}"
    assert len(chat.encode_conversation(TURNS, tokenizer, "template", max_length=7)["labels"]) == 7
    with pytest.raises(ValueError, match="chat_format"):
        chat.encode_conversation(TURNS, tokenizer, "chatml")


def test_packed_examples_do_not_attend_to_each_other():
    from transformers import DataCollatorWithFlattening

    model = models.load_base_model("tiny:qwen2").eval()
    a, b = [5, 17, 300, 42, 9, 77], [8, 1000, 23, 4]
    batch = DataCollatorWithFlattening(return_position_ids=True)(
        [{"input_ids": a, "labels": a}, {"input_ids": b, "labels": b}]
    )
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits[0]
        alone = [model(input_ids=torch.tensor([x])).logits[0] for x in (a, b)]
        leaky = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"]).logits[0]
    assert torch.allclose(packed[:6], alone[0], atol=1e-5) and torch.allclose(packed[6:], alone[1], atol=1e-5)
    assert not torch.allclose(leaky[6:], alone[1], atol=1e-3)  # why setup() turns the KV cache off


def mixture(tmp_path: Path, n: int = 48) -> str:
    rows = [
        {
            "conversation": [
                {
                    "human": f"Extract the chemical entities: patient {i} took drug{i % 7}.",
                    "assistant": f"chemical: drug{i % 7}",
                }
            ]
        }
        for i in range(n)
    ]
    return str(write_jsonl(tmp_path / "mix.jsonl", rows))


def test_setup_attaches_lora_to_all_linear_layers_and_splits_eval(tmp_path):
    run = setup(
        TrainConfig(
            data=mixture(tmp_path),
            output_dir=str(tmp_path / "out"),
            base_model="tiny:llama",
            max_steps=1,
            eval_fraction=0.25,
            eval_max=5,
        )
    )
    assert run.model.config.use_cache is False and not run.quantized
    names = {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n, _ in run.model.named_parameters() if "lora_A" in n}
    assert names == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert (len(run.train_set), len(run.eval_set)) == (43, 5)


def write_config(tmp_path: Path, name: str, **overrides) -> Path:
    config = dict(
        data=mixture(tmp_path),
        output_dir=str(tmp_path / name),
        base_model="tiny:llama",
        max_steps=16,
        batch_size=4,
        grad_accumulation=1,
        learning_rate=0.01,
        save_steps=4,
        eval_steps=8,
        logging_steps=2,
        lora_r=8,
        lora_alpha=16,
    )
    config.update(overrides)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def train_cli(config: Path, *launcher: str) -> subprocess.Popen:
    cmd = (
        [*launcher, "-m", "taiyi_utils.train", "--config", str(config), "--stage", "2"]
        if launcher
        else [sys.executable, "-m", "taiyi_utils.train", "--config", str(config), "--stage", "2"]
    )
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def adapter(out: Path) -> dict:
    return load_file(out / "adapter" / "adapter_model.safetensors")


@pytest.mark.slow
@pytest.mark.gpu
def test_resume_after_kill_9_matches_an_uninterrupted_run(tmp_path):
    straight = train_cli(write_config(tmp_path, "straight", resume="never"))
    assert straight.wait(timeout=300) == 0, straight.stdout.read()

    interrupted = write_config(tmp_path, "interrupted")
    proc = train_cli(interrupted)
    checkpoints = tmp_path / "interrupted" / "checkpoints"
    deadline = time.monotonic() + 240
    while not (checkpoints / "checkpoint-8" / COMPLETE).exists():
        assert proc.poll() is None and time.monotonic() < deadline, "training ended before it could be killed"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "interrupted" / "adapter").exists()
    (checkpoints / "checkpoint-12").mkdir(exist_ok=True)  # a save cut short by the kill: no COMPLETE marker
    assert latest_checkpoint(checkpoints)[0].name == "checkpoint-8"

    resumed = train_cli(interrupted)
    output = resumed.communicate(timeout=300)[0]
    assert resumed.returncode == 0, output
    assert "resuming from" in output and "checkpoint-8" in output
    card = json.loads((tmp_path / "interrupted" / "train_card.json").read_text())
    assert card["steps"] == 16 and card["resumed_from"].endswith("checkpoint-8")
    a, b = adapter(tmp_path / "straight"), adapter(tmp_path / "interrupted")
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
    assert any(a[k].abs().sum() > 0 for k in a if "lora_B" in k)  # training moved the adapter at all
    steps = [
        r["step"]
        for r in map(json.loads, (tmp_path / "interrupted" / "log.jsonl").read_text().splitlines())
        if "loss" in r
    ]
    assert steps == sorted(set(steps))  # the log was rolled back to the checkpoint, not duplicated


@pytest.mark.slow
def test_two_cpu_processes_train_with_ddp_under_accelerate(tmp_path):
    short = dict(max_steps=4, save_steps=100, eval_steps=100)
    single = train_cli(write_config(tmp_path, "single", **short))
    assert single.wait(timeout=300) == 0, single.stdout.read()
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    proc = train_cli(
        write_config(tmp_path, "ddp", **short),
        accelerate,
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
    )
    output = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, output
    one, two = (json.loads((tmp_path / n / "train_card.json").read_text()) for n in ("single", "ddp"))
    assert (one["world_size"], two["world_size"]) == (1, 2) and two["steps"] == one["steps"] == 4
    assert two["tokens_seen"] > 1.5 * one["tokens_seen"]  # each rank trained on its own share of the data


@pytest.mark.slow
@pytest.mark.gpu
def test_qlora_steps_lower_the_loss_and_the_adapter_reloads(tmp_path):
    """The CUDA path's QLoRA recipe on whatever device is here: NF4 + double quantisation (forced on CPU),
    gradient checkpointing, bf16 compute and paged AdamW where CUDA has them, on a Qwen2-architecture model."""
    pytest.importorskip("bitsandbytes", reason="QLoRA needs bitsandbytes")
    from peft import PeftModel

    from taiyi_utils.train import fit

    cuda = torch.cuda.is_available()
    run = setup(
        quick(
            tmp_path,
            base_model="tiny:qwen2",
            quantization="nf4",
            precision="bf16" if cuda else "fp32",
            gradient_checkpointing="true",
            optim="paged_adamw_32bit" if cuda else "adamw_torch",
            max_steps=10,
            logging_steps=1,
            save_steps=100,
        )
    )
    linear4bit = [m for m in run.model.modules() if type(m).__name__ == "Linear4bit"]
    assert linear4bit and all(m.weight.quant_state.nested for m in linear4bit)  # NF4 with double quantisation
    assert run.model.base_model.model.is_activation_checkpointing
    card = fit(run)
    losses = [h["loss"] for h in run.trainer.state.log_history if "loss" in h]
    assert card["quantized_4bit"] and card["steps"] == 10 and losses[-1] < losses[0]
    assert card["precision"] == ("bf16" if cuda else "fp32")
    ids = torch.tensor([[5, 17, 300, 42]], device=run.model.device)
    run.model.eval()
    reloaded = PeftModel.from_pretrained(
        models.load_base_model("tiny:qwen2", "nf4", precision=card["precision"]), str(tmp_path / "out" / "adapter")
    ).eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(input_ids=ids.to(reloaded.device)).logits, run.model(input_ids=ids).logits)


@pytest.mark.slow
@pytest.mark.gpu
def test_nf4_training_and_merged_export(tmp_path):
    pytest.importorskip("bitsandbytes", reason="the forced NF4 path needs bitsandbytes")
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from taiyi_utils.train import fit

    config = TrainConfig.from_dict(
        yaml.safe_load(
            write_config(
                tmp_path,
                "nf4",
                quantization="nf4",
                precision="fp32",
                max_steps=3,
                save_steps=100,
                eval_steps=100,
                merge=True,
            ).read_text()
        )
    )
    run = setup(config)
    assert run.quantized and any(type(m).__name__ == "Linear4bit" for m in run.model.modules())
    card = fit(run)
    assert card["quantized_4bit"] and card["steps"] == 3
    merged = AutoModelForCausalLM.from_pretrained(card["merged"], dtype=torch.float32).eval()
    base = models.load_base_model("tiny:llama", "none", precision="fp32")
    unmerged = PeftModel.from_pretrained(base, str(tmp_path / "nf4" / "adapter")).eval()
    ids = torch.tensor([[5, 17, 300, 42]])
    with torch.no_grad():
        assert torch.allclose(merged(input_ids=ids).logits, unmerged(input_ids=ids).logits, atol=1e-4)


def quick(tmp_path: Path, **overrides) -> TrainConfig:
    values = dict(
        data=mixture(tmp_path),
        output_dir=str(tmp_path / "out"),
        base_model="tiny:llama",
        max_steps=4,
        batch_size=4,
        grad_accumulation=1,
        learning_rate=0.01,
        save_steps=2,
        eval_steps=100,
        logging_steps=2,
        lora_r=4,
        lora_alpha=8,
        eval_fraction=0.0,
    )
    return TrainConfig(**{**values, **overrides})


def test_changed_settings_start_afresh_and_keep_the_old_checkpoints(tmp_path, capsys):
    from taiyi_utils.train import fit

    fit(setup(quick(tmp_path, max_steps=2)))
    assert latest_checkpoint(tmp_path / "out" / "checkpoints")[0].name == "checkpoint-2"
    capsys.readouterr()
    card = fit(setup(quick(tmp_path, learning_rate=0.001)))  # same run folder, another learning rate
    said = capsys.readouterr().out
    assert "checkpoint-2 was trained with other settings (learning_rate: 0.01 -> 0.001" in said
    assert "starting afresh" in said and card["resumed_from"] is None and card["steps"] == 4
    assert len(list((tmp_path / "out").glob("checkpoints-superseded-*/checkpoint-2"))) == 1  # nothing lost
    card = fit(setup(quick(tmp_path, learning_rate=0.001, max_steps=4)))  # unchanged: resumes, trains nothing new
    assert card["resumed_from"].endswith("checkpoint-4")


def test_a_damaged_checkpoint_is_passed_over_for_the_newest_intact_one(tmp_path, capsys):
    from taiyi_utils.train import fit

    config = quick(tmp_path)
    fit(setup(config))
    checkpoints = tmp_path / "out" / "checkpoints"
    (checkpoints / "checkpoint-4" / "optimizer.pt").unlink()
    capsys.readouterr()
    card = fit(setup(config))
    said = capsys.readouterr().out
    assert "checkpoint-4 is damaged (optimizer.pt missing or changed)" in said
    assert card["resumed_from"].endswith("checkpoint-2")
    mask = os.umask(0)
    os.umask(mask)
    weights = tmp_path / "out" / "adapter" / "adapter_model.safetensors"
    assert weights.stat().st_mode & 0o777 == 0o666 & ~mask  # the user's usual permissions, not safetensors' 0600


@pytest.mark.parametrize("name, kind", [("ddp", "MULTI_GPU"), ("fsdp_qlora", "FSDP")])
def test_shipped_accelerate_configs_parse(name, kind):
    from accelerate.commands.config.config_args import load_config_from_file

    from taiyi_utils.paths import REPO_ROOT

    config = load_config_from_file(str(REPO_ROOT / "params" / "accelerate" / f"{name}.yaml"))
    assert config.distributed_type.name == kind and config.mixed_precision == "bf16"
    if kind == "FSDP":
        assert config.fsdp_config["fsdp_state_dict_type"] == "SHARDED_STATE_DICT"


def test_the_lesson_views_show_the_real_batch_mask_and_adapter(tmp_path):
    """Notebook 02's views: each example's place in the padding-free row, its learned tokens, the adapter's size."""
    from transformers import AutoTokenizer

    from taiyi_utils.viz import training as views

    run = setup(quick(tmp_path))
    batch = run.trainer.data_collator([run.trainer.train_dataset[i] for i in range(3)])
    table, figure = views.first_batch(run, 3)
    assert list(table["starts at column"]) == [0, *table["tokens"].cumsum()[:-1]]
    assert table["tokens"].sum() == batch["input_ids"].shape[1] and len(figure.data) == 1
    learned = [sum(label != -100 for label in run.trainer.train_dataset[i]["labels"][1:]) for i in range(3)]
    assert list(table["learned"]) == learned  # the collator masks each example's first label (no cross-example loss)
    html = views.loss_mask_html(run.train_set[0], AutoTokenizer.from_pretrained(model_files.model_path("tiny:llama")))
    assert f"<b>{sum(label != -100 for label in run.train_set[0]['labels'])}</b> are learned" in html
    trainable, total = run.model.get_nb_trainable_parameters()
    assert views.adapter_size(run.model)["adapter parameters"] == f"{trainable:,}" and trainable < total


@pytest.mark.parametrize("damage", ["same size, other bytes", "corrupted header"])
def test_a_checkpoint_whose_bytes_changed_is_passed_over_by_its_content_digest(tmp_path, capsys, damage):
    from taiyi_utils.train import fit

    config = quick(tmp_path)
    fit(setup(config))
    weights = tmp_path / "out" / "checkpoints" / "checkpoint-4" / "adapter_model.safetensors"
    data = bytearray(weights.read_bytes())
    if damage == "corrupted header":
        data[:16] = b"\xff" * 16  # safetensors could not even parse it: SafetensorError on resume, before
    else:
        data[-8:] = bytes(255 - b for b in data[-8:])  # a weight's last bytes flipped, size unchanged
    weights.write_bytes(bytes(data))
    capsys.readouterr()
    card = fit(setup(config))
    said = capsys.readouterr().out
    assert "checkpoint-4 is damaged (adapter_model.safetensors missing or changed)" in said
    assert card["resumed_from"].endswith("checkpoint-2")


def test_a_stage_whose_loss_turns_non_finite_fails_and_saves_nothing(tmp_path):
    """A forced NaN in one LoRA weight after the first step: the next logged loss is NaN, the stage fails naming
    the step, and neither an adapter nor a train card nor a marked checkpoint is left as its result."""
    import torch
    from transformers import TrainerCallback

    from taiyi_utils.train import TrainingDiverged, fit

    class PoisonAfterFirstStep(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step == 1:
                with torch.no_grad():
                    next(p for n, p in model.named_parameters() if "lora_A" in n).fill_(float("nan"))

    run = setup(quick(tmp_path, logging_steps=1), callbacks=(PoisonAfterFirstStep(),))
    with pytest.raises(TrainingDiverged, match=r"step 2: loss nan.*Lower learning_rate"):
        fit(run)
    out = tmp_path / "out"
    assert not (out / "adapter").exists() and not (out / "train_card.json").exists()
    assert latest_checkpoint(out / "checkpoints")[0] is None


def test_merge_mode_trains_a_new_adapter_on_the_merged_base_and_saves_them_as_one(tmp_path):
    """init_mode merge: stage 2 folds stage 1's adapter into the base and trains a new one; the saved adapter is
    both side by side (rank r + r), so the plain base with it answers as the merged base with the new one."""
    import torch
    from peft import PeftModel

    from taiyi_utils.train import fit

    first = fit(setup(quick(tmp_path / "one", max_steps=2)))
    earlier = tmp_path / "one" / "out" / "adapter"
    card = fit(setup(quick(tmp_path / "two", max_steps=2, init_adapter=str(earlier), init_mode="merge")))
    out = tmp_path / "two" / "out"
    assert card["lineage"]["init_mode"] == "merge" and card["lineage"]["init_adapter_digest"]
    combined = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert combined["r"] == 2 * first["config"]["lora_r"]
    ids = torch.arange(1, 17).unsqueeze(0)
    with torch.no_grad():
        plain = PeftModel.from_pretrained(
            models.load_base_model("tiny:llama", "none", precision="fp32"), str(out / "adapter")
        )
        merged = PeftModel.from_pretrained(
            models.load_base_model("tiny:llama", "none", precision="fp32"), str(earlier)
        ).merge_and_unload()
        fresh = PeftModel.from_pretrained(merged, str(out / "adapter_fresh"))
        assert torch.allclose(plain(input_ids=ids).logits, fresh(input_ids=ids).logits, atol=1e-4)


def test_lora_on_the_output_head_is_refused_under_the_chunked_loss_and_trains_without_it(tmp_path):
    """The chunked loss multiplies by the head's own weight, bypassing an adapter on it; TRL refuses the same."""
    head_too = r".*(q_proj|lm_head)"
    with pytest.raises(ValueError, match=r"lora_target.*output head.*chunked_loss: false"):
        setup(quick(tmp_path, lora_target=head_too))
    card = fit(setup(quick(tmp_path, lora_target=head_too, chunked_loss=False)))
    saved = load_file(str(tmp_path / "out" / "adapter" / "adapter_model.safetensors"))
    head = {k: v for k, v in saved.items() if "lm_head" in k and "lora_B" in k}
    assert card["steps"] == 4 and head and all(v.abs().sum() > 0 for v in head.values())  # B starts at zero
