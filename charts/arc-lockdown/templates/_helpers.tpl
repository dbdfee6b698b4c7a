{{/*
Chart name, cut to 63 characters because Kubernetes label values are.
*/}}
{{- define "arc-lockdown.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every object name: the release name, followed by the chart name
unless the release name already contains it. Cut to 50 characters so that
the longest suffix ("-github-webhook", 13 characters) still fits in 63.
*/}}
{{- define "arc-lockdown.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Labels of every object the chart creates.
*/}}
{{- define "arc-lockdown.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "arc-lockdown.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels that select the controller pods. They never change after install,
because a Deployment's selector is immutable.
*/}}
{{- define "arc-lockdown.selectorLabels" -}}
app.kubernetes.io/name: {{ include "arc-lockdown.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{/*
Name of the controller's ServiceAccount.
*/}}
{{- define "arc-lockdown.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "arc-lockdown.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Name of the Secret holding the GitHub App ID and private key.
*/}}
{{- define "arc-lockdown.githubAppSecretName" -}}
{{- if .Values.githubApp.existingSecret }}
{{- .Values.githubApp.existingSecret }}
{{- else }}
{{- printf "%s-github-app" (include "arc-lockdown.fullname" .) }}
{{- end }}
{{- end }}

{{/*
Name of the Secret holding the GitHub webhook secret.
*/}}
{{- define "arc-lockdown.webhookSecretName" -}}
{{- if .Values.webhook.existingSecret }}
{{- .Values.webhook.existingSecret }}
{{- else }}
{{- printf "%s-github-webhook" (include "arc-lockdown.fullname" .) }}
{{- end }}
{{- end }}

{{/*
Key of the webhook secret inside its Secret.
*/}}
{{- define "arc-lockdown.webhookSecretKey" -}}
{{- if .Values.webhook.existingSecret }}
{{- .Values.webhook.existingSecretKey }}
{{- else -}}
webhook_secret
{{- end }}
{{- end }}

{{/*
Fully qualified host name of the access-log Service, as
meshConfig.extensionProviders needs it.
*/}}
{{- define "arc-lockdown.accessLogHost" -}}
{{- printf "%s-access-log.%s.svc.%s" (include "arc-lockdown.fullname" .) .Release.Namespace .Values.cluster.domain }}
{{- end }}

{{/*
Content of the --mesh-config file. The controller decodes it strictly into
lockdown.MeshOptions, so the keys are that struct's field names. The
accessLog keys name this release's controller pods, their access-log
container port (9977, as in the Deployment) and the access-log Service, so
that the rendered NetworkPolicies and Sidecars let runner sidecars send
their access logs here.
*/}}
{{- define "arc-lockdown.meshConfig" -}}
{{- $gateway := .Values.mesh.egressGateway }}
{{- $istiod := .Values.mesh.istiod }}
{{- $cluster := .Values.cluster }}
egressGatewayNamespace: {{ $gateway.namespace }}
egressGatewayLabels:
  {{- toYaml $gateway.labels | nindent 2 }}
egressGatewayServiceHost: {{ printf "%s.%s.svc.%s" $gateway.service $gateway.namespace $cluster.domain }}
egressGatewayTLSPort: {{ $gateway.tlsPort }}
egressGatewayHTTPPort: {{ $gateway.httpPort }}
istiodNamespace: {{ $istiod.namespace }}
istiodLabels:
  {{- toYaml $istiod.labels | nindent 2 }}
istiodPort: {{ $istiod.port }}
dnsNamespace: {{ $cluster.dns.namespace }}
dnsLabels:
  {{- toYaml $cluster.dns.labels | nindent 2 }}
dnsExtraPort: {{ $cluster.dns.extraPort }}
{{- with $cluster.apiServer.cidrs }}
apiServerCIDRs: {{ toJson . }}
{{- end }}
apiServerPorts: {{ toJson $cluster.apiServer.ports }}
apiServerHost: {{ printf "kubernetes.default.svc.%s" $cluster.domain }}
trustDomain: {{ .Values.mesh.trustDomain }}
accessLogNamespace: {{ .Release.Namespace }}
accessLogLabels:
  {{- include "arc-lockdown.selectorLabels" . | nindent 2 }}
accessLogPort: 9977
accessLogServiceHost: {{ include "arc-lockdown.accessLogHost" . }}
{{- end }}

{{/*
Rules of the generated RBAC file files/role.yaml, which `make manifests`
writes from the controller's kubebuilder markers. The result is a YAML map
with the key "cluster" (rules of the ClusterRole documents) and "namespaced"
(rules of Role documents, which the chart grants in the release namespace).
controller-gen separates documents with "---" lines.
*/}}
{{- define "arc-lockdown.generatedRules" -}}
{{- $cluster := list }}
{{- $namespaced := list }}
{{- $content := .Files.Get "files/role.yaml" }}
{{- range $doc := regexSplit "(?m)^---[ \t]*$" $content -1 }}
{{- $object := fromYaml $doc }}
{{- if hasKey $object "Error" }}
{{- fail (printf "files/role.yaml: invalid YAML document: %s" $object.Error) }}
{{- end }}
{{- if eq (get $object "kind") "ClusterRole" }}
{{- $cluster = concat $cluster (default list $object.rules) }}
{{- else if eq (get $object "kind") "Role" }}
{{- $namespaced = concat $namespaced (default list $object.rules) }}
{{- else if $object }}
{{- fail (printf "files/role.yaml: unexpected kind %q: expected ClusterRole or Role documents from controller-gen" (get $object "kind")) }}
{{- end }}
{{- end }}
{{- dict "cluster" $cluster "namespaced" $namespaced | toYaml }}
{{- end }}
