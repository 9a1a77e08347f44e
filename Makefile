# make demo: quickstart scenario with shipped components -> results/quickstart/
# make test: the test suite
# Both create .venv (Python 3.10-3.12) and install the project into it when needed.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean-venv

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 10) <= v <= (3, 12) else "kaq-sionna needs Python 3.10-3.12, found %d.%d (set PYTHON=python3.x)" % v)'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/kaq-sionna run scenarios/quickstart.toml

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(VENV)/bin/kaq-sionna bench link --json results/bench/link.json

clean-venv:
	rm -rf $(VENV)
