"""Local mode: releases as local processes behind a real Envoy, state in SQLite."""
