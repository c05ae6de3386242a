{{/* The Service port of APP 2 (its container port unless app2.servicePort says otherwise). */}}
{{- define "reference-system.app2ServicePort" -}}
{{ .Values.app2.servicePort | default .Values.app2.port }}
{{- end }}

{{/* Pod annotations asking a Prometheus to scrape /metrics on the given port. */}}
{{- define "reference-system.scrapeAnnotations" -}}
annotations:
  prometheus.io/scrape: "true"
  prometheus.io/port: {{ . | quote }}
  prometheus.io/path: /metrics
{{- end }}

{{/* Env the real programs read: who and where they are, and where their traces go. */}}
{{- define "reference-system.telemetryEnv" -}}
{{- $v := .root.Values -}}
- { name: CLUSTER_NAME, value: {{ $v.meridian.cluster | quote }} }
- { name: POD_NAME, valueFrom: { fieldRef: { fieldPath: metadata.name } } }
- { name: POD_NAMESPACE, valueFrom: { fieldRef: { fieldPath: metadata.namespace } } }
- { name: OTEL_SERVICE_NAME, value: {{ .service | quote }} }
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "k8s.cluster.name=%s,cloud.region=%s,service.namespace=%s" $v.meridian.cluster $v.meridian.region .root.Release.Namespace | quote }}
{{- with $v.telemetry.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  value: {{ printf "%s/v1/clusters/%s/traces" (trimSuffix "/" .) $v.meridian.cluster | quote }}
- name: OTEL_EXPORTER_OTLP_HEADERS
  valueFrom: { secretKeyRef: { name: {{ $v.telemetry.otlpHeadersSecret | quote }}, key: headers, optional: true } }
{{- end }}
{{- end }}

{{/* The tag of an image reference (`latest` without one), answered by the apps as their version. */}}
{{- define "reference-system.imageTag" -}}
{{- $last := . | splitList "/" | last -}}
{{- if contains ":" $last }}{{ $last | splitList ":" | last }}{{ else }}latest{{ end -}}
{{- end }}
