#!/usr/bin/env bash
# A stand-in exec credential plugin for the unit tests.
#   exec_plugin.sh <mode> [count-file]
# Prints an ExecCredential whose token is "$PLUGIN_TOKEN" and records each run
# by appending a line to count-file. Modes:
#   ok          token, expiring in an hour (apiVersion from KUBERNETES_EXEC_INFO)
#   expired     token that expired in 2000
#   cert        client certificate and key instead of a token
#   fail        exits with status 3
#   garbage     prints something that is not JSON
#   cert-file   token is the SSL_CERT_FILE it was started with ("unset")
#   check-info  fails unless KUBERNETES_EXEC_INFO says interactive=false and
#               stdin is not a terminal
#   hang        starts `sleep 60` in the background, writes its PID to
#               count-file (instead of "run") and waits for it
#   hang-hard   the same, ignoring SIGTERM (only SIGKILL ends it)
#   close-stdout  closes its stdout at once, then as hang
set -euo pipefail
mode="$1"
count_file="${2:-}"
if [[ "$mode" == close-stdout ]]; then
  exec >&-
  mode=hang
fi
if [[ "$mode" == hang* ]]; then
  [[ "$mode" == hang-hard ]] && trap '' TERM
  sleep 60 &
  echo "$!" >>"$count_file"
  wait
  exit 0
fi
[[ -n "$count_file" ]] && echo run >>"$count_file"
api_version="$(sed -n 's/.*"apiVersion":"\([^"]*\)".*/\1/p' <<<"${KUBERNETES_EXEC_INFO:-}")"
credential() {
  printf '{"apiVersion":"%s","kind":"ExecCredential","status":%s}\n' "$api_version" "$1"
}
case "$mode" in
  ok) credential "{\"token\":\"${PLUGIN_TOKEN:-}\",\"expirationTimestamp\":\"$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)\"}" ;;
  expired) credential "{\"token\":\"${PLUGIN_TOKEN:-}\",\"expirationTimestamp\":\"2000-01-01T00:00:00Z\"}" ;;
  cert) credential '{"clientCertificateData":"CERT","clientKeyData":"KEY"}' ;;
  fail) echo "plugin: no credentials for you" >&2; exit 3 ;;
  garbage) echo "this is not json" ;;
  cert-file) credential "{\"token\":\"${SSL_CERT_FILE:-unset}\"}" ;;
  check-info)
    grep -q '"interactive":false' <<<"${KUBERNETES_EXEC_INFO:-}" || exit 4
    [[ -t 0 ]] && exit 5
    credential '{"token":"info-ok"}'
    ;;
  *) exit 2 ;;
esac
