{{/* The chart's name, or nameOverride. */}}
{{- define "devsim.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: fullnameOverride, else release-chart (once if they match). */}}
{{- define "devsim.fullname" -}}
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

{{/* Labels of every object of the release. */}}
{{- define "devsim.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "devsim.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels that select the operator pods. */}}
{{- define "devsim.selectorLabels" -}}
app.kubernetes.io/name: {{ include "devsim.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The operator's ServiceAccount. */}}
{{- define "devsim.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "devsim.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator's image. */}}
{{- define "devsim.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The workers' image: their own if set, else the operator's. */}}
{{- define "devsim.workerImage" -}}
{{- if .Values.workers.image.repository }}
{{- printf "%s:%s" .Values.workers.image.repository (default .Chart.AppVersion .Values.workers.image.tag) }}
{{- else }}
{{- include "devsim.image" . }}
{{- end }}
{{- end }}

{{/* ClusterRole, or Role in watchNamespace: the kind of the operator's main rights. */}}
{{- define "devsim.rbacKind" -}}
{{- if .Values.watchNamespace }}Role{{ else }}ClusterRole{{ end }}
{{- end }}
