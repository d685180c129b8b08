// Command-line flags and their environment variables (CLI11): every flag can
// also come from the environment, and a flag given on the command line wins.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include "log.h"
#include "redis_url.h"

namespace sreracha {

struct ListenAddress {
  std::string host;  // without brackets for IPv6; "0.0.0.0" for ":80"
  std::uint16_t port = 80;
};

// "ADDR:PORT", "[IPv6]:PORT" or ":PORT" (all IPv4 interfaces). Port 0 asks
// the kernel for a free one. Throws ConfigError.
ListenAddress parse_listen(std::string_view text);

struct Config {
  ListenAddress listen{"0.0.0.0", 80};
  RedisUrl redis_url;                 // parsed from --redis-url
  std::string redis_auth;             // overrides the URL's password
  std::string redis_ca;               // PEM file; empty: the system store
  std::string redis_tls_server_name;  // the name to verify; empty: the URL's host
  std::string redis_key = "sreracha:fizzbuzz";
  double redis_timeout_seconds = 2;
  double exit_after_seconds = 0;  // 0: never (the default)
  double exit_after_jitter_seconds = 0;
  double shutdown_timeout_seconds = 10;
  log::Level log_level = log::Level::kInfo;
  bool access_log = true;
};

struct ParseOutcome {
  std::optional<Config> config;  // set: run with it
  int exit_code = 0;             // else exit with this (--help, --version: 0; errors: 2)
};

// Parses argv and the environment. Help and version go to `out`, errors (one
// line naming the flag and its variable) to `err`.
ParseOutcome parse_config(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace sreracha
