# The two set-up commands of the README, plus a few conveniences. Each bootstraps what it needs.
.PHONY: demo test

demo:  ## run the whole product on the embedded default (SQLite) and print where to open it
	scripts/demo

test:  ## lint, type-check and run the whole test suite (SQLite, PostgreSQL, Chromium)
	scripts/test
