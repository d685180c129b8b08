# bench/scale.sh works: a run at N=10 prints a line of figures for our
# operator and, where ../shared/peer exists, for the peer and their ratio.
# The figures themselves are not judged here (bench/ prints them; timings on
# a shared machine are noise at this size).
source "$(dirname "$0")/../lib/testlib.sh"
SRC="${SRERACHA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
# Its logs in the build tree, replaced by the next run (test_log).
logs="$(test_log scale)"
rm -rf "$logs"
out="$(SCALE_LOG_DIR="$logs" QUIET_S=3 "$SRC/bench/scale.sh" --n 10 2>&1)" || { echo "$out" >&2; fail "bench/scale.sh --n 10 failed"; }
echo "$out" | grep '^scale:'
compgen -G "$logs/sreracha-*.log" >/dev/null || fail "no operator log in SCALE_LOG_DIR ($logs)"
number='[0-9]+(\.[0-9]+)?'
line="^scale: n=10 op=OP run=median ready_s=$number cpu_s=$number idle_cpu_s=-?$number peak_rss_mib=$number idle_rss_mib=$number empty_rss_mib=$number gets=[0-9]+ writes=[0-9]+ quiet_writes=-?[0-9]+$"
grep -Eq "${line/OP/sreracha}" <<<"$out" || fail "no median line for sreracha-operator"
grep -Eq "^scale: n=10 op=sreracha run=1 ready_s=" <<<"$out" || fail "no line for the run"
# The floor: a program doing only one HTTPS GET with cpprestsdk holds some
# memory, and less than the operator does with its caches synced.
floor="$(grep -E "^scale: floor rss_mib=$number anon_mib=$number file_mib=$number$" <<<"$out")" ||
  fail "no floor line"
empty="$(sed -En 's/^scale: n=10 op=sreracha run=median .* empty_rss_mib=([0-9.]+) .*/\1/p' <<<"$out")"
floor_rss="$(sed -E 's/^scale: floor rss_mib=([0-9.]+) .*/\1/' <<<"$floor")"
awk -v f="$floor_rss" -v e="$empty" 'BEGIN {exit !(f > 1 && f < e)}' ||
  fail "floor rss_mib=$floor_rss is not between 1 MiB and the operator's empty_rss_mib=$empty"
# The watch floor saw the run's objects (at least one event per Sreracha)
# for some CPU, and less than the operator spent on the same run.
watch_floor="$(grep -E "^scale: n=10 op=sreracha run=1 floor watch_cpu_s=$number watch_mib=$number watch_events=[0-9]+$" <<<"$out")" ||
  fail "no watch floor line for the run"
run_cpu="$(sed -En 's/^scale: n=10 op=sreracha run=1 ready_s=[0-9.]+ cpu_s=([0-9.]+) .*/\1/p' <<<"$out")"
awk -v line="$watch_floor" -v cpu="$run_cpu" 'BEGIN {
  n = split(line, f, /[ =]/)
  for (i = 1; i < n; i++) v[f[i]] = f[i + 1]
  exit !(v["watch_events"] >= 10 && v["watch_cpu_s"] > 0 && v["watch_cpu_s"] < cpu)
}' || fail "watch floor ($watch_floor) did not see the run, or cost more than the operator (cpu_s=$run_cpu)"
# The run's CPU by thread, under the names the operator gives its threads.
grep -Eq "^scale: n=10 op=sreracha run=1 threads ([^ ]+=$number )*(kube-io|inf/[a-z.]+|sreracha/w)=$number( |$)" <<<"$out" ||
  fail "no CPU by thread for the run, or no thread named kube-io, inf/<resource> or sreracha/w<N>"
if [[ -f "$SRC/../shared/peer/go.mod" ]]; then
  grep -Eq "${line/OP/peer-skip}" <<<"$out" || fail "no median line for the peer"
  grep -Eq "^scale: ratio cpu=$number idle_cpu=-?$number ready=$number peak_rss=$number watch_floor_cpu=$number$" <<<"$out" || fail "no ratio line"
  pass "bench/scale.sh at N=10 measured both operators and their ratio"
else
  grep -q "no peer at" <<<"$out" || fail "the missing peer was not said"
  pass "bench/scale.sh at N=10 measured sreracha-operator (no peer here, and it said so)"
fi
