# The garbage collector runs: deleting a Deployment removes its ReplicaSet and pods.
source "$(dirname "$0")/../lib/testlib.sh"
test_namespace cluster-gc

kubectl create deployment gc --image=nginx:stable --replicas=2 -n "$NS" >/dev/null
has_pods() { [[ "$(kubectl get pods -n "$NS" -l app=gc -o name | wc -l)" -eq 2 ]]; }
wait_until 60 "2 pods" has_pods
[[ "$(kubectl get rs -n "$NS" -l app=gc -o name | wc -l)" -eq 1 ]] || fail "no ReplicaSet"

kubectl delete deployment gc -n "$NS" --wait=false >/dev/null
all_gone() {
  [[ -z "$(kubectl get rs,pods -n "$NS" -l app=gc -o name 2>/dev/null)" ]]
}
wait_until 60 "ReplicaSet and pods collected" all_gone
pass "ReplicaSet and pods removed with their Deployment"
