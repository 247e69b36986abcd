{{- /* What each service adds to the common pod: its settings, volumes and mounts. */ -}}

{{- define "kiseki.checkpointVolume" -}}
- name: checkpoints
  persistentVolumeClaim: {claimName: {{ .Values.checkpoints.existingClaim | quote }}, readOnly: true}
{{- end -}}
{{- define "kiseki.checkpointMount" -}}
- {name: checkpoints, mountPath: {{ .Values.checkpoints.mountPath }}, readOnly: true}
{{- end -}}
{{- define "kiseki.configVolume" -}}
- name: config
  configMap: {name: {{ include "kiseki.fullname" . }}-config}
{{- end -}}

{{- define "kiseki.env.watcher" -}}
- name: KISEKI_WATCH_RUNS_FILE
  value: /etc/kiseki/config/runs.json
{{- end -}}
{{- define "kiseki.volumes.watcher" -}}
{{ include "kiseki.configVolume" . }}
{{ include "kiseki.checkpointVolume" . }}
{{- end -}}
{{- define "kiseki.mounts.watcher" -}}
- {name: config, mountPath: /etc/kiseki/config, readOnly: true}
{{ include "kiseki.checkpointMount" . }}
{{- end -}}

{{- define "kiseki.env.orchestrator" -}}
{{- $serving := .Values.serving -}}
{{- $trtllm := eq $serving.backend "trtllm" -}}
- name: KISEKI_POLICY_FILE
  value: /etc/kiseki/config/policy.json
- name: KISEKI_ORCHESTRATOR_WORKDIR
  value: /tmp/orchestrator
- name: KISEKI_CONTROL_HOST
  value: 0.0.0.0
- name: KISEKI_CONTROL_PORT
  value: "50051"
{{- with .Values.control }}
{{- if .tokenSecret }}
- name: KISEKI_CONTROL_TOKEN
  valueFrom:
    secretKeyRef: {name: {{ .tokenSecret | quote }}, key: {{ .tokenKey | quote }}}
{{- end }}
{{- if .tlsSecret }}
- name: KISEKI_CONTROL_TLS_CERT
  value: /etc/kiseki/control-tls/tls.crt
- name: KISEKI_CONTROL_TLS_KEY
  value: /etc/kiseki/control-tls/tls.key
{{- end }}
{{- end }}
- name: KISEKI_DEPLOYER
  value: kubernetes
- name: KISEKI_K8S_NAMESPACE
  valueFrom:
    fieldRef: {fieldPath: metadata.namespace}
- name: KISEKI_K8S_INSTANCE
  value: {{ .Release.Name | quote }}
- name: KISEKI_K8S_MODE
  value: {{ $serving.mode | quote }}
- name: KISEKI_K8S_KSERVE_DEPLOYMENT_MODE
  value: {{ $serving.kserveDeploymentMode | quote }}
- name: KISEKI_K8S_BACKEND
  value: {{ $serving.backend | quote }}
- name: KISEKI_K8S_SERVING_IMAGE
  value: {{ ternary $serving.trtllm.image $serving.image $trtllm | quote }}
- name: KISEKI_K8S_REPOSITORY_IMAGE
  value: {{ include "kiseki.image" . | quote }}
- name: KISEKI_K8S_CHECKPOINT_CLAIM
  value: {{ .Values.checkpoints.existingClaim | quote }}
- name: KISEKI_K8S_CHECKPOINT_MOUNT
  value: {{ .Values.checkpoints.mountPath | quote }}
- name: KISEKI_CHECKPOINT_ROOTS
  value: {{ .Values.checkpoints.mountPath | quote }}
- name: KISEKI_K8S_GPUS
  value: {{ $serving.gpus | quote }}
- name: KISEKI_K8S_SERVING_CPU
  value: {{ $serving.cpu | quote }}
- name: KISEKI_K8S_SERVING_MEMORY
  value: {{ $serving.memory | quote }}
- name: KISEKI_K8S_NODE_SELECTOR
  value: {{ $pairs := list }}{{ range $key, $value := $serving.nodeSelector }}{{ $pairs = append $pairs (printf "%s=%s" $key $value) }}{{ end }}{{ join "," $pairs | quote }}
- name: KISEKI_K8S_READY_TIMEOUT_S
  value: {{ $serving.readyTimeoutSeconds | quote }}
- name: KISEKI_WARM_IDLE_S
  value: {{ $serving.warmIdleSeconds | quote }}
- name: KISEKI_SERVING_VLLM_THREADS
  value: {{ $serving.vllmThreads | quote }}
{{- with .Values.conversion }}
- name: KISEKI_K8S_CONVERSION_CLAIM
  value: {{ .existingClaim | quote }}
- name: KISEKI_K8S_CONVERSION_MOUNT
  value: {{ .mountPath | quote }}
- name: KISEKI_K8S_CONVERSION_IMAGE
  value: {{ .image | quote }}
- name: KISEKI_K8S_CONVERSION_CPU
  value: {{ .cpu | quote }}
- name: KISEKI_K8S_CONVERSION_MEMORY
  value: {{ .memory | quote }}
- name: KISEKI_CONVERSION_SLOTS
  value: {{ .slots | quote }}
- name: KISEKI_CONVERSION_AHEAD
  value: {{ .ahead | quote }}
- name: KISEKI_CONVERSION_TIMEOUT_S
  value: {{ .timeoutSeconds | quote }}
{{- end }}
{{- if include "kiseki.engineBuilds" . }}
- name: KISEKI_K8S_ENGINE_CLAIM
  value: {{ required "serving.trtllm.engineClaim is required with the trtllm backend" $serving.trtllm.engineClaim | quote }}
