// One blocking connection to Redis, plain TCP or TLS (OpenSSL), speaking RESP
// through hiredis's command formatter and reply reader. Used by one thread
// (the counter's); every read, write and connect has a timeout, so a call
// never blocks longer than RedisOptions::timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "redis_url.h"

namespace sreracha {

struct RedisOptions {
  RedisUrl url;
  // Overrides the URL's password (REDIS_AUTH / --redis-auth); empty: none.
  std::string password;
  // PEM CA bundle to verify the server with; empty: the system store.
  std::string ca_file;
  // The name the server's certificate must carry, and the SNI; empty: the
  // URL's host. For a URL through an alias (a Service in front of fixed
  // addresses) that no certificate names.
  std::string tls_server_name;
  std::chrono::milliseconds timeout{2000};
};

// Why a connection failed or was dropped. Messages name the endpoint and
// never the password.
class RedisError : public std::runtime_error {
 public:
  enum class Kind { kConnect, kTls, kAuth, kIo, kProtocol };
  RedisError(Kind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

struct RedisReply {
  enum class Type { kString, kArray, kInteger, kNil, kStatus, kError };
  Type type = Type::kNil;
  std::int64_t integer = 0;
  std::string str;  // kString, kStatus, kError
  bool is_error() const { return type == Type::kError; }
};

class RedisConnection {
 public:
  // Resolves, connects (TLS handshake with certificate and host name checks
  // for rediss://), authenticates and selects the database. Throws RedisError.
  static std::unique_ptr<RedisConnection> open(const RedisOptions& options);
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Sends one command and waits for its reply. A Redis error reply is
  // returned, not thrown; a broken connection throws RedisError (kIo).
  RedisReply command(const std::vector<std::string_view>& args);

  // Unblocks a command() in progress on another thread (it then throws).
  // Safe to call from any thread while the connection exists.
  void interrupt();

 private:
  struct Impl;
  explicit RedisConnection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sreracha
