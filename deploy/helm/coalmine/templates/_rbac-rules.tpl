{{/* Generated from src/coalmine/kube/install by scripts/generate-deploy; do not edit. */}}
{{- define "coalmine.rules.crds" -}}
- apiGroups:
  - apiextensions.k8s.io
  resources:
  - customresourcedefinitions
  verbs:
  - get
  - list
  - watch
{{- end }}
{{- define "coalmine.rules.namespaces" -}}
- apiGroups:
  - ''
  resources:
  - namespaces
  verbs:
  - get
  - list
  - watch
{{- end }}
{{- define "coalmine.rules.workload" -}}
- apiGroups:
  - apps
  resources:
  - deployments
  verbs:
  - get
  - list
  - watch
  - create
  - update
  - patch
  - delete
- apiGroups:
  - ''
  resources:
  - services
  verbs:
  - get
  - list
  - watch
  - create
  - update
  - patch
  - delete
- apiGroups:
  - autoscaling
  resources:
  - horizontalpodautoscalers
  verbs:
  - get
  - list
  - watch
  - create
  - update
  - patch
  - delete
- apiGroups:
  - networking.istio.io
  resources:
  - virtualservices
  - destinationrules
  verbs:
  - get
  - list
  - watch
  - create
  - update
  - patch
  - delete
- apiGroups:
  - gateway.networking.k8s.io
  resources:
  - httproutes
  verbs:
  - get
  - list
  - watch
  - create
  - update
  - patch
  - delete
- apiGroups:
  - coalmine.dev
  resources:
  - canaries
  verbs:
  - get
  - list
  - watch
  - update
  - patch
- apiGroups:
  - coalmine.dev
  resources:
  - canaries/status
  verbs:
  - get
  - update
  - patch
- apiGroups:
  - coalmine.dev
  resources:
  - canaries/finalizers
  verbs:
  - update
- apiGroups:
  - coalmine.dev
  resources:
  - metrictemplates
  - alertproviders
  verbs:
  - get
  - list
  - watch
- apiGroups:
  - ''
  - events.k8s.io
  resources:
  - events
  verbs:
  - get
  - create
  - patch
- apiGroups:
  - ''
  resources:
  - configmaps
  - secrets
  verbs:
  - get
  - list
  - watch
  - create
  - update
  - patch
{{- end }}
{{- define "coalmine.rules.flagger" -}}
- apiGroups:
  - flagger.app
  resources:
  - canaries
  verbs:
  - get
  - list
  - watch
  - update
  - patch
- apiGroups:
  - flagger.app
  resources:
  - canaries/status
  verbs:
  - get
  - update
  - patch
- apiGroups:
  - flagger.app
  resources:
  - canaries/finalizers
  verbs:
  - update
- apiGroups:
  - flagger.app
  resources:
  - metrictemplates
  - alertproviders
  verbs:
  - get
  - list
  - watch
{{- end }}
{{- define "coalmine.rules.leaderElection" -}}
- apiGroups:
  - coordination.k8s.io
  resources:
  - leases
  verbs:
  - get
  - list
  - create
  - update
  - patch
{{- end }}
