# Both user-facing targets run the (idempotent, stamp-cached) install first.
PYTHON := .venv/bin/python

.PHONY: install test demo

install:
	bash scripts/install.sh

# pytest exits with 5 when it collected no tests: a failure, not a pass.
test: install
	$(PYTHON) -m pytest tests -q || { rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; fi; \
	  exit $$rc; }

demo: install
	$(PYTHON) tools/demo_smoke.py
