#include "redis_url.h"

#include <charconv>

#include "route.h"  // percent_decode

namespace sreracha {
namespace {

[[noreturn]] void fail(std::string_view why) {
  throw ConfigError("invalid Redis URL: " + std::string(why) +
                    " (expected redis[s]://[[user]:password@]host[:port][/db])");
}

template <typename Int>
bool parse_decimal(std::string_view text, Int& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

RedisUrl parse_redis_url(std::string_view url) {
  RedisUrl out;
  std::string_view rest;
  if (url.starts_with("redis://")) {
    rest = url.substr(8);
  } else if (url.starts_with("rediss://")) {
    out.tls = true;
    rest = url.substr(9);
  } else {
    std::size_t colon = url.find("://");
    if (colon == std::string_view::npos) fail("no scheme");
    fail("unsupported scheme \"" + std::string(url.substr(0, colon)) + "\"");
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    fail("query parameters and fragments are not supported");
  }

  std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path =
      slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);

  // The last '@' ends the userinfo: a password may contain '@' unescaped.
  std::size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    std::size_t colon = userinfo.find(':');
    auto user = percent_decode(userinfo.substr(0, colon));
    if (!user) fail("bad percent-encoding in the username");
    out.username = *user;
    if (colon != std::string_view::npos) {
      auto password = percent_decode(userinfo.substr(colon + 1));
      if (!password) fail("bad percent-encoding in the password");
      if (!password->empty()) out.password = *password;
    }
  }

  std::string_view port_text;
  bool bracketed = authority.starts_with('[');
  if (bracketed) {
    std::size_t close = authority.find(']');
    if (close == std::string_view::npos) fail("unterminated '[' in an IPv6 host");
    out.host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') fail("unexpected characters after the IPv6 host");
      port_text = after.substr(1);
      if (port_text.empty()) fail("empty port");
    }
    if (out.host.empty()) fail("empty IPv6 host");
  } else {
    std::size_t colon = authority.find(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) fail("empty port");
    }
  }
  if (out.host.empty()) fail("no host");
  if (bracketed && out.host.find(':') == std::string::npos) {
    fail("\"[" + out.host + "]\" is not an IPv6 address");
  }
  if (out.host.find_first_of(" \\[]@%") != std::string::npos) {
    fail("bad character in host \"" + out.host + "\"");
  }
  if (!port_text.empty()) {
    unsigned port = 0;
    if (!parse_decimal(port_text, port) || port == 0 || port > 65535) {
      fail("port \"" + std::string(port_text) + "\" is not a number from 1 to 65535");
    }
    out.port = static_cast<std::uint16_t>(port);
  }
  if (!path.empty()) {
    int db = 0;
    if (!parse_decimal(path, db) || db < 0) {
      fail("database \"" + std::string(path) + "\" is not a non-negative number");
    }
    out.db = db;
  }
  return out;
}

// Built with append, not operator+: GCC 12 at -O3 warns (-Wrestrict) about
// a false overlap in '"/" + std::to_string(n)'.
std::string RedisUrl::endpoint() const {
  std::string out;
  bool ipv6 = host.find(':') != std::string::npos;
  if (ipv6) out += '[';
  out += host;
  if (ipv6) out += ']';
  out += ':';
  out += std::to_string(port);
  return out;
}

std::string RedisUrl::redacted() const {
  std::string out = tls ? "rediss://" : "redis://";
  if (!username.empty() || password) {
    out += username;
    if (password) out += ":***";
    out += '@';
  }
  out += endpoint();
  if (db != 0) {
    out += '/';
    out += std::to_string(db);
  }
  return out;
}

}  // namespace sreracha
