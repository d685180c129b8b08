#include "http_server.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <ctime>
#include <optional>
#include <unordered_set>

#include "log.h"

namespace sreracha {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// The Date header, formatted once a second (RFC 9110 asks origin servers
// with a clock to send it).
std::string_view http_date() {
  thread_local std::time_t cached_at = 0;
  thread_local char cached[40];
  std::time_t now = std::time(nullptr);
  if (now != cached_at) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(cached, sizeof cached, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    cached_at = now;
  }
  return cached;
}

bool is_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

// Beast 1.74 speaks boost::string_view; the rest of the app std::string_view.
std::string_view sv(beast::string_view s) { return {s.data(), s.size()}; }
beast::string_view bsv(std::string_view s) { return {s.data(), s.size()}; }

class Connection;

}  // namespace

struct HttpServer::State {
  State(asio::io_context& io, const tcp::endpoint& endpoint, Handler h, ServerOptions o)
      : acceptor(io, endpoint),
        handler(std::move(h)),
        options(o),
        grace_timer(io),
        accept_retry(io),
        sweep_timer(io) {}

  // A connection closed; the last one of a shutdown reports the drain.
  void maybe_drained() {
    if (stopping && connections.empty() && on_drained) {
      grace_timer.cancel();
      auto done = std::move(on_drained);
      on_drained = nullptr;
      done(0);
    }
  }

  tcp::acceptor acceptor;
  Handler handler;
  ServerOptions options;
  // Everything below: the io_context's thread only.
  std::unordered_set<Connection*> connections;
  bool stopping = false;
  std::function<void(std::size_t)> on_drained;
  asio::steady_timer grace_timer;
  asio::steady_timer accept_retry;
  asio::steady_timer sweep_timer;  // closes connections stuck past idle_timeout
};

namespace {

// One client connection: read a request, answer it, repeat while kept alive.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<HttpServer::State> server, tcp::socket socket)
      : server_(std::move(server)), stream_(std::move(socket)) {}

  ~Connection() {
    server_->connections.erase(this);
    server_->maybe_drained();
  }

  void start() {
    server_->connections.insert(this);
    beast::error_code ec;
    auto remote = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = remote.address().to_string() + ":" + std::to_string(remote.port());
    read();
  }

  // A connection between requests, with nothing of the next one read yet.
  bool idle() const { return !busy_ && !(parser_ && parser_->got_some()); }

  void close() {
    beast::error_code ec;
    stream_.socket().close(ec);  // pending operations complete with operation_aborted
  }

  // Waiting for a request, reading one or writing its answer for longer than
  // `timeout`: an idle keep-alive client, a slow one, or one that stopped reading.
  bool stuck(Clock::time_point now, std::chrono::seconds timeout) const {
    return now - phase_started_ > timeout;
  }

