{{/*
Names and labels, as `helm create` lays them out (Helm's best practices: standard labels).
*/}}
{{- define "llm-rollout.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified name: 63 characters at most (DNS label). */}}
{{- define "llm-rollout.fullname" -}}
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

{{- define "llm-rollout.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "llm-rollout.labels" -}}
helm.sh/chart: {{ include "llm-rollout.chart" . }}
{{ include "llm-rollout.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: llm-rollout
{{- end }}

{{- define "llm-rollout.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llm-rollout.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component (proxy, controller, dashboard): call with (dict "root" $ "component" "proxy"). */}}
{{- define "llm-rollout.componentLabels" -}}
{{ include "llm-rollout.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "llm-rollout.componentSelector" -}}
{{ include "llm-rollout.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "llm-rollout.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/* "true" when a Redis store is configured, else empty. */}}
{{- define "llm-rollout.usesRedis" -}}
{{- if or .Values.redis.url .Values.redis.existingSecret }}true{{ end }}
{{- end }}

{{/*
The config file: the user's `config` with listen, admin and the store's location filled in
from the values. Rejects what the chart owns, and what `rollout serve` would refuse to run.
*/}}
{{- define "llm-rollout.config" -}}
{{- $config := deepCopy (.Values.config | default dict) }}
{{- range $key := list "listen" "admin" }}
{{- if hasKey $config $key }}
{{- fail (printf "config.%s is set by the chart (proxy.port, proxy.adminPort): remove it" $key) }}
{{- end }}
{{- end }}
{{- $store := deepCopy (get $config "store" | default dict) }}
{{- range $key := list "redis_url" "redis_url_env" "data_dir" }}
{{- if hasKey $store $key }}
{{- fail (printf "config.store.%s is set by the chart (redis.url, redis.existingSecret, embeddedStore): remove it" $key) }}
{{- end }}
{{- end }}
{{- if .Values.redis.existingSecret }}
{{- $_ := set $store "redis_url_env" "LLM_ROLLOUT_REDIS_URL" }}
{{- else if .Values.redis.url }}
{{- $_ := set $store "redis_url" .Values.redis.url }}
{{- else }}
{{- $_ := set $store "data_dir" "/var/lib/llm-rollout" }}
{{- end }}
{{- $_ := set $config "store" $store }}
{{- $_ := set $config "listen" (dict "host" "0.0.0.0" "port" (int .Values.proxy.port)) }}
{{- $_ := set $config "admin" (dict "host" "0.0.0.0" "port" (int .Values.proxy.adminPort)) }}
{{- toYaml $config }}
{{- end }}

{{/* Fail early on combinations the processes would refuse (same reasons as the CLI gives). */}}
{{- define "llm-rollout.validate" -}}
{{- $redis := include "llm-rollout.usesRedis" . }}
{{- $governed := or .Values.config.rollouts .Values.config.flags }}
{{- if and $governed (not $redis) (or (gt (int .Values.proxy.replicas) 1) (gt (int .Values.proxy.workers) 1)) }}
{{- fail "proxy.replicas > 1 or proxy.workers > 1 with rollouts or flags needs a shared store: set redis.url or redis.existingSecret (the embedded store serves one process)" }}
{{- end }}
{{- if .Values.controller.enabled }}
{{- if not $redis }}
{{- fail "controller.enabled needs a shared store: set redis.url or redis.existingSecret (with the embedded store the controller runs inside the proxy)" }}
{{- end }}
{{- $automatic := false }}
{{- range .Values.config.rollouts }}
{{- if and .plan .plan.automatic }}{{ $automatic = true }}{{ end }}
{{- end }}
{{- if not $automatic }}
{{- fail "controller.enabled needs a rollout with an automatic plan (plan: {automatic: true}); `rollout controller` exits otherwise" }}
{{- end }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.metrics.tokenSecret.name) }}
{{- fail "serviceMonitor.enabled needs metrics.tokenSecret.name: the admin port is bound to 0.0.0.0, where /metrics answers only a bearer token with the role viewer (Prometheus would get 401 or 403); name a Secret holding a token, which the pods accept as the viewer `prometheus` and the ServiceMonitors send" }}
{{- end }}
{{- range $env := concat .Values.proxy.extraEnv .Values.controller.extraEnv }}
{{- if and $.Values.metrics.tokenSecret.name (eq $env.name "LLM_ROLLOUT_ADMIN_TOKENS") }}
{{- fail "extraEnv sets LLM_ROLLOUT_ADMIN_TOKENS, which the chart sets (the viewer `prometheus` of metrics.tokenSecret): the later one would win and drop the other's tokens" }}
{{- end }}
{{- end }}
{{- range $name, $_ := .Values.prompts }}
{{- if not (regexMatch "^[-._a-zA-Z0-9]+$" $name) }}
{{- fail (printf "prompts.%s: a prompt is named by a plain file name (letters, digits, '-', '_', '.'), without '/'" $name) }}
{{- end }}
{{- end }}
{{- end }}

{{/* ConfigMap items: config.yaml, and each prompt under prompts/. */}}
{{- define "llm-rollout.configItems" -}}
- key: config.yaml
  path: config.yaml
{{- range $name, $_ := .Values.prompts }}
- key: prompt.{{ $name }}
  path: prompts/{{ $name }}
{{- end }}
{{- end }}

{{/*
The config volume. Mounted as a whole directory (never with subPath), so that the kubelet's
symlink swap of an updated ConfigMap reaches the running process, which reloads it.
*/}}
{{- define "llm-rollout.configVolume" -}}
- name: config
  configMap:
    name: {{ include "llm-rollout.fullname" . }}
    items:
      {{- include "llm-rollout.configItems" . | nindent 6 }}
- name: tmp
  emptyDir: {}
{{- end }}

{{- define "llm-rollout.configMounts" -}}
- name: config
  mountPath: /etc/llm-rollout
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* The Redis URL from a Secret, when it is kept there. */}}
{{- define "llm-rollout.redisEnv" -}}
{{- if .Values.redis.existingSecret }}
- name: LLM_ROLLOUT_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret }}
      key: {{ .Values.redis.key }}
{{- end }}
{{- end }}

{{/* Each provider's api_key_env, read from providerKeys.existingSecret. */}}
{{- define "llm-rollout.providerKeyEnv" -}}
{{- $names := dict }}
{{- range $provider, $spec := .Values.config.providers }}
{{- if and $spec $spec.api_key_env }}{{ $_ := set $names $spec.api_key_env $provider }}{{ end }}
{{- end }}
{{- if and $names (not .Values.providerKeys.existingSecret) }}
{{- fail (printf "config.providers name api_key_env %s: set providerKeys.existingSecret to the Secret holding them" (keys $names | sortAlpha | join ", ")) }}
{{- end }}
{{- range $env := keys $names | sortAlpha }}
- name: {{ $env }}
  valueFrom:
    secretKeyRef:
      name: {{ $.Values.providerKeys.existingSecret }}
      key: {{ get $.Values.providerKeys.keys $env | default $env }}
{{- end }}
{{- end }}

{{/*
The admin port's tokens. The port is bound to 0.0.0.0, where reads (/metrics included) need a
viewer token: metrics.tokenSecret's token is the viewer `prometheus` in LLM_ROLLOUT_ADMIN_TOKENS.
The kubelet expands $(LLM_ROLLOUT_METRICS_TOKEN), defined just before it, so the token itself
stays in the Secret and out of the pod spec.
*/}}
{{- define "llm-rollout.adminTokenEnv" -}}
{{- if .Values.adminToken.existingSecret }}
- name: LLM_ROLLOUT_ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.adminToken.existingSecret }}
      key: {{ .Values.adminToken.key }}
{{- end }}
{{- with .Values.metrics.tokenSecret.name }}
- name: LLM_ROLLOUT_METRICS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.metrics.tokenSecret.key }}
- name: LLM_ROLLOUT_ADMIN_TOKENS
  value: prometheus:viewer:$(LLM_ROLLOUT_METRICS_TOKEN)
{{- end }}
{{- end }}

{{/*
A ServiceMonitor's endpoint: the admin Service's /metrics, with the viewer token. Prometheus
Operator's `authorization` field (its `bearerTokenSecret` is deprecated in favour of it); the
Secret must be in the ServiceMonitor's namespace, the release's.
*/}}
{{- define "llm-rollout.metricsEndpoint" -}}
- port: admin
  path: /metrics
  interval: {{ .Values.serviceMonitor.interval }}
  scrapeTimeout: {{ .Values.serviceMonitor.scrapeTimeout }}
  authorization:
    type: Bearer
    credentials:
      name: {{ .Values.metrics.tokenSecret.name }}
      key: {{ .Values.metrics.tokenSecret.key }}
{{- end }}
