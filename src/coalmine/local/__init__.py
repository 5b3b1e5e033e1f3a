"""Local mode: the whole canary workflow on one machine, with real Envoy and local processes."""
