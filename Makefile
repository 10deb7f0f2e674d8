# notifier: `make demo` runs the product on sample data, `make test` runs every check.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DB ?= demo.db
export NOTIFIER_CONFIG_PATH ?= config/notifier.toml
# The browser tests (tests/e2e) drive Debian's Chromium; Playwright never downloads its own.
CHROMIUM ?= /usr/bin/chromium
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-microhei.ttc
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: install browser postgresql demo test lint format clean bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# Prism (Twilio's OpenAPI spec served as a mock) for the channel tests; Node from the machine.
# --engine-strict: a Node older than a package's `engines` stops here with npm's EBADENGINE
# naming both versions, not with a warning and a Prism that fails later.
node_modules/.installed: package.json package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "Node.js and npm are \
	missing: the channel tests run Prism on Node $$(sed -n 's/.*"node": "\(.*\)".*/\1/p' \
	package.json) (Debian: apt-get install nodejs npm)" >&2; exit 1; }
	npm ci --no-audit --no-fund --ignore-scripts --engine-strict || { echo "npm ci failed; \
	with EBADENGINE above: install a Node that matches its Required line, or pin an older \
	@stoplight/prism-cli in package.json (its engines: npm view @stoplight/prism-cli@X engines)" >&2; \
	exit 1; }
	touch $@

# Debian's chromium package (and a CJK font, so Chinese names in the screenshots and the
# letters' PDFs are not boxes; poppler-utils' pdftoppm draws docs/letter-page1.png), once:
# as root directly (CI), else through sudo if there is one.
$(CHROMIUM) $(CJK_FONT) &:
	@if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null; then sudo=sudo; \
	else echo "$(CHROMIUM) is missing: install Debian's chromium package as root" >&2; exit 1; fi; \
	$$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y --no-install-recommends chromium fonts-wqy-microhei poppler-utils

# Debian's PostgreSQL server (any version), the second store of the store, sweep and
# delivery tests: tests/fakes/postgres.py starts a throwaway cluster on 127.0.0.1 with its
# initdb and pg_ctl. Installed once, like chromium, when there is none.
postgresql:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then sudo=; elif command -v sudo >/dev/null; then sudo=sudo; \
	else echo "PostgreSQL is missing: install Debian's postgresql package as root" >&2; exit 1; fi; \
	$$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y --no-install-recommends postgresql

install: $(BIN)/.installed

browser: $(CHROMIUM) $(CJK_FONT)

lint: install
	$(BIN)/ruff check notifier tests scripts bench
	$(BIN)/ruff format --check notifier tests scripts bench
	$(BIN)/mypy notifier

format: install
	$(BIN)/ruff format notifier tests scripts bench
	$(BIN)/ruff check --fix notifier tests scripts bench

test: lint node_modules/.installed browser postgresql
	$(BIN)/pytest

DEMO_MANAGER ?= manager
DEMO_USER ?= reviewer
# A new password each run unless given (DEMO_PASSWORD=...): printed below, never in the repository.
ifndef DEMO_PASSWORD
DEMO_PASSWORD := $(shell $(PYTHON) -c 'import secrets; print(secrets.token_urlsafe(12))')
endif
N := $(BIN)/notifier --db sqlite:///./$(DEMO_DB)

demo: install
	rm -rf $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm demo-data demo-outbox
	$(BIN)/python scripts/demo_data.py demo-data
	$(N) init
	$(N) import customers demo-data/customers.csv
	$(N) import receivables demo-data/receivables.csv
	$(N) import payments demo-data/payments.csv
	$(N) report aging
	$(N) explain C001
	$(N) plan
	$(N) drafts --status pending_approval
	$(N) user add $(DEMO_USER) --role reviewer --password $(DEMO_PASSWORD) --locale en
	$(N) user add $(DEMO_MANAGER) --role manager --password $(DEMO_PASSWORD) --locale zh-CN
	@echo
	@echo "  notifier demo on http://127.0.0.1:8000  (sample portfolio, dates moved to today)"
	@echo "  reviewer login: $(DEMO_USER) / $(DEMO_PASSWORD)   manager: $(DEMO_MANAGER) / $(DEMO_PASSWORD)"
	@echo "  API token:      $$($(N) token create $(DEMO_USER))"
	@echo "  try: curl -H 'Authorization: Bearer <token>' http://127.0.0.1:8000/api/drafts"
	@echo "  messages are captured under ./demo-outbox, nothing is sent to Twilio or SMTP"
	@echo
	NOTIFIER_DELIVERY_MODE=capture NOTIFIER_CAPTURE_DIR=demo-outbox $(N) serve --host 127.0.0.1 --port 8000

# Speed and memory, each beside its reference in the same run (never timed in tests).
# SCALE: receivables in the synthetic portfolio (customers: 0.3 x SCALE); the table goes to
# the terminal, everything to bench/results.json. E.g. `make bench SCALE=200000`.
SCALE ?= 1000000
bench: install
	$(BIN)/python -m bench.run --scale $(SCALE)

clean:
	rm -rf $(VENV) node_modules demo-data demo-outbox *.egg-info .mypy_cache .ruff_cache .pytest_cache $(DEMO_DB)*
