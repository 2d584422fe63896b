# `make test` and `make demo` work from a fresh clone with only python3 installed:
# they create .venv, install lrjax with the extras they need, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: test test-all demo bench docs lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The suite tests the main job and the examples, so it needs the demo extra too
# (scikit-learn for the digits data, matplotlib for the report's plots), and it builds
# the documentation site in strict mode (the docs extra), and drives Optuna (optuna).
# The sweep engine is tested with framework carries (flax, equinox), PPO on gymnax
# (rl), orbax checkpoints and TensorBoard logs: those extras too.
# Optuna's GP sampler needs torch, for its test only: 2.13.0 is the CPU wheel these
# machines keep on disk (a newer or unpinned torch would download a CUDA build).
$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,dev,demo,docs,optuna,frameworks,rl,checkpoint,tensorboard]'
	$(BIN)/pip install --quiet 'torch==2.13.0'
	touch $@

$(VENV)/.demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo]'
	touch $@

# The docs need matplotlib (the demo extra) to draw the schedule gallery.
$(VENV)/.docs: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[docs,demo]'
	touch $@

# Two workers (pytest-xdist): JAX compiles on one thread, so two workers nearly halve the
# suite's time on CI's 2 cores (11 to 12 minutes measured on 2026-12-07). worksteal: a
# worker that runs out of tests takes some of the other's, so a long test at the end does
# not idle a core.
test: $(VENV)/.test
	$(BIN)/python -m pytest -n 2 --dist worksteal

test-all: $(VENV)/.test  # the slow tests too: the full main job, digits MLP trainings
	$(BIN)/python -m pytest -n 2 --dist worksteal -m ''

demo: $(VENV)/.demo  # the main job: a digits sweep and its report in demo_output/
	$(BIN)/lrjax sweep --out demo_output

bench: $(VENV)/.test  # lrjax against optax on this machine: writes benchmarks/RESULTS.md
	$(BIN)/python -m benchmarks.optimizers
	$(BIN)/python -m benchmarks.schedules
	$(BIN)/python benchmarks/sweep.py
	$(BIN)/python -m benchmarks.sweep_engine
	$(BIN)/python -m benchmarks.results

docs: $(VENV)/.docs  # the site in site/: regenerates docs/gallery/, then a strict mkdocs build
	$(BIN)/python docs/gen_gallery.py
	$(BIN)/mkdocs build --strict

lint: $(VENV)/.test
	$(BIN)/ruff check lrjax tests benchmarks examples
	$(BIN)/ruff format --check lrjax tests benchmarks examples

format: $(VENV)/.test
	$(BIN)/ruff format lrjax tests benchmarks examples
	$(BIN)/ruff check --fix lrjax tests benchmarks examples

clean:
	rm -rf $(VENV) demo_output lrjax_report example_output site .pytest_cache .hypothesis
