"""The metrics providers: one module per source of measurements.

    base        ProviderSettings, the MetricProvider interface (a query, one number)
    registry    MetricTemplate provider types -> factories
    prometheus  PrometheusProvider: PromQL over Prometheus's HTTP API
    envoy       the built-in checks from Envoy's own stats, without Prometheus

Nothing is imported here; import from the modules.
"""
