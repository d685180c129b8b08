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
# The run's CPU by thread, under the names the operator gives its threads.
grep -Eq "^scale: n=10 op=sreracha run=1 threads ([^ ]+=$number )*(kube-io|inf/[a-z.]+|sreracha/w)=$number( |$)" <<<"$out" ||
  fail "no CPU by thread for the run, or no thread named kube-io, inf/<resource> or sreracha/w<N>"
if [[ -f "$SRC/../shared/peer/go.mod" ]]; then
  grep -Eq "${line/OP/peer-skip}" <<<"$out" || fail "no median line for the peer"
  grep -Eq "^scale: ratio cpu=$number idle_cpu=-?$number ready=$number peak_rss=$number$" <<<"$out" || fail "no ratio line"
  pass "bench/scale.sh at N=10 measured both operators and their ratio"
else
  grep -q "no peer at" <<<"$out" || fail "the missing peer was not said"
  pass "bench/scale.sh at N=10 measured sreracha-operator (no peer here, and it said so)"
fi
