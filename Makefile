# Relay: `make run` serves the portal with demo data, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install migrate demo lint check system-packages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: install
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput

# SITE_URL as `manage.py serve` will set it, so the login link printed here is the one served.
demo: migrate
	DEBUG=$${DEBUG:-1} SITE_URL=$${SITE_URL:-http://$(HOST):$(PORT)} $(PY) manage.py seed_demo

# gunicorn and a django-q2 worker in one foreground command; Ctrl-C stops both. collectstatic
# so /static/ also works with DEBUG=0 (whitenoise's manifest), not only through the finders.
run: demo
	DEBUG=$${DEBUG:-1} $(PY) manage.py collectstatic --noinput -v0
	DEBUG=$${DEBUG:-1} $(PY) manage.py serve --host $(HOST) --port $(PORT)

# System packages the tests drive: Debian's chromium (browser tests) and prometheus-alertmanager
# (the real-sender intake test). Installed when missing and we can (root with apt-get).
SYSTEM_PACKAGES := chromium prometheus-alertmanager
system-packages:
	@missing=""; for p in $(SYSTEM_PACKAGES); do command -v $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing$$missing for the tests (apt-get)…"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "The tests need Debian's$$missing: sudo apt-get install$$missing"; exit 1; \
	  fi; \
	fi

# npm packages the tests use, one major each, kept out of git, installed once: axe-core for the
# accessibility checks of tests/browser/test_pages.py, oidc-provider for the identity provider
# the single sign-on tests run (tests/accounts/oidc_provider.mjs). One npm install for both:
# a later `npm install --no-save` into the same folder removes what an earlier one put there.
AXE := .cache/npm/node_modules/axe-core/axe.min.js
OIDC_PROVIDER := .cache/npm/node_modules/oidc-provider/package.json
NPM_PACKAGES := axe-core@4 oidc-provider@9
# Node trusts only its own CA list; where the machine reaches the registry through its own CAs
# (the system bundle), node is told to trust those too.
SYSTEM_CAS := $(firstword $(wildcard /etc/ssl/certs/ca-certificates.crt /etc/pki/tls/certs/ca-bundle.crt))
$(AXE) $(OIDC_PROVIDER) &:
	NODE_EXTRA_CA_CERTS="$${NODE_EXTRA_CA_CERTS:-$(SYSTEM_CAS)}" \
	  npm install --no-save --no-audit --no-fund --prefix .cache/npm $(NPM_PACKAGES)

test: install system-packages $(AXE) $(OIDC_PROVIDER)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .

check: install
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) relay.sqlite3* staticfiles .pytest_cache .cache tests/browser/artifacts
