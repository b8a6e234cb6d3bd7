{{/*
Names, labels and the image reference every template shares.
Only Helm 3.14+ template functions are used (no Helm 4-only features).
*/}}

{{/* The chart name, for app.kubernetes.io/name and the webhook's objectSelector. */}}
{{- define "vsi.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The object name prefix: the release name when it contains the chart name, else
<release>-<chart>. At most 36 characters: the longest object name adds "-certs-bootstrap" and a
CronJob name must stay within 52 characters.
*/}}
{{- define "vsi.fullname" -}}
{{- $name := "" -}}
{{- if .Values.fullnameOverride -}}
{{- $name = .Values.fullnameOverride -}}
{{- else if contains (include "vsi.name" .) .Release.Name -}}
{{- $name = .Release.Name -}}
{{- else -}}
{{- $name = printf "%s-%s" .Release.Name (include "vsi.name" .) -}}
{{- end -}}
{{- if gt (len $name) 36 -}}
{{- fail (printf "fullnameOverride: the object name prefix %q is longer than 36 characters (set fullnameOverride to a shorter name)" $name) -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{/* The Secret that holds the serving certificate (made by vsi-certs or cert-manager). */}}
{{- define "vsi.tlsSecret" -}}
{{- printf "%s-tls" (include "vsi.fullname" .) -}}
{{- end -}}

{{/* The ConfigMap with the profiles (config.yaml). */}}
{{- define "vsi.configMap" -}}
{{- printf "%s-config" (include "vsi.fullname" .) -}}
{{- end -}}

{{/* The certificate bootstrap's ServiceAccount and RBAC. */}}
{{- define "vsi.certsName" -}}
{{- printf "%s-certs" (include "vsi.fullname" .) -}}
{{- end -}}

{{/*
Labels of every object: the ones manifests/base has, then Helm's own.
Call with (dict "ctx" $ "component" "webhook").
*/}}
{{- define "vsi.labels" -}}
app.kubernetes.io/name: {{ include "vsi.name" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{ include "vsi.releaseLabels" .ctx }}
{{- end -}}

{{/*
The labels of the Secret-reading Role and RoleBinding in other namespaces: name and part-of, as
the examples' namespace/rbac.yaml, plus Helm's own.
*/}}
{{- define "vsi.secretAccessLabels" -}}
app.kubernetes.io/name: {{ include "vsi.name" . }}
{{ include "vsi.releaseLabels" . }}
{{- end -}}

{{/*
The labels of the NetworkPolicy: manifests/components/networkpolicy gives it no part-of (the
base's label transformer does not reach a component's objects), and the chart renders the same.
*/}}
{{- define "vsi.networkPolicyLabels" -}}
{{ include "vsi.labels" . | replace "app.kubernetes.io/part-of: vault-storage-injector\n" "" }}
{{- end -}}

{{/*
The labels of the ConfigMap, which manifests/base generates with part-of alone, plus Helm's own:
the release (instance), managed-by, version and chart.
*/}}
{{- define "vsi.releaseLabels" -}}
app.kubernetes.io/part-of: vault-storage-injector
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end -}}

{{/* Labels of pod templates: the selector labels and part-of, as manifests/base. */}}
{{- define "vsi.podLabels" -}}
{{ include "vsi.selectorLabels" . }}
app.kubernetes.io/part-of: vault-storage-injector
{{- end -}}

{{/* What the Deployment, PDB, Service and NetworkPolicy select on. */}}
{{- define "vsi.selectorLabels" -}}
app.kubernetes.io/name: {{ include "vsi.name" .ctx }}
app.kubernetes.io/component: {{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end -}}

{{/*
The one image reference: the webhook, the certificate Jobs and the injected init container.
repository@digest when a digest is set, else repository:tag (default the appVersion).
*/}}
{{- define "vsi.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The pod spec fields every pod of the chart shares (scheduling and pull Secrets). */}}
{{- define "vsi.scheduling" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end -}}

{{/* The restricted pod securityContext of manifests/base (uid 65532, the image's user). */}}
{{- define "vsi.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
{{- if .fsGroup }}
fsGroup: 65532
{{- end }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The restricted container securityContext of manifests/base. */}}
{{- define "vsi.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
The profiles file (config.yaml of the ConfigMap): what the webhook parses with --config. The
injector's image and pull policy are always the webhook's own (image.*).
Profile names must be unique: JSON Schema cannot say so, this check does.
*/}}
{{- define "vsi.config" -}}
{{- $seen := dict -}}
{{- range $index, $profile := .Values.profiles -}}
{{- if hasKey $seen $profile.name -}}
{{- fail (printf "profiles[%d].name: duplicate profile %q" $index $profile.name) -}}
{{- end -}}
{{- $_ := set $seen $profile.name true -}}
{{- end -}}
{{- $config := dict "builtinProfiles" .Values.builtinProfiles -}}
{{- $injector := dict "image" (include "vsi.image" .) "imagePullPolicy" .Values.image.pullPolicy -}}
{{- $_ := set $injector "runAsUser" .Values.injector.runAsUser -}}
{{- $_ = set $injector "resources" .Values.injector.resources -}}
{{- $_ = set $config "injector" $injector -}}
{{- $_ = set $config "keyVolume" .Values.keyVolume -}}
{{- with .Values.profiles -}}
{{- $_ = set $config "profiles" . -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/*
The annotations of the doctor's RBAC for `helm test`: created before the test pod (weight -1),
deleted when the test passes.
*/}}
{{- define "vsi.testHook" -}}
helm.sh/hook: test
helm.sh/hook-weight: "-1"
helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
{{- end -}}
