"""coalmine on Kubernetes: the CRDs, RBAC and controller manifests, and installing them."""