 private:
  void read() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->options.header_limit));
    parser_->body_limit(server_->options.body_limit);
    // Not stream_.expires_after(): re-arming a timer per request cost ~9 % of
    // a request's CPU time (bench/app_rps.sh); one sweep a second does the job.
    phase_started_ = Clock::now();
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    started_ = Clock::now();
    if (ec == http::error::header_limit) return answer_error(431, "request header too large\n");
    if (ec == http::error::body_limit) return answer_error(413, "request body too large\n");
    if (is_parse_error(ec)) return answer_error(400, "malformed HTTP request\n");
    if (ec) return;  // closed, reset, timed out or aborted: nobody to answer

    const auto& request = parser_->get();
    busy_ = true;
    Response response = server_->handler(sv(request.method_string()), sv(request.target()));
    bool head = request.method() == http::verb::head;
    bool keep_alive = request.keep_alive() && !server_->stopping;
    write(std::move(response), request.version(), head, keep_alive, sv(request.method_string()),
          sv(request.target()));
  }

  void answer_error(int status, std::string body) {
    busy_ = true;
    Response response;
    response.status = status;
    response.body = std::move(body);
    write(std::move(response), 11, false, false, "-", "-");
  }

  void write(Response r, unsigned version, bool head, bool keep_alive, std::string_view method,
             std::string_view target) {
    response_ = {};
    response_.version(version);
    response_.result(static_cast<unsigned>(r.status));
    response_.set(http::field::date, bsv(http_date()));
    response_.set(http::field::content_type, bsv(r.content_type));
    if (!r.allow.empty()) response_.set(http::field::allow, bsv(r.allow));
    response_.keep_alive(keep_alive);
    std::size_t length = r.body.size();
    if (!head) response_.body() = std::move(r.body);
    response_.content_length(length);  // for HEAD: the length GET would send
    if (server_->options.access_log) {
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
      log::access(method, target_path(target), r.status, ms, remote_);
    }
    phase_started_ = Clock::now();
    http::async_write(stream_, response_,
                      [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
                        self->on_write(ec, keep_alive);
                      });
  }

  void on_write(beast::error_code ec, bool keep_alive) {
    busy_ = false;
    if (ec) return;
    if (!keep_alive || server_->stopping) {
      stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
      return;  // the last reference goes with this handler
    }
    read();
  }

  std::shared_ptr<HttpServer::State> server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  std::string remote_;
  bool busy_ = false;                // a request was read and its response is not written yet
  Clock::time_point started_;        // the request was read: for its duration_ms
  Clock::time_point phase_started_;  // this read or write began: for stuck()
};

void sweep_every_second(const std::shared_ptr<HttpServer::State>& state) {
  state->sweep_timer.expires_after(std::chrono::seconds(1));
  state->sweep_timer.async_wait([state](beast::error_code ec) {
    if (ec || state->stopping) return;
    auto now = Clock::now();
    for (auto* c : state->connections) {
      if (c->stuck(now, state->options.idle_timeout)) c->close();
    }
    sweep_every_second(state);
  });
}

void accept_next(const std::shared_ptr<HttpServer::State>& state) {
  state->acceptor.async_accept([state](beast::error_code ec, tcp::socket socket) {
    if (state->stopping || ec == asio::error::operation_aborted) return;
    if (ec) {
      // EMFILE and friends: wait instead of spinning; the backlog holds the client.
      log::warn("accept failed", {{"error", ec.message()}});
      state->accept_retry.expires_after(std::chrono::milliseconds(100));
      state->accept_retry.async_wait([state](beast::error_code wait_ec) {
        if (!wait_ec) accept_next(state);
      });
      return;
    }
    std::make_shared<Connection>(state, std::move(socket))->start();
    accept_next(state);
  });
}

}  // namespace

HttpServer::HttpServer(asio::io_context& io, const tcp::endpoint& endpoint, Handler handler,
                       ServerOptions options)
    : state_(std::make_shared<State>(io, endpoint, std::move(handler), options)) {
  accept_next(state_);
  sweep_every_second(state_);
}

HttpServer::~HttpServer() {
  beast::error_code ec;
  state_->stopping = true;
  state_->acceptor.close(ec);
  state_->sweep_timer.cancel();
}

tcp::endpoint HttpServer::local_endpoint() const { return state_->acceptor.local_endpoint(); }

void HttpServer::shutdown(std::chrono::milliseconds grace,
                          std::function<void(std::size_t unfinished)> done) {
  auto& s = *state_;
  s.stopping = true;
  beast::error_code ec;
  s.acceptor.close(ec);
  s.accept_retry.cancel();
  s.sweep_timer.cancel();  // the grace timer bounds what is left
  for (auto* c : s.connections) {
    if (c->idle()) c->close();
  }
  s.on_drained = std::move(done);
  s.grace_timer.expires_after(grace);
  s.grace_timer.async_wait([state = state_](beast::error_code wait_ec) {
    if (wait_ec || !state->on_drained) return;
    auto report = std::move(state->on_drained);
    state->on_drained = nullptr;
    std::size_t unfinished = state->connections.size();
    for (auto* c : state->connections) c->close();
    report(unfinished);
  });
  s.maybe_drained();
}

}  // namespace sreracha
