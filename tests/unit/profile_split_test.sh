# bench/profile_split.py puts each sample of a `perf script` listing in the
# category of the first frame, from the leaf, that names one: a watch event
# decoded while its thread waits on the client counts as decode, the client's
# work under a reconcile as client, a chain cut short as other.
source "$(dirname "$0")/../lib/testlib.sh"
SRC="${SRERACHA_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
split="$SRC/bench/profile_split.py"

listing='inf/pods 101
	ffffffff81000001 malloc
	          1000 nlohmann::json_abi_v3_11_2::detail::lexer<...>::scan
	          1001 kube::JsonBuilder<kube::ManagedFieldsFilter>::insert
	          1002 kube::decode_watch_event
	          1003 kube::WatchDecoder::feed
	          1004 kube::Client::watch

sreracha/w1 102
	ffffffff81000002 finish_task_switch.isra.0
	          2000 SSL_read
	          2001 boost::asio::ssl::detail::engine::perform
	          2002 kube::io::wait
	          2003 kube::Client::Impl::send
	          2004 sreracha::Reconciler::reconcile

inf/services 103
	          3000 web::http::client::details::asio_context::handle_chunk
	          3001 boost::asio::detail::scheduler::do_wait_one
	          3002 runtime::Informer::run

sreracha/w2 104
	          4000 nlohmann::json_abi_v3_11_2::detail::binary_reader<...>::parse_cbor_internal
	          4001 runtime::(anonymous namespace)::decode
	          4002 runtime::Store::get[abi:cxx11]
	          4003 sreracha::Reconciler::Pass::observed
	          4004 sreracha::Reconciler::reconcile

sreracha/w3 105
	          5000 __memcmp_evex_movbe
	          5001 sreracha::render[abi:cxx11]
	          5002 sreracha::Reconciler::Pass::blocked

sreracha/w4 106
	          6000 [unknown]
	          6001 [unknown]
'
out="$(printf '%s' "$listing" | python3 "$split" --script -)" || fail "profile_split.py failed: $out"
want="profile samples=6 client=33.3% decode=16.7% cache=16.7% reconcile=16.7% other=16.7%"
[[ "$out" == "$want" ]] || fail "got '$out', want '$want'"

if err="$(printf '' | python3 "$split" --script - 2>&1)"; then
  fail "an empty listing was not an error"
fi
grep -q "no samples" <<<"$err" || fail "an empty listing was not said to have no samples: $err"
if python3 "$split" >/dev/null 2>&1; then fail "no argument was not a usage error"; fi
pass "profile_split.py counts each sample once, by its innermost named frame"
