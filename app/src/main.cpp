// sreracha: the app. Wiring only: flags, the counter thread, the HTTP server
// on one io_context thread, signals, the optional simulated crash.
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <random>

#include "config.h"
#include "counter.h"
#include "http_server.h"
#include "log.h"
#include "route.h"

namespace asio = boost::asio;

namespace {

// Flushes buffered access lines every 100 ms, so that logs lag by no more.
void flush_logs_every(asio::steady_timer& timer) {
  timer.expires_after(std::chrono::milliseconds(100));
  timer.async_wait([&timer](const boost::system::error_code& ec) {
    sreracha::log::flush();
    if (!ec) flush_logs_every(timer);
  });
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sreracha;
  ParseOutcome parsed = parse_config(argc, argv, std::cout, std::cerr);
  if (!parsed.config) return parsed.exit_code;
  const Config& config = *parsed.config;
  log::set_level(config.log_level);
  // OpenSSL writes to the Redis socket with write(2): a peer that hung up
  // would kill the process with SIGPIPE instead of failing that write.
  std::signal(SIGPIPE, SIG_IGN);

  CounterOptions counter_options;
  counter_options.redis.url = config.redis_url;
  counter_options.redis.password = config.redis_auth;
  counter_options.redis.ca_file = config.redis_ca;
  counter_options.redis.tls_server_name = config.redis_tls_server_name;
  counter_options.redis.timeout =
      std::chrono::milliseconds(static_cast<long>(config.redis_timeout_seconds * 1000));
  counter_options.key = config.redis_key;
  Counter counter(counter_options);

  asio::io_context io{1};
  std::minstd_rand rng{std::random_device{}()};
  auto handler = [&counter, &rng](std::string_view method, std::string_view target) {
    return route(method, target, counter.snapshot(), rng());
  };
  ServerOptions server_options;
  server_options.access_log = config.access_log;
  std::unique_ptr<HttpServer> server;
  try {
    boost::asio::ip::tcp::endpoint endpoint(asio::ip::make_address(config.listen.host),
                                            config.listen.port);
    server = std::make_unique<HttpServer>(io, endpoint, handler, server_options);
  } catch (const boost::system::system_error& e) {
    log::error("cannot listen",
               {{"listen", config.listen.host + ":" + std::to_string(config.listen.port)},
                {"error", e.code().message()}});
    return 1;
  }
  auto local = server->local_endpoint();
  log::info("listening", {{"address", local.address().to_string()},
                          {"port", static_cast<int>(local.port())},
                          {"redis", config.redis_url.redacted()},
                          {"version", SRERACHA_VERSION}});
  counter.start();

  asio::steady_timer log_flush(io);
  flush_logs_every(log_flush);

  // The original app's crash, only when asked for: it is what the operator
  // exists for, and how its tests reproduce the real app.
  asio::steady_timer crash(io);
  if (config.exit_after_seconds > 0) {
    std::uniform_real_distribution<double> jitter(0, config.exit_after_jitter_seconds);
    double after = config.exit_after_seconds + jitter(rng);
    crash.expires_after(std::chrono::milliseconds(static_cast<long>(after * 1000)));
    crash.async_wait([after, &counter](const boost::system::error_code& ec) {
      if (ec) return;
      CounterSnapshot s = counter.snapshot();
      log::write(log::Level::kFatal, "panic: simulated crash (--exit-after)",
                 {{"after_seconds", after}, {"count", s.count}});
      log::flush();
      std::fprintf(stderr,
                   "panic: sreracha: simulated crash after %.1fs (--exit-after / "
                   "SRERACHA_EXIT_AFTER), count %lld\n\ngoroutine 1 [running]:\nmain.main()\n",
                   after, static_cast<long long>(s.count));
      std::fflush(stderr);
      // No destructors: a crash does not clean up, and the exit code is Go's for a panic.
      _exit(2);
    });
  }

  asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    log::info("shutting down", {{"signal", signal_number == SIGTERM ? "SIGTERM" : "SIGINT"},
                                {"timeout_seconds", config.shutdown_timeout_seconds}});
    auto grace =
        std::chrono::milliseconds(static_cast<long>(config.shutdown_timeout_seconds * 1000));
    server->shutdown(grace, [&](std::size_t unfinished) {
      if (unfinished > 0) {
        log::warn("shutdown timeout: closed connections with requests in progress",
                  {{"connections", static_cast<std::int64_t>(unfinished)}});
      }
      crash.cancel();
      log_flush.cancel();
      io.stop();
    });
  });

  io.run();
  if (!counter.stop(std::chrono::seconds(2))) {
    // Stuck connecting to Redis: the HTTP side is done, nothing to lose.
    log::warn("stopped without waiting for the redis connection attempt");
    log::flush();
    _exit(0);
  }
  log::info("stopped");
  log::flush();
  return 0;
}
