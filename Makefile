# Two commands: `make run` (set up, then compare every bundled strategy on the baseline)
# and `make test` (set up, then the test suite). Both create .venv when it is missing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
WORKERS ?= $(shell nproc 2>/dev/null || echo 2)
OUT    ?= results/baseline

.PHONY: run test test-fast app bench lint chromium clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[app,dist,dev]"
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/collectsim compare baseline --strategies all --workers $(WORKERS) --out $(OUT) \
	    --report $(OUT)/report.html
	@echo "report: $(abspath $(OUT))/report.html"

test: $(STAMP) chromium
	@$(PY) -m pytest -q -p no:cacheprovider --timeout=900; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure"; fi; exit $$rc

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not browser"

app: $(STAMP)
	$(VENV)/bin/streamlit run app.py

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .

chromium:
	@bash scripts/ensure-chromium

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache
