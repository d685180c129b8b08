#!/usr/bin/env bash
# An exec credential plugin for the integration tests, in the manner of
# `aws eks get-token`:  exec_token.sh <token-file> [count-file]
# Prints an ExecCredential carrying the token in <token-file>. If
# <token-file>.next exists it then replaces <token-file> (a rotation: the
# next run prints the new token). Each run appends a line to count-file.
set -euo pipefail
token_file="$1"
count_file="${2:-}"
[[ -n "$count_file" ]] && echo run >>"$count_file"
token="$(cat "$token_file")"
[[ -f "$token_file.next" ]] && mv "$token_file.next" "$token_file"
api_version="$(sed -n 's/.*"apiVersion":"\([^"]*\)".*/\1/p' <<<"${KUBERNETES_EXEC_INFO:-}")"
expires="$(date -u -d '+10 minutes' +%Y-%m-%dT%H:%M:%SZ)"
printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}\n' \
  "$api_version" "$token" "$expires"
