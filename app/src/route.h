// What the app answers to one request: pure functions of the request line and
// the counter's state, no I/O, so that every rule of the contract is tested
// without a socket (the server in http_server.h only moves bytes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sreracha {

// What the HTTP side knows about the FizzBuzz counter: a copy of the last
// INCR result, never a Redis round trip (so requests never wait for Redis).
struct CounterSnapshot {
  bool available = false;
  std::int64_t count = 0;
  // Why it is unavailable, short and fixed ("redis unreachable", ...).
  std::string_view reason = "not connected yet";
};

struct Response {
  int status = 200;
  std::string_view content_type = "text/plain; charset=utf-8";
  std::string body;
  // Set on 405: the methods the resource supports.
  std::string_view allow;
};

// Longer request targets get 414: no client of ours sends them, and the
// limit keeps a request's cost bounded.
inline constexpr std::size_t kMaxTargetLength = 8 * 1024;

struct QueryParam {
  std::string key;
  std::string value;
};

// Splits and percent-decodes the query of an origin-form request target
// ("/path?a=1&b"), '+' as a space. A key without '=' has an empty value.
// Returns nullopt when a percent escape is malformed ("%zz", "%4").
std::optional<std::vector<QueryParam>> parse_query(std::string_view query);

// Decodes %XX escapes and '+'; nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text);

// The contract: GET or HEAD of "/" with a q parameter (any value, empty
// included; the first wins when repeated) answers 200 with an 8-ball answer
// and the counter; "/?q=healthz" answers a fixed 200 for probes. No q: 400.
// Other paths: 404. Other methods: 405. For HEAD the server sends the headers
// of this response and no body.
// `answer_index` picks the 8-ball answer (the caller draws it at random).
Response route(std::string_view method, std::string_view target, const CounterSnapshot& counter,
               std::size_t answer_index);

// The path of a request target without its query ("/a?b" -> "/a"), for logs.
std::string_view target_path(std::string_view target);

}  // namespace sreracha
