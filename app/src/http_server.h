// The HTTP/1.1 server: Boost.Beast on one Asio io_context (one thread), keep-
// alive, bounded request sizes and timeouts, an access log line per request,
// and a graceful stop for SIGTERM. What to answer is route()'s business.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "route.h"

namespace sreracha {

struct ServerOptions {
  // Whole request header (request line included): larger gets 431.
  std::size_t header_limit = 16 * 1024;
  // A request body (nobody should send one): larger gets 413.
  std::size_t body_limit = 64 * 1024;
  // A connection is closed when it waited for a request, read one or wrote
  // an answer for longer than this (checked once a second).
  std::chrono::seconds idle_timeout{60};
  bool access_log = true;
};

// Answers one request (method, target) with a Response.
using Handler = std::function<Response(std::string_view method, std::string_view target)>;

class HttpServer {
 public:
  // Binds and listens at once (so a bad address fails at start-up); serves
  // once the io_context runs. Throws boost::system::system_error.
  HttpServer(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& endpoint,
             Handler handler, ServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  boost::asio::ip::tcp::endpoint local_endpoint() const;

  // Stops accepting, closes idle connections, lets requests in progress
  // finish (their responses say Connection: close) and calls `done` when the
  // last connection has closed or after `grace`, whichever comes first.
  // Call on the io_context's thread.
  void shutdown(std::chrono::milliseconds grace, std::function<void(std::size_t unfinished)> done);

  struct State;  // shared with the connections, which may outlive this object

 private:
  std::shared_ptr<State> state_;
};

}  // namespace sreracha
