# mmmtl: the two commands of the README.
#   make demo   set up (first time: ~10 min, builds mmcv) + train and evaluate
#               the demo model on the built-in synthetic data
#   make test   set up + run the test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_CONFIG ?= configs/synthetic/retinanet_r18-c32_fpn_semfpn_synthetic.py
DEMO_WORK_DIR ?= work_dirs/demo

.PHONY: setup demo test

setup:
	PYTHON=$(PYTHON) MMMTL_VENV=$(VENV) bash tools/setup_env.sh

demo: setup
	$(PY) tools/train.py $(DEMO_CONFIG) --work-dir $(DEMO_WORK_DIR)

test: setup
	$(PY) -m pytest tests
