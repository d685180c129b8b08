# Service-account tokens are issued and RBAC is enforced: a token from
# `kubectl create token` may do exactly what its Role grants.
source "$(dirname "$0")/../lib/testlib.sh"
test_namespace cluster-rbac

kubectl create serviceaccount reader -n "$NS" >/dev/null
kubectl create role read-configmaps --verb=get --resource=configmaps -n "$NS" >/dev/null
kubectl create rolebinding reader --role=read-configmaps --serviceaccount="$NS:reader" -n "$NS" >/dev/null
kubectl create configmap c --from-literal=k=v -n "$NS" >/dev/null
token="$(kubectl create token reader -n "$NS" --duration=10m)"

server="$(kubectl config view --minify --raw -o jsonpath='{.clusters[0].cluster.server}')"
ca="$(mktemp)"
trap 'rm -f "$ca"; kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true' EXIT
kubectl config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}' | base64 -d >"$ca"

code() {
  curl -sS -o /dev/null -w '%{http_code}' --cacert "$ca" -H "Authorization: Bearer $token" "$server$1"
}
got="$(code "/api/v1/namespaces/$NS/configmaps/c")"
[[ "$got" == 200 ]] || fail "get configmap with the granted verb: HTTP $got"
got="$(code "/api/v1/namespaces/$NS/secrets")"
[[ "$got" == 403 ]] || fail "list secrets without a grant: HTTP $got, want 403"
got="$(code "/api/v1/namespaces/$NS/configmaps")"
[[ "$got" == 403 ]] || fail "list configmaps (only get granted): HTTP $got, want 403"
pass "token allowed get configmaps, refused list secrets and list configmaps"
