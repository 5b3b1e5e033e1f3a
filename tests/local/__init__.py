"""Tests of local mode."""
