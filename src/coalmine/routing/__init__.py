"""The routing objects as data: what the routers write, and the names others read.

`virtual_service` (the VirtualService a Canary owns, Flagger's shape, and the Service
names `<svc>`, `<svc>-primary`, `<svc>-canary`, `<svc>-baseline`), `session_affinity`
(the cookies' headers and matches) and `manual` (the objects of `coalmine manual`). Pure
functions, no I/O: the routers (`coalmine.routers`) write these objects to Kubernetes or
to the local store, and the measurers, the operator and the CLI read the names.
"""
