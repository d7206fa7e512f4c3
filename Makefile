# The two set-up commands of the README: `make run` and `make test`.
# Each bootstraps what it needs (Debian packages via apt-get, .venv via pip).
# `make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="dns_query proxy"]`: the atheris
# harnesses of fuzz/, FUZZ_SECONDS each (docs/fuzzing.md).
# `make run` ends on the web console until Ctrl-C when run from a terminal (without one
# it prints the console's accounts and ends); TAKEDOWN_DEMO_CONSOLE=0 make run ends with
# the report (docs/console.md).
.PHONY: run test bench bootstrap clean fuzz

VENV := .venv
BIN := $(VENV)/bin

bootstrap:
	@scripts/bootstrap

run: bootstrap
	$(BIN)/takedown demo

# Test files run in parallel, each file whole in one worker (pytest-xdist's
# loadfile: a module's servers and fixtures stay together): 402 s instead of 707 s
# serial on the 2-core machine (2026-12-04).
# The second run holds the protocol tests to the pure-Python path too
# (TAKEDOWN_PURE=1, takedown.accel): the first runs the compiled twins that
# the bootstrap's install built (docs/performance.md, "Building"). It took
# 133 s (4,251 tests) on the shared 2-core machine (2026-12-05).
PURE_TESTS := tests/test_dns_*.py tests/test_net_*.py tests/differential
PYTEST := $(BIN)/python -m pytest -q -n auto --maxprocesses 4 --dist loadfile
test:
	@scripts/bootstrap --test
	$(PYTEST)
	TAKEDOWN_PURE=1 $(PYTEST) $(PURE_TESTS)

FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=

fuzz: bootstrap
	$(BIN)/python fuzz/run.py --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

bench: bootstrap
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) data demo bench/out fuzz/out .pytest_cache
