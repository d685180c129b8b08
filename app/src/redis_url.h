// redis:// and rediss:// URLs, as REDIS_URL carries them:
//   redis[s]://[[username][:password]@]host[:port][/db]
// host may be a name, an IPv4 address or a bracketed IPv6 address.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace sreracha {

// A configuration value the app cannot start with; what() says which value
// and why, in one line, for a person to fix.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct RedisUrl {
  bool tls = false;  // rediss://
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 6379;
  std::string username;  // Redis 6 ACL user; empty means "default"
  std::optional<std::string> password;
  int db = 0;

  // The URL with the password replaced by "***": the only form that may be logged.
  std::string redacted() const;
  // host:port, IPv6 in brackets.
  std::string endpoint() const;
};

// Throws ConfigError naming what is wrong (scheme, host, port, db, escape).
RedisUrl parse_redis_url(std::string_view url);

}  // namespace sreracha
