# The API server itself refuses bad Sreracha objects, with the CRD's messages.
source "$(dirname "$0")/../lib/testlib.sh"
source "$(dirname "$0")/../lib/operator.sh"
test_namespace crd-validation
install_crd

# refused <expected message fragment> <spec as YAML flow mapping>
refused() {
  local want="$1" spec="$2" out
  if out="$(kubectl apply --dry-run=server -n "$NS" -f - 2>&1 <<YAML
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: bad}
spec: $spec
YAML
)"; then
    fail "accepted: spec: $spec"
  fi
  [[ "$out" == *"$want"* ]] || fail "refused without '$want': $out"
  pass "refused ($want)"
}

refused "spec.probe.path must contain the query parameter q=" '{image: app, probe: {path: /healthz}}'
refused "spec.replicas: Invalid value: -1" '{image: app, replicas: -1}'
refused "spec.redis.host is required when spec.redis.mode is External" '{image: app, redis: {mode: External}}'
refused "spec.redis.addresses must list at least one IP" '{image: app, redis: {mode: Endpoints}}'
refused 'spec.image: Required value' '{replicas: 1}'
refused "needs spec.ingress.alb.certificateArn or spec.ingress.tlsSecretName" \
  '{image: app, ingress: {enabled: true, className: alb, host: app.example.com}}'
refused "spec.redis.tlsServerName is required when spec.redis.mode is Endpoints and spec.redis.tls is true" \
  '{image: app, redis: {mode: Endpoints, addresses: [10.0.0.1], tls: true}}'
refused "spec.redis.tlsServerName needs spec.redis.tls: true" \
  '{image: app, redis: {mode: External, host: r.example, tlsServerName: r.example}}'
# Specs the API server would refuse once rendered into a Pod or an Ingress.
refused "spec.resources.requests must not exceed spec.resources.limits" \
  '{image: app, resources: {requests: {cpu: "2"}, limits: {cpu: 1}}}'
refused "spec.resources.requests must not exceed spec.resources.limits" \
  '{image: app, resources: {requests: {cpu: 10m, memory: 1Gi}, limits: {memory: 512Mi}}}'
refused "spec.redis.local.resources.requests must not exceed spec.redis.local.resources.limits" \
  '{image: app, redis: {local: {resources: {requests: {memory: 1Gi}, limits: {memory: 512Mi}}}}}'
refused "spec.ingress.host must be a lower-case DNS name" \
  '{image: app, ingress: {enabled: true, host: App.example.com, tlsSecretName: t}}'
refused "spec.ingress.host must be a lower-case DNS name" \
  '{image: app, ingress: {enabled: true, host: "a.*.example.com", tlsSecretName: t}}'
# Equal quantities written differently, and a wildcard host, are fine.
kubectl apply --dry-run=server -n "$NS" -f - >/dev/null <<'YAML' || fail "requests equal to limits, or a wildcard host, refused"
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: equal}
spec:
  image: app
  resources: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 1000m, memory: 1024Mi}}
  ingress: {enabled: true, host: "*.example.com", tlsSecretName: t}
YAML
pass "requests equal to limits (1 and 1000m, 1Gi and 1024Mi) and a wildcard Ingress host accepted"

# And a good one passes, with the defaults filled in by the server.
out="$(kubectl apply --dry-run=server -n "$NS" -o jsonpath='{.spec.replicas} {.spec.probe.path} {.spec.redis.mode}' -f - <<'YAML'
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: good}
spec: {image: app}
YAML
)"
[[ "$out" == "2 /?q=healthz Local" ]] || fail "defaults not applied: $out"
pass "a minimal object is accepted with defaults: $out"
kubectl apply --dry-run=server -n "$NS" -f - >/dev/null <<'YAML' || fail "Endpoints with TLS and a server name refused"
apiVersion: sreracha.io/v1alpha1
kind: Sreracha
metadata: {name: tls-endpoints}
spec: {image: app, redis: {mode: Endpoints, addresses: [10.0.0.1], tls: true, tlsServerName: redis.internal}}
YAML
pass "Endpoints with TLS and tlsServerName is accepted"
