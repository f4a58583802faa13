# The course's two everyday commands are `make setup` and `make test` (see README.md).
# Variables: PROFILE (smoke|cpu|gpu) for run and test, NOTEBOOKS (names or prefixes) for run,
# JOBS (parallel pytest workers) for test, PYTHON3 (the interpreter that creates the venv), INSTRUCTOR=1 for book.

PYTHON3 ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
JOBS ?= 2
# Tests default to the fast smoke profile; `make run` defaults to the machine's own profile.
TEST_PROFILE := $(or $(PROFILE),$(COURSE_PROFILE),smoke)

.PHONY: setup sandbox browser book setup-gpu setup-instructor setup-student test run labs check-labs clean-notebooks data-status grade bench kernel clean help

help:
	@echo "make setup            create $(VENV), install the course and its dependencies, register the kernel,"
	@echo "                     and bubblewrap for the grading sandbox (apt-get, as root)"
	@echo "make setup-instructor turn nbgrader's instructor interface (Formgrader, Create Assignment) back on"
	@echo "make setup-student    switch it off again (what make setup does on a new environment)"
	@echo "make test             unit tests + every solution/companion notebook (PROFILE=smoke by default)"
	@echo "make run              execute notebooks headless into build/ (PROFILE=..., NOTEBOOKS='01 02')"
	@echo "make labs             regenerate labs/ from solutions/"
	@echo "make clean-notebooks  strip outputs from solutions/ and notebooks/ before committing"
	@echo "make data-status      show which datasets are cached"
	@echo "make grade LAB=01 SUBMISSIONS=dir   grade a class into build/grades/ (JOBS=2 in parallel)"
	@echo "make bench            training throughput of each lab's model versus the matmul peak"
	@echo "make book             the course as a website in build/book/html from what make run executed, checked in"
	@echo "                     headless Chromium (INSTRUCTOR=1: with solutions, into build/book-instructor/html)"

setup: $(VENV)/.installed $(VENV)/.student-jupyter $(VENV)/.book sandbox browser

# Students' Jupyter shows no nbgrader instructor interface: nbgrader's lab plugins (the Nbgrader menu, Formgrader,
# the Create Assignment panel, the course and assignment lists of its exchange, the Validate button) and its server
# extensions are disabled, and the plugins locked, in the venv's etc/jupyter only (--sys-prefix). nbgrader itself
# stays installed: `make labs` and `make grade` use its Python API, which these switches do not touch.
JUPYTER := $(VENV)/bin/jupyter
NBGRADER_LAB_PLUGINS := $(addprefix @jupyter/nbgrader:,menu formgrader create-assignment course-list assignment-list validate-assignment)
NBGRADER_SERVER_EXTENSIONS := $(addprefix nbgrader.server_extensions.,formgrader course_list assignment_list validate_assignment)
quiet = out=$$($(1) 2>&1) || { echo "$$out"; exit 1; }

$(VENV)/.student-jupyter: $(VENV)/.installed
	@$(call quiet,$(JUPYTER) labextension disable --level=sys_prefix $(NBGRADER_LAB_PLUGINS))
	@$(call quiet,$(JUPYTER) labextension lock --level=sys_prefix $(NBGRADER_LAB_PLUGINS))
	@$(call quiet,$(JUPYTER) server extension disable --sys-prefix $(NBGRADER_SERVER_EXTENSIONS))
	@touch $@
	@echo "Jupyter: nbgrader's instructor interface is off for students ('make setup-instructor' turns it on)."

# Instructors: the Formgrader, the Create Assignment panel and the Nbgrader menu, back in this venv's Jupyter.
setup-instructor: setup
	@$(call quiet,$(JUPYTER) labextension unlock --level=sys_prefix $(NBGRADER_LAB_PLUGINS))
	@$(call quiet,$(JUPYTER) labextension enable --level=sys_prefix $(NBGRADER_LAB_PLUGINS))
	@$(call quiet,$(JUPYTER) server extension enable --sys-prefix $(NBGRADER_SERVER_EXTENSIONS))
	@echo "Jupyter: nbgrader's instructor interface is on; restart 'jupyter lab' ('make setup-student' turns it off)."

setup-student:
	@rm -f $(VENV)/.student-jupyter
	@$(MAKE) --no-print-directory setup

# `make grade` runs each submission in a bubblewrap sandbox (the Debian package bubblewrap). As root, setup installs
# it with apt-get; anyone else is told the one command to run.
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing bubblewrap (the grading sandbox) with apt-get..."; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  else \
	    echo "Note: 'make grade' needs bubblewrap: sudo apt-get install bubblewrap (Fedora: dnf, Arch: pacman -S)."; \
	  fi; }

$(VENV)/.installed: pyproject.toml
	$(PYTHON3) -m venv $(VENV)
	$(PY) -m pip install --quiet --quiet --upgrade pip
	$(PY) -m pip install --quiet --quiet --editable ".[cpu,local]"
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (cnn-course)" >/dev/null
	@touch $@
	@echo "Set up: activate with 'source $(VENV)/bin/activate', then 'jupyter lab'."

# `make book` and its tests: Jupyter Book and Selenium (the optional extra `book`), then Debian's chromium,
# chromium-driver and a font (the browser check) and MathJax 2 with its fonts (math on the site without a network).
# As root, setup installs them with one apt-get; anyone else is told the one command to run.
$(VENV)/.book: $(VENV)/.installed
	$(PY) -m pip install --quiet --quiet --editable ".[book]"
	@touch $@

BROWSER_PACKAGES := chromium chromium-driver fonts-liberation libjs-mathjax fonts-mathjax
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1 \
	    || [ ! -d /usr/share/javascript/mathjax/fonts/HTML-CSS/TeX/woff ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing $(BROWSER_PACKAGES) (make book's browser check and math) with apt-get..."; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      $(BROWSER_PACKAGES) >/dev/null; \
	  else \
	    echo "Note: 'make book' needs: sudo apt-get install $(BROWSER_PACKAGES)"; \
	  fi; fi

# GPU runners: the same environment with TensorFlow's CUDA build instead of tensorflow-cpu.
setup-gpu: setup
	$(PY) -m pip uninstall --quiet --yes tensorflow-cpu
	$(PY) -m pip install --quiet --quiet "tensorflow[and-cuda]==2.21.*"

test: setup
	COURSE_PROFILE=$(TEST_PROFILE) $(PY) -m pytest -n $(JOBS) --dist loadfile

run: setup
	$(PY) -m utils run $(if $(PROFILE),--profile $(PROFILE)) $(NOTEBOOKS)

labs: setup
	$(PY) -m utils labs

check-labs: setup
	$(PY) -m utils labs --check

clean-notebooks: setup
	$(PY) -m utils clean

data-status: setup
	$(PY) -m utils data status

grade: setup
	$(PY) -m utils grade $(LAB) $(SUBMISSIONS) --jobs $(JOBS)

bench: setup
	$(PY) -m utils bench $(if $(PROFILE),--profile $(PROFILE))

book: setup
	$(PY) -m utils book --check $(if $(INSTRUCTOR),--instructor)

clean:
	rm -rf build
