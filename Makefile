# Two entry points do all set-up on a fresh machine:
#   make book   -> .venv, install, build the HTML into _build/html
#   make test   -> same .venv, the whole test suite (unit, pages, book build, browser)
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# The CPU wheel that lies on this disk. TORCH_SPEC is one requirement; a GPU user names the
# index of a CUDA build in TORCH_INDEX (README, "Running on a GPU"), e.g.
#   make book TORCH_INDEX=https://download.pytorch.org/whl/cu126
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
ifneq ($(word 2,$(TORCH_SPEC)),)
$(error TORCH_SPEC is one requirement, got "$(TORCH_SPEC)": put an index in TORCH_INDEX=URL)
endif
CHROMIUM ?= /usr/bin/chromium
export FASTGEN_CHROMIUM := $(CHROMIUM)

.PHONY: book test lint format notebooks clean browser weights

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and pinned, so pip never resolves a bare `torch` into a CUDA build.
	$(PY) -m pip install --quiet "$(TORCH_SPEC)" $(if $(TORCH_INDEX),--index-url "$(TORCH_INDEX)")
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# Offline: a build reads the Hugging Face cache and never downloads (`python -m fastgen_book fetch`
# does, when asked).
book: $(VENV)/.installed
	HF_HUB_OFFLINE=1 $(VENV)/bin/jupyter-book build . --warningiserror --nitpick --keep-going --all

browser:
	@test -x $(CHROMIUM) || { \
	  echo "Chromium not found at $(CHROMIUM); installing Debian's package (needs root)."; \
	  apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

test: $(VENV)/.installed browser
	$(VENV)/bin/python -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Retrain the shipped tiny SD model, every stage in order, then re-measure its card
# (62.5 minutes measured on 2 cores on a slow day; it follows the machine's speed:
# `python -m fastgen_book bench machine` estimates it here; each stage resumes from _build/sd-train
# if interrupted).
weights: $(VENV)/.installed
	$(PY) -m fastgen_book train all
	$(PY) -m fastgen_book bench sd --tier tiny --card

notebooks: $(VENV)/.installed
	$(PY) -m fastgen_book notebooks

clean:
	rm -rf _build
