# Shared steps of the examples' vault/setup.sh (sourced, not run). Each step first reads what
# Vault has, then changes only what differs, and says which: "unchanged: ...", "create: ...",
# "update: ...", or with --dry-run "would create: ..." (and changes nothing). A second run of a
# script therefore changes nothing. Progress goes to stderr; stdout carries only a minted token.
# Works with the vault and the bao CLI (VAULT=bao). Secrets never go on a command line: the
# reviewer JWT is passed to Vault as @file, a minted token only to stdout.

DRY_RUN=false
CHANGES=0
MOUNT_CREATED=false
KV=""

say() { printf '%s\n' "setup.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

# setup_args "$@": sets AUTH (kubernetes or token) and DRY_RUN from the command line.
setup_args() {
  AUTH=""
  for arg in "$@"; do
    case "$arg" in
      --dry-run) DRY_RUN=true ;;
      kubernetes | token) [ -z "$AUTH" ] || usage; AUTH="$arg" ;;
      *) usage ;;
    esac
  done
  AUTH="${AUTH:-kubernetes}"
}

usage() {
  echo "setup.sh: usage: setup.sh [--dry-run] kubernetes|token" >&2
  exit 2
}

# change WHAT COMMAND...: run COMMAND (its output hidden), or with --dry-run only say so.
change() {
  local what="$1"
  shift
  CHANGES=$((CHANGES + 1))
  if "$DRY_RUN"; then
    say "would $what"
    return 0
  fi
  say "$what"
  "$@" >/dev/null
}

# read_field PATH FIELD: the field's value; exit 1 when PATH does not exist ("No value found",
# "No secret engine mount", "No auth engine", "No policy named"); any other error stops the script.
read_field() {
  local out
  if out=$("$VAULT" read -field="$2" "$1" 2>&1); then
    printf '%s' "$out"
    return 0
  fi
  case "$out" in
    *"No value found"* | *"No secret engine mount"* | *"No auth engine"* | *"not present in secret"*)
      return 1 ;;
  esac
  die "cannot read $1: $(printf '%s' "$out" | tail -n 1)"
}

# kv_mount MOUNT VERSION: the KV mount, created with VERSION when missing. Sets KV to the version
# found (an existing mount is never changed: its version decides the policy) and MOUNT_CREATED.
kv_mount() {
  local mount="$1" kind options
  if kind=$(read_field "sys/mounts/$mount" type); then
    [ "$kind" = kv ] || die "$mount/ is a $kind mount, not kv: choose another MOUNT"
    options=$(read_field "sys/mounts/$mount" options || true)
    case "$options" in *version:2*) KV=2 ;; *) KV=1 ;; esac
    say "unchanged: kv v$KV mount $mount/ (found; its version decides the policy)"
    return 0
  fi
  KV="$2"
  MOUNT_CREATED=true
  change "create: kv v$KV mount $mount/" "$VAULT" secrets enable -path="$mount" -version="$KV" kv
}

# cas_required MOUNT true|false: the KV v2 mount's cas_required (never touches a KV v1 mount,
# where MOUNT/config would be a secret).
cas_required() {
  local mount="$1" want="$2" now
  [ "$KV" = 2 ] || return 0
  now=false
  if ! { "$DRY_RUN" && "$MOUNT_CREATED"; }; then
    now=$(read_field "$mount/config" cas_required || echo false)
  fi
  if [ "$now" = "$want" ]; then
    say "unchanged: cas_required=$now on $mount/"
  else
    change "update: cas_required=$want on $mount/" \
      "$VAULT" write "$mount/config" cas_required="$want"
  fi
}

# cas_note MOUNT WHY: say so when a KV v2 mount found as it is has cas_required on.
cas_note() {
  [ "$KV" = 2 ] && ! "$MOUNT_CREATED" || return 0
  if [ "$(read_field "$1/config" cas_required || echo false)" = true ]; then
    say "note: cas_required=true on $1/ (left as it is): $2"
  fi
}

# policy NAME TEXT: the policy, written when it is missing or differs.
policy() {
  local name="$1" text="$2" now
  if now=$("$VAULT" policy read "$name" 2>&1); then
    if [ "$now" = "$text" ]; then
      say "unchanged: policy $name"
      return 0
    fi
    change "update: policy $name" write_policy "$name" "$text"
  else
    case "$now" in *"No policy named"*) ;; *) die "cannot read policy $name: $now" ;; esac
    change "create: policy $name" write_policy "$name" "$text"
  fi
}

write_policy() { printf '%s\n' "$2" | "$VAULT" policy write "$1" -; }

# kubernetes_auth MOUNT: the kubernetes auth method, and its config when KUBERNETES_HOST is set:
#   KUBERNETES_HOST     the API server URL as Vault reaches it
#   KUBERNETES_CA_CERT  file with the API server's CA (Vault outside the cluster; then Vault
#                       does not look for a local service account either)
#   TOKEN_REVIEWER_JWT  file with the reviewer's long-lived token (the vault-token-reviewer
#                       component); unset with KUBERNETES_CA_CERT: each client's own JWT
#                       reviews itself, so the clients need system:auth-delegator
#   ISSUER              the service-account issuer, checked in every JWT (optional)
kubernetes_auth() {
  local mount="$1" kind
  if kind=$(read_field "sys/auth/$mount" type); then
    [ "$kind" = kubernetes ] || die "auth/$mount/ is $kind auth, not kubernetes: set AUTH_MOUNT"
    say "unchanged: kubernetes auth at $mount/"
  else
    change "create: kubernetes auth at $mount/" "$VAULT" auth enable -path="$mount" kubernetes
  fi
  if [ -z "${KUBERNETES_HOST:-}" ]; then
    if ! read_field "auth/$mount/config" kubernetes_host >/dev/null; then
      say "note: auth/$mount/config is not set; set KUBERNETES_HOST (docs/install.md)"
    fi
    return 0
  fi
  kubernetes_config "$mount"
}

