# Both user-facing targets run the (idempotent, stamp-cached) install first.
PYTHON := .venv/bin/python

.PHONY: install test demo smoke benchmark

install:
	bash scripts/install.sh

# pytest exits with 5 when it collected no tests: a failure, not a pass.
test: install
	$(PYTHON) -m pytest tests -q || { rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	  exit $$rc; }

# The main job: generate data, calibrate, train Panoptic FCN within the time
# budget, evaluate, draw overlays (projects/synthetic/tools/main_job.py); the
# install time counts as its first stage.
demo:
	@start=$$(date +%s); bash scripts/install.sh || exit $$?; \
	  $(PYTHON) projects/synthetic/tools/main_job.py --install-seconds $$(( $$(date +%s) - start ))

# A quick check that the R50 model builds and predicts (random weights).
smoke: install
	$(PYTHON) projects/synthetic/tools/demo_smoke.py

# Panoptic FCN against MMDet's Panoptic FPN and Mask2Former; trains
# what has no checkpoint yet (hours on CPU) and rewrites docs/benchmark.md.
benchmark: install
	$(PYTHON) tools/analysis_tools/benchmark_suite.py
