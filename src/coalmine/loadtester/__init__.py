"""The load tester: runs the tasks webhooks ask for, and keeps manual gates.

It speaks Flagger's load tester protocol, so Canaries written for Flagger's
`flagger-loadtester` work against it: POST the webhook payload to `/` with
`metadata.type` (cmd, bash, load), or use the gate endpoints under `/gate` and
`/rollback`. Start it with `coalmine loadtester` or `python -m coalmine.loadtester`.
"""

from coalmine.loadtester.app import create_app
from coalmine.loadtester.load import plan_from_metadata
from coalmine.loadtester.server import DEFAULT_PORT, serve
from coalmine.loadtester.tasks import TASK_TYPES, LoadRunner, TaskSettings

__all__ = [
    "DEFAULT_PORT",
    "TASK_TYPES",
    "LoadRunner",
    "TaskSettings",
    "create_app",
    "plan_from_metadata",
    "serve",
]