kubernetes_config() {
  local mount="$1" args now want local_jwt=false reviewer=false iss_check=true
  args=(kubernetes_host="$KUBERNETES_HOST")
  if [ -n "${KUBERNETES_CA_CERT:-}" ]; then
    [ -r "$KUBERNETES_CA_CERT" ] || die "KUBERNETES_CA_CERT: cannot read $KUBERNETES_CA_CERT"
    args+=(kubernetes_ca_cert=@"$KUBERNETES_CA_CERT" disable_local_ca_jwt=true)
    local_jwt=true
  fi
  if [ -n "${TOKEN_REVIEWER_JWT:-}" ]; then
    [ -r "$TOKEN_REVIEWER_JWT" ] || die "TOKEN_REVIEWER_JWT: cannot read $TOKEN_REVIEWER_JWT"
    args+=(token_reviewer_jwt=@"$TOKEN_REVIEWER_JWT")
    reviewer=true
  fi
  if [ -n "${ISSUER:-}" ]; then
    args+=(issuer="$ISSUER" disable_iss_validation=false)
    iss_check=false
  fi
  want="$KUBERNETES_HOST|$(cat "${KUBERNETES_CA_CERT:-/dev/null}")|$local_jwt|$reviewer|${ISSUER:-}|$iss_check"
  if now=$(kubernetes_config_now "$mount"); then
    if [ "$now" = "$want" ]; then
      # Vault never shows the reviewer JWT: one is set, and it is kept.
      say "unchanged: auth/$mount/config"
      return 0
    fi
    change "update: auth/$mount/config (host $KUBERNETES_HOST)" \
      "$VAULT" write "auth/$mount/config" "${args[@]}"
  else
    change "create: auth/$mount/config (host $KUBERNETES_HOST)" \
      "$VAULT" write "auth/$mount/config" "${args[@]}"
  fi
}

# The comparable part of auth/MOUNT/config, in the order kubernetes_config builds it.
kubernetes_config_now() {
  local host ca
  host=$(read_field "auth/$1/config" kubernetes_host) || return 1
  ca=$(read_field "auth/$1/config" kubernetes_ca_cert || true)
  printf '%s|%s|%s|%s|%s|%s' "$host" "$ca" \
    "$(read_field "auth/$1/config" disable_local_ca_jwt || echo false)" \
    "$(read_field "auth/$1/config" token_reviewer_jwt_set || echo false)" \
    "$(read_field "auth/$1/config" issuer || true)" \
    "$(read_field "auth/$1/config" disable_iss_validation || echo true)"
}

# role MOUNT NAME SERVICE_ACCOUNTS NAMESPACES POLICY TTL MAX_TTL [AUDIENCE]: a kubernetes auth
# role bound to service accounts in namespaces (each one name or a comma-separated list; TTLs in
# seconds, 0: the mount's default). AUDIENCE: the audience every login's JWT must carry (Vault
# asks the TokenReview for it); empty: none required (a vendor's own role, as documented).
role() {
  local path="auth/$1/role/$2" want now field
  want="[${3//,/ }]|[${4//,/ }]|[$5]|$6|$7|${8:-}"
  now=""
  for field in bound_service_account_names bound_service_account_namespaces token_policies \
    token_ttl token_max_ttl audience; do
    now="$now|$(read_field "$path" "$field" || true)"
  done
  if [ "${now#|}" = "$want" ]; then
    say "unchanged: role $2 ($4/$3)"
    return 0
  fi
  local verb=update
  [ "$now" = "||||||" ] && verb=create
  change "$verb: role $2 bound to service account $4/$3" "$VAULT" write "$path" \
    bound_service_account_names="$3" bound_service_account_namespaces="$4" \
    token_policies="$5" token_ttl="$6" token_max_ttl="$7" audience="${8:-}"
}

# auth_accessor MOUNT: the accessor of the auth method at MOUNT (what templated policies name);
# a placeholder when a dry run has not created it yet.
auth_accessor() {
  local found
  if found=$(read_field "sys/auth/$1" accessor); then
    printf '%s' "$found"
  elif "$DRY_RUN"; then
    printf '%s' "auth_kubernetes_DRYRUN"
  else
    die "auth/$1/ has no accessor"
  fi
}

# mint_token POLICY NAME: a periodic orphan token on stdout (a new one on every run: that is
# what it is for). It outlives the admin token that made it, and expires unless renewed
# (vault token renew) within the period.
mint_token() {
  CHANGES=$((CHANGES + 1))
  if "$DRY_RUN"; then
    say "would mint: a periodic token with policy $1"
    return 0
  fi
  say "mint: a periodic token with policy $1 (stdout)"
  "$VAULT" token create -orphan -policy="$1" -period=768h -display-name="$2" -field=token
}

# summary: the last line, so a second run visibly changed nothing.
summary() {
  if [ "$CHANGES" = 0 ]; then
    say "no changes"
  elif "$DRY_RUN"; then
    say "dry run: $CHANGES change(s) not made"
  else
    say "$CHANGES change(s) made"
  fi
}
