"""coalmine's own telemetry: Prometheus metrics about every canary, and where to scrape them.

See docs/telemetry.md for every metric and its labels. Structured logging lives in
`coalmine.logs` (standard library only, so that the engine can use it).
"""

from coalmine.telemetry.recorder import STATUS_VALUES, PrometheusRecorder
from coalmine.telemetry.server import METRICS_PATH, add_metrics_route, metrics_app, metrics_handler

__all__ = [
    "METRICS_PATH",
    "STATUS_VALUES",
    "PrometheusRecorder",
    "add_metrics_route",
    "metrics_app",
    "metrics_handler",
]
