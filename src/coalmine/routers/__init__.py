"""The routers: one module per provider behind the engine's Router port.

    istio       IstioRouter (Kubernetes): Services, DestinationRules, the VirtualService
    kubernetes  KubernetesRouter (Kubernetes): blue/green by the apex Service's selector
    envoy       the local runtime's router: the same objects in the local store, served by Envoy

`services` holds what the Kubernetes routers share (the three Services, the apex handed
back). Nothing is imported here, so that a runtime imports only the router it runs.
"""
