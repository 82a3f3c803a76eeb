"""Helpers shared by the test suites (services, fixtures, workers)."""
