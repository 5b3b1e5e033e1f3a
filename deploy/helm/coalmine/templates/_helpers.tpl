{{/* Labels on every object; the kustomize base has the same, without Helm's own two. */}}
{{- define "coalmine.labels" -}}
app.kubernetes.io/part-of: coalmine
app.kubernetes.io/name: coalmine
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{- define "coalmine.selector" -}}
app.kubernetes.io/name: coalmine
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "coalmine.subjects" -}}
- kind: ServiceAccount
  name: {{ .Release.Name }}
  namespace: {{ .Release.Namespace }}
{{- end }}

{{/*
Bindings of a ClusterRole of namespaced rules: cluster-wide when every namespace is
watched, else a RoleBinding in each watched namespace. Called with (dict "root" . "role" NAME).
*/}}
{{- define "coalmine.bindings" -}}
{{- $root := .root }}
{{- $role := .role }}
{{- if empty $root.Values.watchNamespaces }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ $role }}
  labels:
    {{- include "coalmine.labels" $root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ $role }}
subjects:
  {{- include "coalmine.subjects" $root | nindent 2 }}
{{- else }}
{{- range $root.Values.watchNamespaces }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ $role }}
  namespace: {{ . }}
  labels:
    {{- include "coalmine.labels" $root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: {{ $role }}
subjects:
  {{- include "coalmine.subjects" $root | nindent 2 }}
{{- end }}
{{- end }}
{{- end }}

{{- define "coalmine.loadtesterSelector" -}}
app.kubernetes.io/name: loadtester
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "coalmine.loadtesterLabels" -}}
app.kubernetes.io/part-of: coalmine
{{ include "coalmine.loadtesterSelector" . }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}
