{{/*
The names of every Secret the profiles reference, as a JSON list (sorted): what the webhook's
caches list and watch by name in each opted-in namespace (webhook.core.profiles.Config.
secret_names), so the Secret Roles carry them as resourceNames. The configured profiles'
connection.secret, tokenSecret, tlsSecret (a name or {name, keys}) and Rook's kms block
(tokenSecretName and the TLS entries of connectionDetails, which name Secrets); then, with
builtinProfiles, the built-in profiles that no configured profile overrides by name.
tests/integration/charts/test_rbac.py holds this equal to the webhook's parser.
*/}}
{{- define "vsi.profileSecrets" -}}
{{- $names := dict -}}
{{- $configured := dict -}}
{{- range $profile := .Values.profiles -}}
{{- $_ := set $configured (toString $profile.name) true -}}
{{- $connection := $profile.connection | default dict -}}
{{- range $field := list "secret" "tokenSecret" -}}
{{- with get $connection $field -}}{{- $_ := set $names (trim (toString .)) true -}}{{- end -}}
{{- end -}}
{{- with $connection.tlsSecret -}}
{{- if kindIs "map" . -}}
{{- $_ := set $names (trim (toString .name)) true -}}
{{- else -}}
{{- $_ := set $names (trim (toString .)) true -}}
{{- end -}}
{{- end -}}
{{- with $connection.kms -}}
{{- with .tokenSecretName -}}{{- $_ := set $names (trim (toString .)) true -}}{{- end -}}
{{- $details := .connectionDetails | default dict -}}
{{- range $setting := list "VAULT_CACERT" "VAULT_CLIENT_CERT" "VAULT_CLIENT_KEY" -}}
{{- with get $details $setting -}}{{- $_ := set $names (trim (toString .)) true -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if .Values.builtinProfiles -}}
{{- $builtins := dict "portworx" "px-vault" "portworx-operator" "px-vault" "rook-osd" "rook-vault" "rook-kms" "rook-vault" "volume-keys" "vsi-vault" -}}
{{- range $name, $secret := $builtins -}}
{{- if not (hasKey $configured $name) -}}{{- $_ := set $names $secret true -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- keys $names | sortAlpha | toJson -}}
{{- end -}}
