# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The production services the second test run uses when they answer.
# Both runs spread the tests over two processes (pytest-xdist); `make test ARGS=-n0`
# runs them in one.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/assistant
TEST_REDIS_URL    ?= redis://127.0.0.1:6379/15
SERVICE_VARS := DATABASE_URL REDIS_URL CELERY_BROKER_URL

.PHONY: install run test test-embedded test-services lint format clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)  ## create or update .venv

run: install  ## migrate, create the demo data, and serve on http://127.0.0.1:8000
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py demo
	$(BIN)/python manage.py serve

test: install  ## the whole suite on the embedded default, then on PostgreSQL and Redis
	$(MAKE) --no-print-directory test-embedded
	@if $(BIN)/python -m tests.services "$(TEST_DATABASE_URL)" "$(TEST_REDIS_URL)"; then \
		$(MAKE) --no-print-directory test-services; \
	elif [ -n "$$REQUIRE_SERVICES" ]; then \
		echo "PostgreSQL or Redis is not reachable and REQUIRE_SERVICES is set"; exit 1; \
	else \
		echo "PostgreSQL or Redis is not reachable: the services run was skipped"; \
	fi

test-embedded: install  ## SQLite, in-memory channel layer, in-process work; no .env
	env $(addprefix -u ,$(SERVICE_VARS)) ENV_FILE= $(BIN)/python -m pytest -n 2 $(ARGS)

test-services: install  ## PostgreSQL, Redis channel layer, Celery broker; no .env
	env $(addprefix -u ,$(SERVICE_VARS)) ENV_FILE= DATABASE_URL=$(TEST_DATABASE_URL) \
		REDIS_URL=$(TEST_REDIS_URL) $(BIN)/python -m pytest -n 2 $(ARGS)

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

clean:
	rm -rf $(VENV) .data .pytest_cache .ruff_cache *.egg-info
