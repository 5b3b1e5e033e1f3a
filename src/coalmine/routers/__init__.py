"""The routers: one module per provider behind the engine's Router port.

    istio   IstioRouter (Kubernetes): Services, DestinationRules, the VirtualService
    envoy   the local runtime's router: the same objects in the local store, served by Envoy

Nothing is imported here, so that a runtime imports only the router it runs.
"""
