# The two everyday commands: `make plan STACK=staging` and `make test`.
# Both work from a fresh clone: the virtual environment and the npm tools install on first use.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STACK  ?= staging
# make plan STACK=production COMPARE=activeColor=green  (several: COMPARE="a=1 b=2")
COMPARE ?=

.PHONY: help venv tools plan test lint bench lambdas restore-drill clean

help:
	@echo "make plan STACK=staging|production [COMPARE=KEY=VALUE]  offline plan, no cloud account needed"
	@echo "make test                                                 the whole test suite"
	@echo "make lint                                                 ruff"
	@echo "make bench                                                offline plan timings"

$(VENV)/.installed: requirements.txt requirements-dev.txt policies/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

venv: $(VENV)/.installed

tools: venv node_modules/.installed

plan: venv
	$(PY) -m tools.plan --stack $(STACK) $(foreach c,$(COMPARE),--compare $(c))

test: tools
	$(PY) -m pytest

lint: venv
	$(VENV)/bin/ruff check .

bench: venv
	$(PY) -m tools.bench

lambdas: venv
	$(PY) -m tools.build_lambdas

restore-drill: venv
	$(PY) -m tools.restore_drill --environment staging --backup-uri "$(BACKUP_URI)"

clean:
	rm -rf $(VENV) node_modules build .pytest_cache .ruff_cache
