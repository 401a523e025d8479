# inverse-lessons: two commands do all the set-up.
#   make book   build the rendered site into _build/html (warnings are errors)
#   make test   lint (ruff), run the whole test suite (package tests + every notebook via nbval), then,
#               where Chromium is installed, build the book and test it in the browser
#   make pdf    the whole book as one PDF, printed from the built site by Chromium
#   make lab    JupyterLab on the notebooks, where the sliders live
#   make lock   resolve requirements-lock.txt anew (exact versions and hashes)
# Both create .venv on first use and reinstall when requirements.txt, pyproject.toml or the
# lock change.

PYTHON ?= python3
# Debian's Chromium, driven by the browser tests (never a browser that Playwright downloads)
CHROMIUM ?= /usr/bin/chromium
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Exact versions with hashes, resolved on CPython 3.11 for Linux x86-64 (make lock); where the
# Python or platform differs, the compatible ranges of pyproject.toml are installed instead.
LOCK   := requirements-lock.txt
LOCK_FITS := import platform, sys; sys.exit(not (sys.version_info[:2] == (3, 11) \
  and sys.platform == "linux" and platform.machine() == "x86_64"))

# TensorFlow's import notices must never reach a notebook or the book.
export TF_CPP_MIN_LOG_LEVEL := 2
export TF_ENABLE_ONEDNN_OPTS := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: book pdf test lab lock clean clean-book

$(STAMP): requirements.txt pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@if $(BIN)/python -c '$(LOCK_FITS)'; then \
	  echo "== installing the exact versions of $(LOCK)"; \
	  $(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK) && \
	  $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .; \
	else \
	  echo "== $(LOCK) is for CPython 3.11 on Linux x86-64: installing compatible ranges"; \
	  $(BIN)/python -m pip install --quiet -r requirements.txt; \
	fi
	touch $@

# Resolve the lock anew: the newest versions pyproject.toml's ranges allow, with hashes. Run on
# CPython 3.11, Linux x86-64; commit the new lock once make test passes with it.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "pip-tools>=7.4,<8"
	$(BIN)/pip-compile --quiet --upgrade --generate-hashes --allow-unsafe --strip-extras \
	  --no-emit-index-url --no-emit-find-links --extra book --extra test \
	  --output-file $(LOCK) pyproject.toml

book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going

# The PDF lands in the site (_build/html/inverse-lessons.pdf), which links to it.
pdf: book
	CHROMIUM="$(CHROMIUM)" $(BIN)/python tools/print_book.py

# One thread for each test worker (a worker per core): numpy's BLAS, OpenMP and TensorFlow would
# otherwise each start a thread per core in every worker, and the workers' threads contend.
ONE_THREAD := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
  TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1

# The linter first (pyproject.toml's [tool.ruff]), then tests and notebooks on every core: each
# file (so each notebook, whose cells share one kernel) stays on one worker, on one thread.
# Then the book (each chapter alone, with every thread it wants), its PDF and the browser tests,
# on every core too, a test module to a worker (a module's page loads are shared; --dist
# loadgroup would do it by mark, but with pytest 9.2 it silently stops grouping:
# pytest-dev/pytest-xdist#1386).
test: $(STAMP)
	$(BIN)/ruff check inverse_lessons tests benchmarks tools book/_ext
	$(ONE_THREAD) $(BIN)/python -m pytest -n auto --dist loadfile
	@if [ -x "$(CHROMIUM)" ]; then \
	  $(MAKE) --no-print-directory pdf && \
	  CHROMIUM="$(CHROMIUM)" $(BIN)/python -m pytest -m browser -n auto --dist loadscope \
	    tests/browser; \
	else \
	  echo "== SKIPPED the browser tests: no Chromium at $(CHROMIUM)."; \
	  echo "   Install it (Debian/Ubuntu: sudo apt-get install chromium) or set CHROMIUM=/path/to/chromium."; \
	fi

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

clean-book:
	rm -rf _build

clean: clean-book
	rm -rf $(VENV) .pytest_cache
