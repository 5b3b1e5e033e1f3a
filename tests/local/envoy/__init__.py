"""Tests of the local Envoy data plane, against a real Envoy."""
