"""Shared test set-up. Unit tests need nothing; integration and e2e tests use the real
PostgreSQL and Valkey that `make test` starts (profile `test`)."""
