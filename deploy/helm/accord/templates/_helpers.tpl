{{- define "accord.labels" -}}
app.kubernetes.io/part-of: accord
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{/* Labels that select one component's pods: accord.selector (dict "root" $ "name" "referral") */}}
{{- define "accord.selector" -}}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/name: {{ .name }}
{{- end }}

{{- define "accord.fullname" -}}
{{- printf "%s-%s" .root.Release.Name .name | trunc 63 | trimSuffix "-" -}}
{{- end }}

{{- define "accord.kafkaBootstrap" -}}
{{- if .Values.kafka.bootstrap -}}
{{ .Values.kafka.bootstrap }}
{{- else -}}
{{- $ns := ternary (printf ".%s" .Values.kafka.namespace) "" (ne .Values.kafka.namespace "") -}}
{{ .Values.kafka.cluster }}-kafka-bootstrap{{ $ns }}:{{ ternary 9093 9092 .Values.kafka.tls.enabled }}
{{- end -}}
{{- end }}

{{- define "accord.kafkaProtocol" -}}
{{- if and .Values.kafka.tls.enabled .Values.kafka.sasl.enabled -}}SASL_SSL
{{- else if .Values.kafka.tls.enabled -}}SSL
{{- else if .Values.kafka.sasl.enabled -}}SASL_PLAINTEXT
{{- else -}}PLAINTEXT
{{- end -}}
{{- end }}

{{- define "accord.postgresSecret" -}}
{{- .Values.postgres.secret | default (printf "%s-app" .Values.postgres.cluster) -}}
{{- end }}

{{- define "accord.podSecurityContext" -}}
{{ toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "accord.securityContext" -}}
{{ toYaml .Values.securityContext }}
{{- end }}

{{/* Probes on the container's http port: liveness never asks dependencies, readiness does. */}}
{{- define "accord.probes" -}}
startupProbe:
  httpGet: {path: {{ .live | quote }}, port: http}
  {{- toYaml .root.Values.probes.startup | nindent 2 }}
livenessProbe:
  httpGet: {path: {{ .live | quote }}, port: http}
  {{- toYaml .root.Values.probes.liveness | nindent 2 }}
readinessProbe:
  httpGet: {path: {{ .ready | quote }}, port: http}
  {{- toYaml .root.Values.probes.readiness | nindent 2 }}
{{- end }}

{{- define "accord.peer" -}}
{{- /* A peer in another namespace (when one is named) or in the release's. */ -}}
- podSelector:
    matchLabels: {{- toYaml .pods | nindent 6 }}
  {{- if .namespace }}
  namespaceSelector:
    matchLabels: {kubernetes.io/metadata.name: {{ .namespace }}}
  {{- end }}
{{- end }}

{{- define "accord.identityEgress" -}}
{{- $idp := .Values.identity.egress -}}
{{- if not (or $idp.cidrs $idp.namespaceSelector $idp.podSelector) -}}
{{- fail "identity.egress: name where the identity provider answers (cidrs or selectors)" -}}
{{- end -}}
- to:
    {{- range $idp.cidrs }}
    - ipBlock: {cidr: {{ . }}}
    {{- end }}
    {{- if or $idp.namespaceSelector $idp.podSelector }}
    - {{- with $idp.namespaceSelector }}
      namespaceSelector: {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $idp.podSelector }}
      podSelector: {{- toYaml . | nindent 8 }}
      {{- end }}
    {{- end }}
  ports:
    {{- range $idp.ports }}
    - {protocol: TCP, port: {{ . }}}
    {{- end }}
{{- end }}
