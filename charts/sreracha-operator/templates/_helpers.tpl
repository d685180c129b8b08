{{/* The chart's name, or nameOverride. */}}
{{- define "sreracha-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name: fullnameOverride, or the release name when it already contains
the chart's name, else <release>-<chart>. Names the Deployment, ServiceAccount,
roles and bindings, so that two releases do not collide on cluster-scoped
objects.
*/}}
{{- define "sreracha-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sreracha-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object. Not app.kubernetes.io/managed-by=sreracha-operator:
that label marks the operator's own children, which it watches.
*/}}
{{- define "sreracha-operator.labels" -}}
helm.sh/chart: {{ include "sreracha-operator.chart" . }}
{{ include "sreracha-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sreracha-operator
{{- end }}

{{- define "sreracha-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sreracha-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sreracha-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sreracha-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sreracha-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
The rules for namespaced resources: exactly what the operator calls (see
manifests/clusterrole.yaml, which says why each is needed, and
tests/e2e/least_privilege_test.sh, which proves they suffice).
*/}}
{{- define "sreracha-operator.namespacedRules" -}}
- apiGroups: [sreracha.io]
  resources: [srerachas]
  verbs: [list, watch]
- apiGroups: [sreracha.io]
  resources: [srerachas/status]
  verbs: [patch]
- apiGroups: [sreracha.io]
  resources: [srerachas/finalizers]
  verbs: [update]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [services]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies, ingresses]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch, patch]
- apiGroups: [""]
  resources: [pods/eviction]
  verbs: [create]
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch]
{{- end }}

{{/* Rules that only a ClusterRole can grant: IngressClasses are cluster-scoped. */}}
{{- define "sreracha-operator.clusterRules" -}}
- apiGroups: [networking.k8s.io]
  resources: [ingressclasses]
  verbs: [list, watch]
{{- end }}

{{- define "sreracha-operator.eventRules" -}}
- apiGroups: [""]
  resources: [events]
  verbs: [create, patch]
{{- end }}
