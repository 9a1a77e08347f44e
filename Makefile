# make demo: quickstart scenario with shipped components, simulated -> demo/quickstart/
# make test: the test suite (executes the tutorials in fast mode)
# make lab: JupyterLab on tutorials/; make tutorials: re-executes them in full mode, in place
# Both create .venv (Python 3.10-3.12) and install the project into it when needed.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench lab tutorials clean-venv

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; v = sys.version_info[:2]; sys.exit(0 if (3, 10) <= v <= (3, 12) else "kaq-sionna needs Python 3.10-3.12, found %d.%d (set PYTHON=python3.x)" % v)'
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

TUTORIALS_STAMP := $(VENV)/.tutorials-installed

$(TUTORIALS_STAMP): $(STAMP)
	$(VENV)/bin/python -m pip install --quiet -e ".[test,tutorials]"
	touch $(TUTORIALS_STAMP)

# A fresh folder (not the committed results/quickstart/): a first run simulates every point;
# a second run resumes and says how many points it reused.
demo: $(STAMP)
	$(VENV)/bin/kaq-sionna run scenarios/quickstart.toml --out demo/quickstart

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(VENV)/bin/kaq-sionna bench link --json results/bench/link.json

lab: $(TUTORIALS_STAMP)
	$(VENV)/bin/jupyter lab --notebook-dir=tutorials

tutorials: $(TUTORIALS_STAMP)
	$(VENV)/bin/python tutorials/run_notebooks.py --full --inplace

clean-venv:
	rm -rf $(VENV)
