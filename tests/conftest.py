"""Shared fixtures. Test modules mirror src/coalmine; end-to-end tests live in tests/e2e."""

pytest_plugins = [
    "tests.fixtures.prometheus",
    "tests.fixtures.envoy_stack",
]
