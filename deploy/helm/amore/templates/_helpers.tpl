{{/* Names and labels shared by every manifest. */}}
{{- define "amore.name" -}}amore{{- end -}}

{{- define "amore.fullname" -}}
{{- if contains "amore" .Release.Name -}}{{ .Release.Name | trunc 50 | trimSuffix "-" }}{{- else -}}{{ printf "%s-amore" .Release.Name | trunc 50 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "amore.labels" -}}
app.kubernetes.io/name: amore
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: amore
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
amore.thatsamore.example/environment: {{ .Values.environment }}
{{- end -}}

{{/* Selector labels of one component (engine or serve). */}}
{{- define "amore.selector" -}}
app.kubernetes.io/name: amore
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* The image: a digest when one is set, else the tag (the chart's appVersion by default). */}}
{{- define "amore.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end -}}

{{/* The environment's configuration file, parsed (config/<environment>.json). */}}
{{- define "amore.configFile" -}}
{{- $path := printf "config/%s.json" .Values.environment -}}
{{- $text := .Files.Get $path -}}
{{- if not $text -}}{{- fail (printf "environment %q has no %s in the chart" .Values.environment $path) -}}{{- end -}}
{{- $text -}}
{{- end -}}

{{- define "amore.config" -}}
{{- include "amore.configFile" . | fromJson | toJson -}}
{{- end -}}

{{/* The input topics' partition count: the ceiling of the engine's replicas. */}}
{{- define "amore.partitions" -}}
{{- $config := include "amore.configFile" . | fromJson -}}
{{- $partitions := int (dig "topics" "partitions" 0 $config) -}}
{{- if lt $partitions 1 -}}{{- fail (printf "config/%s.json must set topics.partitions" .Values.environment) -}}{{- end -}}
{{- $partitions -}}
{{- end -}}

{{- define "amore.group" -}}
{{- $config := include "amore.configFile" . | fromJson -}}
{{- dig "engine" "group" "amore-engine" $config -}}
{{- end -}}

{{- define "amore.brokers" -}}
{{- $config := include "amore.configFile" . | fromJson -}}
{{- $brokers := dig "kafka" "brokers" "" $config -}}
{{- if not $brokers -}}{{- fail (printf "config/%s.json must set kafka.brokers" .Values.environment) -}}{{- end -}}
{{- $brokers -}}
{{- end -}}

{{/* Where secrets and the CA are mounted: the config files name these paths. */}}
{{- define "amore.secretsDir" -}}/var/run/secrets/amore/kafka{{- end -}}
{{- define "amore.caDir" -}}/etc/amore/kafka-ca{{- end -}}
{{- define "amore.configDir" -}}/etc/amore/config{{- end -}}

{{/* The restrictive security context every container runs with. */}}
{{- define "amore.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "amore.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}
