# The two set-up commands of the README: `make run` and `make test`.
# Each bootstraps what it needs (Debian packages via apt-get, .venv via pip).
.PHONY: run test bench bootstrap clean

VENV := .venv
BIN := $(VENV)/bin

bootstrap:
	@scripts/bootstrap

run: bootstrap
	$(BIN)/takedown demo

test:
	@scripts/bootstrap --test
	$(BIN)/python -m pytest -q

bench: bootstrap
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) data demo bench/out .pytest_cache
