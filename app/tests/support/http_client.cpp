#include "support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace test_support {

HttpResult http_raw(std::uint16_t port, const std::string& raw, int timeout_ms) {
  HttpResult result;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    result.error = std::string("connect: ") + std::strerror(errno);
    ::close(fd);
    return result;
  }
  std::size_t sent = 0;
  while (sent < raw.size()) {
    ssize_t n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer (431) before reading it all
    sent += static_cast<std::size_t>(n);
  }
  std::string received;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left <= 0) {
      result.error = "timed out";
      break;
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[8192];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    received.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  std::size_t end = received.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (result.error.empty()) result.error = "no complete response: " + received;
    return result;
  }
  result.head = received.substr(0, end);
  result.body = received.substr(end + 4);
  if (result.head.starts_with("HTTP/1.") && result.head.size() >= 12) {
    result.status = std::stoi(result.head.substr(9, 3));
  }
  return result;
}

HttpResult http_get(std::uint16_t port, const std::string& target, const std::string& method,
                    int timeout_ms) {
  return http_raw(
      port, method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
      timeout_ms);
}

std::optional<long> count_in(const std::string& body) {
  std::size_t at = body.find("\"count\":");
  if (at == std::string::npos || body.compare(at + 8, 4, "null") == 0) return std::nullopt;
  return std::stol(body.substr(at + 8));
}

}  // namespace test_support
