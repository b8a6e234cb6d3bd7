{{/* The Secret that keeps the CA and its key for vsi-certs bootstrap (never mounted). */}}
{{- define "vsi.caSecret" -}}
{{- printf "%s-ca" (include "vsi.fullname" .) -}}
{{- end -}}

{{/*
The pod of the certificate bootstrap Job and the rotation CronJob: `vsi-certs bootstrap` for
this release's Service, Secret and MutatingWebhookConfiguration, in the release namespace
(POD_NAMESPACE). Call with (dict "ctx" $ "container" "bootstrap").
*/}}
{{- define "vsi.certsPod" -}}
{{- $ctx := .ctx -}}
metadata:
  labels:
    {{- include "vsi.podLabels" (dict "ctx" $ctx "component" "certs") | nindent 4 }}
spec:
  serviceAccountName: {{ include "vsi.certsName" $ctx }}
  automountServiceAccountToken: true
  enableServiceLinks: false
  restartPolicy: OnFailure
  {{- with include "vsi.scheduling" $ctx }}{{ . | trim | nindent 2 }}{{ end }}
  securityContext:
    {{- include "vsi.podSecurityContext" (dict "fsGroup" false) | nindent 4 }}
  containers:
    - name: {{ .container }}
      image: {{ include "vsi.image" $ctx }}
      imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
      command: ["vsi-certs"]
      args:
        - bootstrap
        - --namespace=$(POD_NAMESPACE)
        - --service={{ include "vsi.fullname" $ctx }}
        - --secret={{ include "vsi.tlsSecret" $ctx }}
        - --webhook-config={{ include "vsi.fullname" $ctx }}
        - --ca-secret={{ include "vsi.caSecret" $ctx }}
        - --rotate-before={{ $ctx.Values.certs.rotateBefore }}
      env:
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
      resources:
        {{- toYaml $ctx.Values.certs.resources | nindent 8 }}
      securityContext:
        {{- include "vsi.containerSecurityContext" $ctx | nindent 8 }}
      volumeMounts:
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: tmp
      emptyDir:
        sizeLimit: 16Mi
{{- end -}}
