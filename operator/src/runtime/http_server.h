// A small HTTP server for the probe and metrics endpoints (cpprestsdk's
// http_listener): GET on a fixed set of paths, answered by plain functions.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace runtime {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Called on one of cpprestsdk's threads; must be thread-safe.
using HttpHandler = std::function<HttpResponse()>;

// A --*-bind-address value. "host:port"; an empty host (":8080") means every
// IPv4 interface; port 0 means a free port picked at start. "0" disables the
// server (kubebuilder's convention, e.g. --metrics-bind-address=0).
struct BindAddress {
  std::string host;  // "" = 0.0.0.0
  int port = 0;
};
// nullopt for "0" (disabled); throws std::invalid_argument on anything else
// that is not [host]:port.
std::optional<BindAddress> parse_bind_address(std::string_view address);

// A free TCP port on `host` (IPv4 literal, "localhost" or "" for any),
// found by binding port 0 and closing the socket again. Another process may
// take it before we listen on it; callers retry on failure.
int pick_free_port(const std::string& host);

// Threading: call start(), stop() and address() from one thread (or
// address() after start() returned); handlers run on cpprestsdk's threads.
class HttpServer {
 public:
  // `routes`: exact paths ("/healthz") to handlers; anything else is 404.
  HttpServer(std::string bind_address, std::map<std::string, HttpHandler> routes);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Starts listening; does nothing when the address is "0". Throws
  // std::runtime_error when it cannot listen.
  //
  // cpprestsdk's listener does not report the port it bound, so port 0 is
  // resolved here with pick_free_port() first. That leaves a window in which
  // another process can take the port: start() then picks another one (up to
  // 5 tries) rather than failing.
  void start();
  void stop();

  // "host:port" listened on, e.g. "127.0.0.1:43121" or "0.0.0.0:8080"; empty
  // when disabled or not started.
  std::string address() const;
  bool enabled() const { return bind_.has_value(); }

 private:
  struct Impl;
  std::optional<BindAddress> bind_;
  std::map<std::string, HttpHandler> routes_;
  std::unique_ptr<Impl> impl_;
  std::string address_;
};

}  // namespace runtime