- name: KISEKI_K8S_TRTLLM_SOURCE_CLAIM
  value: {{ $serving.trtllm.sourceClaim | quote }}
- name: KISEKI_TRTLLM_IMAGE
  value: {{ $serving.trtllm.image | quote }}
- name: KISEKI_TRTLLM_MODEL_FAMILY
  value: {{ $serving.trtllm.modelFamily | quote }}
- name: KISEKI_TRTLLM_DTYPE
  value: {{ $serving.trtllm.dtype | quote }}
- name: KISEKI_TRTLLM_TP_SIZE
  value: {{ $serving.trtllm.tensorParallel | quote }}
# Set per checkpoint by the deployer; these satisfy the settings' required fields.
- name: KISEKI_TRTLLM_ENGINE_DIR
  value: /engines
- name: KISEKI_TRTLLM_TOKENIZER_DIR
  value: {{ .Values.checkpoints.mountPath | quote }}
{{- end }}
{{- end -}}
{{- define "kiseki.volumes.orchestrator" -}}
{{ include "kiseki.configVolume" . }}
{{- /* Warm reuse compares a checkpoint's config and tokenizer with the served one's. */}}
{{ include "kiseki.checkpointVolume" . }}
{{- if .Values.conversion.existingClaim }}
- name: converted
  persistentVolumeClaim: {claimName: {{ .Values.conversion.existingClaim | quote }}}
{{- end }}
{{- if .Values.control.tlsSecret }}
- name: control-tls
  secret: {secretName: {{ .Values.control.tlsSecret | quote }}}
{{- end }}
{{- end -}}
{{- define "kiseki.mounts.orchestrator" -}}
- {name: config, mountPath: /etc/kiseki/config, readOnly: true}
{{ include "kiseki.checkpointMount" . }}
{{- if .Values.conversion.existingClaim }}
- {name: converted, mountPath: {{ .Values.conversion.mountPath }}}
{{- end }}
{{- if .Values.control.tlsSecret }}
- {name: control-tls, mountPath: /etc/kiseki/control-tls, readOnly: true}
{{- end }}
{{- end -}}

{{- define "kiseki.env.runner" -}}
- name: KISEKI_RUNNER_GROUP
  value: {{ .Values.runner.consumerGroup | quote }}
- name: KISEKI_DATASETS_DIR
  value: {{ .Values.datasets.mountPath | quote }}
{{- if .Values.comet.modelClaim }}
- name: KISEKI_COMET_MODEL_DIR
  value: {{ .Values.comet.modelDir | quote }}
- name: HF_HUB_CACHE
  value: {{ printf "%s/hub" .Values.comet.modelDir | quote }}
{{- if .Values.comet.python }}
- name: KISEKI_COMET_PYTHON
  value: {{ .Values.comet.python | quote }}
{{- end }}
- name: KISEKI_COMET_START_TIMEOUT_S
  value: {{ .Values.comet.startTimeoutSeconds | quote }}
{{- end }}
- name: KISEKI_COMET_BATCH_SIZE
  value: {{ .Values.comet.batchSize | quote }}
{{- with .Values.runner.sandbox }}
- name: KISEKI_SANDBOX_CPU_S
  value: {{ .cpuSeconds | quote }}
- name: KISEKI_SANDBOX_WALL_S
  value: {{ .wallSeconds | quote }}
- name: KISEKI_SANDBOX_MEMORY_BYTES
  value: {{ .memoryBytes | int64 | quote }}
- name: KISEKI_SANDBOX_FILE_BYTES
  value: {{ .fileBytes | int64 | quote }}
- name: KISEKI_SANDBOX_PROCESSES
  value: {{ .processes | quote }}
- name: KISEKI_SANDBOX_WORKERS
  value: {{ .workers | quote }}
{{- end }}
{{- end -}}
{{- define "kiseki.volumes.runner" -}}
- name: datasets
  persistentVolumeClaim: {claimName: {{ .Values.datasets.existingClaim | quote }}, readOnly: true}
{{- if .Values.comet.modelClaim }}
- name: comet-model
  persistentVolumeClaim: {claimName: {{ .Values.comet.modelClaim | quote }}, readOnly: true}
{{- end }}
{{- end -}}
{{- define "kiseki.mounts.runner" -}}
- {name: datasets, mountPath: {{ .Values.datasets.mountPath }}, readOnly: true}
{{- if .Values.comet.modelClaim }}
- {name: comet-model, mountPath: {{ .Values.comet.modelDir }}, readOnly: true}
{{- end }}
{{- end -}}

{{- define "kiseki.env.sink" -}}
- name: KISEKI_STORE_URL
  value: {{ .Values.clickhouse.url | quote }}
- name: KISEKI_STORE_CREATE_DATABASE
  value: {{ .Values.clickhouse.createDatabase | default false | quote }}
{{- if .Values.clickhouse.existingSecret }}
- name: KISEKI_CLICKHOUSE_PASSWORD
  valueFrom:
    secretKeyRef: {name: {{ .Values.clickhouse.existingSecret | quote }}, key: {{ .Values.clickhouse.passwordKey | quote }}}
{{- end }}
{{- end -}}
{{- define "kiseki.volumes.sink" -}}
{{- end -}}
{{- define "kiseki.mounts.sink" -}}
{{- end -}}
