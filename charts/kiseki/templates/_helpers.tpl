{{- define "kiseki.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "kiseki.labels" -}}
app.kubernetes.io/name: kiseki
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Labels that select one component's pods: (dict "root" $ "component" "watcher") */}}
{{- define "kiseki.selector" -}}
app.kubernetes.io/name: kiseki
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "kiseki.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "kiseki.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "kiseki.securityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end -}}

{{- define "kiseki.podAnnotations" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if .Values.metrics.scrapeAnnotations }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.metrics.port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end -}}

{{/* Probes on the health endpoint every service serves (kiseki.core.health). */}}
{{- define "kiseki.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: metrics}
  periodSeconds: 2
  failureThreshold: 30
livenessProbe:
  httpGet: {path: /healthz, port: metrics}
  periodSeconds: 10
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: metrics}
  periodSeconds: 5
  failureThreshold: 3
{{- end -}}

{{/* Kafka connection and health endpoint settings every service reads. */}}
{{- define "kiseki.commonEnv" -}}
- name: KISEKI_KAFKA_BOOTSTRAP
  value: {{ .Values.kafka.bootstrap | quote }}
- name: KISEKI_TOPIC_PREFIX
  value: {{ .Values.kafka.topicPrefix | quote }}
- name: KISEKI_KAFKA_SECURITY_PROTOCOL
  value: {{ .Values.kafka.securityProtocol | quote }}
{{- if hasPrefix "SASL" .Values.kafka.securityProtocol }}
- name: KISEKI_KAFKA_SASL_MECHANISM
  value: {{ .Values.kafka.sasl.mechanism | quote }}
- name: KISEKI_KAFKA_SASL_USERNAME
  valueFrom:
    secretKeyRef: {name: {{ required "kafka.sasl.existingSecret is required with SASL" .Values.kafka.sasl.existingSecret | quote }}, key: {{ .Values.kafka.sasl.usernameKey | quote }}}
- name: KISEKI_KAFKA_SASL_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ .Values.kafka.sasl.existingSecret | quote }}, key: {{ .Values.kafka.sasl.passwordKey | quote }}}
{{- end }}
{{- if .Values.kafka.tls.caSecret }}
- name: KISEKI_KAFKA_SSL_CAFILE
  value: /etc/kiseki/kafka-ca/{{ .Values.kafka.tls.caKey }}
{{- end }}
- name: KISEKI_HEALTH_HOST
  value: 0.0.0.0
- name: KISEKI_HEALTH_PORT
  value: {{ .Values.metrics.port | quote }}
{{- end -}}

{{- define "kiseki.kafkaCaVolume" -}}
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret: {secretName: {{ .Values.kafka.tls.caSecret | quote }}}
{{- end }}
{{- end -}}

{{- define "kiseki.kafkaCaMount" -}}
{{- if .Values.kafka.tls.caSecret }}
- {name: kafka-ca, mountPath: /etc/kiseki/kafka-ca, readOnly: true}
{{- end }}
{{- end -}}

{{- /* Engine builds happen when the install's backend is trtllm or, with an engine claim
named, when a run's policy asks for serving.backend trtllm: then the orchestrator gets the
TensorRT-LLM settings and may run Jobs. */ -}}
{{- define "kiseki.engineBuilds" -}}
{{- if or (eq .Values.serving.backend "trtllm") .Values.serving.trtllm.engineClaim -}}true{{- end -}}
{{- end -}}
