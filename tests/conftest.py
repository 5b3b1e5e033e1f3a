"""Shared fixtures. Test modules mirror src/coalmine; end-to-end tests live in tests/e2e."""

pytest_plugins = [
    "tests.fixtures.browser",
    "tests.fixtures.demo",
    "tests.fixtures.envoy_stack",
    "tests.fixtures.hooks",
    "tests.fixtures.kube",
    "tests.fixtures.local",
    "tests.fixtures.notify",
    "tests.fixtures.operator",
    "tests.fixtures.prometheus",
    "tests.fixtures.world",
]
