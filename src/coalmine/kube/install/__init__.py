"""Installing coalmine: what `coalmine install` and the deploy/ files are made of.

    crds, schema, refinements   the CRDs generated from the models (CEL rules included)
    rbac                        the controller's RBAC rules, each with why
    manifests                   the controller's and the load tester's objects
    deploy_files                deploy/ (kustomize, Helm chart parts) from the above
    apply                       applying them to a cluster (server-side apply, kr8s)

These import the api models and the errors only: neither the runtime nor the adapters,
so `coalmine install` loads no kopf (kr8s only in `apply`, when it applies). Nothing is
imported here.
"""
