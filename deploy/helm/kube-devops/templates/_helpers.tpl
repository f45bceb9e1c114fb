{{/*
Names. The release is usually called kube-devops, which gives the objects the names the CLI's
defaults expect (`webhook install-config`, `webhook cert-generate`): kube-devops-webhook and so on.
*/}}
{{- define "kube-devops.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kube-devops.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kube-devops.operator.fullname" -}}
{{- printf "%s-operator" (include "kube-devops.fullname" .) }}
{{- end }}

{{- define "kube-devops.webhook.fullname" -}}
{{- printf "%s-webhook" (include "kube-devops.fullname" .) }}
{{- end }}

{{- define "kube-devops.webhook.tlsSecret" -}}
{{- printf "%s-webhook-tls" (include "kube-devops.fullname" .) }}
{{- end }}

{{/* Labels every object carries. */}}
{{- define "kube-devops.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "kube-devops.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kube-devops
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component (operator or webhook): stable across upgrades. */}}
{{- define "kube-devops.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kube-devops.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "kube-devops.componentLabels" -}}
{{ include "kube-devops.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* The image, pinned by tag (the chart's appVersion unless set) or by digest. */}}
{{- define "kube-devops.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if eq $tag "latest" }}
{{- fail "image.tag: `latest` is not allowed; pin a version or a digest" }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The container security context every kube-devops container runs with. */}}
{{- define "kube-devops.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "kube-devops.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Anti-affinity across nodes: `soft` prefers spreading (a one-node cluster still runs both
replicas), `hard` requires it, `none` leaves it to the scheduler (values.schema.json allows no
other value).
*/}}
{{- define "kube-devops.antiAffinity" -}}
{{- $selector := include "kube-devops.selectorLabels" . }}
{{- if eq .values.antiAffinity "hard" }}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - topologyKey: kubernetes.io/hostname
      labelSelector:
        matchLabels:
          {{- $selector | nindent 10 }}
{{- else if eq .values.antiAffinity "soft" }}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- $selector | nindent 12 }}
{{- end }}
{{- end }}

{{/* Custom plugin modules, mounted read-only at /plugins when any source is set. */}}
{{- define "kube-devops.plugins.enabled" -}}
{{- if and .Values.plugins.configMap .Values.plugins.image.reference }}
{{- fail "set plugins.configMap or plugins.image.reference, not both: the modules come from one place" }}
{{- end }}
{{- if or .Values.plugins.configMap .Values.plugins.image.reference }}true{{ end }}
{{- end }}

{{- /*
The custom plugins' volume, and an emptyDir for their compiled code: the root filesystem is
read-only, and a container restart then skips compiling them again.
*/}}
{{- define "kube-devops.plugins.volume" -}}
- name: plugin-cache
  emptyDir:
    sizeLimit: 512Mi
{{- if .Values.plugins.configMap }}
- name: plugins
  configMap:
    name: {{ .Values.plugins.configMap }}
{{- else if .Values.plugins.image.reference }}
- name: plugins
  image:
    reference: {{ .Values.plugins.image.reference }}
    pullPolicy: {{ .Values.plugins.image.pullPolicy }}
{{- end }}
{{- end }}

{{- define "kube-devops.plugins.mounts" -}}
- name: plugins
  mountPath: /plugins
  readOnly: true
- name: plugin-cache
  mountPath: /var/cache/kube-devops
{{- end }}
