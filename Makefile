# Every target creates venv/ (the folder the Pulumi CLI itself uses, see Pulumi.yaml) when it
# is missing or when a requirements file changed, so each works on a fresh clone.
PYTHON ?= python3
VENV := venv
BIN := $(VENV)/bin

.PHONY: test test-thorough venv demo bench

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

## test: the whole suite, as CI runs it (bounded Hypothesis profile)
test: venv
	$(BIN)/python -m pytest

## test-thorough: the same suite with the long Hypothesis profile
test-thorough: venv
	HYPOTHESIS_PROFILE=thorough $(BIN)/python -m pytest

$(VENV)/.bench-installed: requirements.txt requirements-dev.txt requirements-bench.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	touch $@

## bench: the fleet-scale simulation grid against the seed, pybreaker and circuitbreaker-lambda, lookup and
## cold-start timings, artifact sizes; prints them and writes BENCHMARKS.md, benchmarks/outage.png and pareto.png
bench: $(VENV)/.bench-installed
	$(BIN)/python -m benchmarks

## demo: the local stack: a stack's fleet on this machine through a scenario, no AWS needed
##       (ARGS passes options, e.g. make demo ARGS="--stack Pulumi.prod.yaml --speed-up 30")
demo: venv
	$(BIN)/python -m local_stack $(ARGS)
