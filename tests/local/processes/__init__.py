"""Tests of the process layer: real processes, real HTTP probes."""
