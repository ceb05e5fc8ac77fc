# Two entry points for a fresh machine:
#   make demo   -- the end-to-end demo (trains, evaluates, exports, verifies)
#   make test   -- the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast bench install clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[demo,nlp,test]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/rnnx demo --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --durations=15

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "not slow"

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e ".[bench]"
	# keras-hub pinned without its dependencies so it cannot move tensorflow/keras
	$(BIN)/python -m pip install -q --no-deps keras-hub==0.32.0
	# the >=1M-word word2vec corpus (public-domain KJV from Debian); best effort
	command -v bible >/dev/null || (apt-get update -qq && apt-get install -y -qq bible-kjv) \
	  || echo "bible-kjv not installed: the large-corpus word2vec rows will say skipped"
	$(BIN)/python tools/bench.py --out bench_results.md

clean:
	rm -rf $(VENV) build *.egg-info
