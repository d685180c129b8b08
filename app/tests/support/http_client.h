// A deliberately dumb HTTP/1.1 client for tests: one request per connection,
// raw bytes in, status and body out, so tests can also send what a real
// client never would (malformed request lines, huge headers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace test_support {

struct HttpResult {
  int status = 0;    // 0: no answer (connection refused, closed, timed out)
  std::string head;  // status line and headers
  std::string body;
  std::string error;
};

// Sends `raw` as it is to 127.0.0.1:port and reads until the server closes
// or `timeout_ms` passes.
HttpResult http_raw(std::uint16_t port, const std::string& raw, int timeout_ms = 3000);

// GET (or another method) with Connection: close.
HttpResult http_get(std::uint16_t port, const std::string& target,
                    const std::string& method = "GET", int timeout_ms = 3000);

// The "count" of an app's 200 answer; nullopt when it says null or is absent.
std::optional<long> count_in(const std::string& body);

}  // namespace test_support
