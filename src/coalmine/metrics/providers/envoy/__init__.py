"""The Envoy stats provider: the built-in checks from Envoy's `/stats/prometheus`.

stats     parsing and window arithmetic over timestamped samples
measurer  EnvoyMeasurer: a Canary's built-in checks from those windows
"""
