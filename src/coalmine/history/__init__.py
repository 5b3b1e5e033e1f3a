"""The history of an analysis: one read model for the CLI, the report and the dashboard.

model    History and its parts (weights over time, each check against its range with
         the primary beside it, events, the verdict of each revision)
records  the raw rows (ticks, checks, samples) as JSON, the same from the local API
         and from a cluster's Prometheus
build    rows + the canary + its events -> History (pure)
reading  read_history(target, ...): from `coalmine up`'s store, or from a cluster
         (status, Events, Prometheus range queries)
cluster  a cluster canary's revisions from its Events and status (pure)
kube     the cluster's rows, from Prometheus
recent   every canary's recent weights in one read (the overview)
"""

from coalmine.history.build import build_history
from coalmine.history.model import (
    CheckPoint,
    History,
    MetricHistory,
    Point,
    RevisionSummary,
    WeightPoint,
)
from coalmine.history.records import Records

__all__ = [
    "CheckPoint",
    "History",
    "MetricHistory",
    "Point",
    "Records",
    "RevisionSummary",
    "WeightPoint",
    "build_history",
]
