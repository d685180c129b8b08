#include "runtime/http_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <stdexcept>

#include <cpprest/http_listener.h>
#include <spdlog/spdlog.h>

#include "kube/io.h"

namespace runtime {

namespace listener = web::http::experimental::listener;

std::optional<BindAddress> parse_bind_address(std::string_view address) {
  if (address.empty() || address == "0") return std::nullopt;
  auto colon = address.rfind(':');
  auto invalid = [&] {
    return std::invalid_argument(
        "invalid bind address '" + std::string(address) +
        "' (want [host]:port, e.g. :8080 or 127.0.0.1:0, or 0 to disable)");
  };
  if (colon == std::string_view::npos) throw invalid();
  BindAddress bind;
  bind.host = std::string(address.substr(0, colon));
  auto port = address.substr(colon + 1);
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), bind.port);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || bind.port < 0 ||
      bind.port > 65535 || bind.host.find(':') != std::string::npos) {
    throw invalid();
  }
  return bind;
}

namespace {

// The IPv4 address of `host`: a literal, a name, or "" for every interface.
in_addr resolve_ipv4(const std::string& host) {
  in_addr addr{};
  if (host.empty()) {
    addr.s_addr = htonl(INADDR_ANY);
    return addr;
  }
  if (inet_pton(AF_INET, host.c_str(), &addr) == 1) return addr;
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    throw std::runtime_error("cannot resolve bind host '" + host + "'");
  }
  addr = reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr;
  freeaddrinfo(found);
  return addr;
}

}  // namespace

int pick_free_port(const std::string& host) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed picking a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr = resolve_ipv4(host);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  auto* raw = reinterpret_cast<sockaddr*>(&addr);
  const bool ok = ::bind(fd, raw, sizeof(addr)) == 0 && ::getsockname(fd, raw, &len) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error("cannot bind a free port on '" + host + "'");
  return ntohs(addr.sin_port);
}

struct HttpServer::Impl {
  std::unique_ptr<listener::http_listener> listener;
};

HttpServer::HttpServer(std::string bind_address, std::map<std::string, HttpHandler> routes)
    : bind_(parse_bind_address(bind_address)), routes_(std::move(routes)) {}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  if (!bind_ || impl_) return;
  const std::string host = bind_->host.empty() ? "0.0.0.0" : bind_->host;
  const int attempts = bind_->port == 0 ? 5 : 1;
  for (int attempt = 1;; ++attempt) {
    const int port = bind_->port == 0 ? pick_free_port(bind_->host) : bind_->port;
    auto server = std::make_unique<listener::http_listener>(
        web::uri("http://" + host + ":" + std::to_string(port) + "/"));
    // The routes are copied into the handler: it may run until close() returns.
    server->support([routes = routes_](web::http::http_request request) {
      HttpResponse response;
      const auto method = request.method();
      auto route = routes.find(request.relative_uri().path());
      if (method != web::http::methods::GET && method != web::http::methods::HEAD) {
        response = {405, "text/plain; charset=utf-8", "method not allowed\n"};
      } else if (route == routes.end()) {
        response = {404, "text/plain; charset=utf-8", "not found\n"};
      } else {
        try {
          response = route->second();
        } catch (const std::exception& e) {
          response = {500, "text/plain; charset=utf-8", std::string(e.what()) + "\n"};
        }
      }
      web::http::http_response reply(static_cast<web::http::status_code>(response.status));
      reply.set_body(std::move(response.body), response.content_type);
      // A client that hung up makes reply() fail; nothing to do about it.
      request.reply(reply).then([](pplx::task<void> sent) {
        try {
          sent.get();
        } catch (const std::exception&) {
        }
      });
    });
    try {
      server->open().wait();
      impl_ = std::make_unique<Impl>(Impl{std::move(server)});
      address_ = host + ":" + std::to_string(port);
      return;
    } catch (const std::exception& e) {
      if (attempt >= attempts) {
        throw std::runtime_error("cannot listen on " + host + ":" + std::to_string(port) + ": " +
                                 e.what());
      }
      spdlog::debug("port {} was taken before we could listen on it; picking another", port);
    }
  }
}

void HttpServer::stop() {
  if (!impl_) return;
  try {
    // close() waits, inside cpprestsdk's own task, for open connections
    // (a keep-alive scrape) to end: with caller-driven I/O a rescuer thread
    // runs the I/O that ends them (kube/io.h).
    kube::io::await(impl_->listener->close());
  } catch (const std::exception& e) {
    spdlog::warn("closing the HTTP server on {}: {}", address_, e.what());
  }
  impl_.reset();
  address_.clear();
}

std::string HttpServer::address() const { return address_; }

}  // namespace runtime
