"""Routers: how a canary's weights become routing objects (Istio in Kubernetes, Envoy locally)."""
