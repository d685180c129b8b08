#include "config.h"

#include <CLI/CLI.hpp>
#include <charconv>
#include <ostream>

namespace sreracha {

ListenAddress parse_listen(std::string_view text) {
  ListenAddress out;
  std::string_view port_text;
  if (text.starts_with('[')) {
    std::size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      throw ConfigError("invalid listen address \"" + std::string(text) +
                        "\": expected [IPv6]:PORT");
    }
    out.host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else {
    std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos ||
        text.substr(0, colon).find(':') != std::string_view::npos) {
      throw ConfigError("invalid listen address \"" + std::string(text) +
                        "\": expected ADDR:PORT, [IPv6]:PORT or :PORT");
    }
    out.host = colon == 0 ? "0.0.0.0" : std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() ||
      port > 65535) {
    throw ConfigError("invalid listen address \"" + std::string(text) + "\": port \"" +
                      std::string(port_text) + "\" is not a number from 0 to 65535");
  }
  out.port = static_cast<std::uint16_t>(port);
  return out;
}

ParseOutcome parse_config(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{
      "sreracha: the magic 8-ball with a FizzBuzz counter in Redis.\n"
      "GET /?q=<anything> answers 200 with an answer and the counter; without q, 400.\n"
      "Every flag can also be set by the environment variable in its description;\n"
      "a flag on the command line wins.",
      "sreracha"};
  app.set_version_flag("--version", std::string("sreracha ") + SRERACHA_VERSION);
  app.get_formatter()->column_width(34);

  std::string listen = "0.0.0.0:80";
  std::string redis_url = "redis://127.0.0.1:6379";
  std::string log_level = "info";
  Config config;
  app.add_option("--listen", listen, "ADDR:PORT to serve HTTP on")
      ->envname("LISTEN")
      ->capture_default_str();
  app.add_option("--redis-url", redis_url, "redis[s]://[[user]:password@]host[:port][/db]")
      ->envname("REDIS_URL")
      ->capture_default_str();
  app.add_option("--redis-auth", config.redis_auth,
                 "Redis password; wins over the URL's (prefer the variable: flags show in ps)")
      ->envname("REDIS_AUTH");
  app.add_option("--redis-ca", config.redis_ca,
                 "PEM CA bundle for rediss:// (default: the system store)")
      ->envname("REDIS_CA")
      ->check(CLI::ExistingFile);
  app.add_option("--redis-tls-server-name", config.redis_tls_server_name,
                 "name the Redis certificate must carry, sent as SNI (default: the URL's host; "
                 "for a URL that names an alias or an address the certificate does not)")
      ->envname("REDIS_TLS_SERVER_NAME");
  app.add_option("--redis-key", config.redis_key, "the key the counter INCRs")
      ->envname("REDIS_KEY")
      ->capture_default_str();
  app.add_option("--redis-timeout", config.redis_timeout_seconds,
                 "seconds a Redis connect or command may take")
      ->envname("REDIS_TIMEOUT")
      ->check(CLI::Range(0.05, 60.0))
      ->capture_default_str();
  app.add_option("--exit-after", config.exit_after_seconds,
                 "crash like the original app this many seconds after start (0: never)")
      ->envname("SRERACHA_EXIT_AFTER")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--exit-after-jitter", config.exit_after_jitter_seconds,
                 "add a random 0..this many seconds to --exit-after")
      ->envname("SRERACHA_EXIT_AFTER_JITTER")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--shutdown-timeout", config.shutdown_timeout_seconds,
                 "on SIGTERM, seconds to let requests in progress finish")
      ->envname("SRERACHA_SHUTDOWN_TIMEOUT")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--log-level", log_level, "debug, info, warn or error")
      ->envname("LOG_LEVEL")
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option("--access-log", config.access_log, "log every request (true or false)")
      ->envname("SRERACHA_ACCESS_LOG")
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e, out, err);
    return {std::nullopt, code == 0 ? 0 : 2};
  }
  try {
    config.listen = parse_listen(listen);
  } catch (const ConfigError& e) {
    err << "sreracha: --listen/LISTEN: " << e.what() << "\n";
    return {std::nullopt, 2};
  }
  try {
    config.redis_url = parse_redis_url(redis_url);
  } catch (const ConfigError& e) {
    err << "sreracha: --redis-url/REDIS_URL: " << e.what() << "\n";
    return {std::nullopt, 2};
  }
  log::parse_level(log_level, config.log_level);
  return {std::move(config), 0};
}

}  // namespace sreracha
