#include "sreracha/redis_check.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include <spdlog/spdlog.h>

#include "kube/thread_name.h"
#include "kube/tls.h"

namespace sreracha::redis_check {
namespace {

using Clock = std::chrono::steady_clock;

// How a check ends early: the condition's reason and message.
struct Failure {
  const char* reason;
  std::string message;
};

std::string endpoint(const std::string& host, int port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "the connection closed during the handshake";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

struct SslCtxFree {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslFree {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct ReaderFree {
  void operator()(redisReader* reader) const { redisReaderFree(reader); }
};
struct ReplyFree {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

// One connection to one address, plain or TLS, every step bounded by the
// deadline. hiredis 0.14 (Debian's) has no TLS, so the socket and OpenSSL
// are ours and hiredis formats commands and parses replies.
class Connection {
 public:
  Connection(const std::string& host, int port, Clock::time_point deadline)
      : where_(endpoint(host, port)), deadline_(deadline) {
    connect(host, port);
  }
  ~Connection() {
    ssl_.reset();
    if (fd_ >= 0) ::close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const std::string& where() const { return where_; }

  void start_tls(const std::string& server_name, const std::string& ca_file) {
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    if (!ctx_) throw Failure{kTlsFailed, "TLS to " + where_ + ": " + openssl_error()};
    if (ca_file.empty()) {
      // The system's CAs, loaded once per process (kube/tls.h), not per check.
      SSL_CTX_set1_cert_store(ctx_.get(), kube::tls::system_trust());
    } else if (SSL_CTX_load_verify_locations(ctx_.get(), ca_file.c_str(), nullptr) != 1) {
      throw Failure{kTlsFailed, "TLS to " + where_ + ": no trusted CAs: " + openssl_error()};
    }
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    ssl_.reset(SSL_new(ctx_.get()));
    // The name is what the certificate must carry (SSL_set1_host) and the
    // SNI that lets a shared endpoint pick the certificate.
    if (!ssl_ || SSL_set_fd(ssl_.get(), fd_) != 1 ||
        SSL_ctrl(ssl_.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(server_name.c_str())) != 1 ||
        SSL_set1_host(ssl_.get(), server_name.c_str()) != 1) {
      throw Failure{kTlsFailed, "TLS to " + where_ + ": " + openssl_error()};
    }
    while (true) {
      ERR_clear_error();
      const int rc = SSL_connect(ssl_.get());
      if (rc == 1) return;
      const int error = SSL_get_error(ssl_.get(), rc);
      if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
        wait(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, "the TLS handshake");
        continue;
      }
      const long verify = SSL_get_verify_result(ssl_.get());
      if (verify != X509_V_OK) {
        throw Failure{kTlsFailed, "TLS to " + where_ + ": the certificate was refused (" +
                                      X509_verify_cert_error_string(verify) +
                                      "; the name checked is " + server_name + ")"};
      }
      throw Failure{kTlsFailed, "TLS to " + where_ + ": " + openssl_error()};
    }
  }

  // Sends one command and reads its reply. `shown` is the command as a
  // message may name it (AUTH's argument is not shown).
  Reply command(std::vector<std::string> args, const std::string& shown) {
    std::vector<const char*> argv;
    std::vector<size_t> lengths;
    for (const auto& arg : args) {
      argv.push_back(arg.data());
      lengths.push_back(arg.size());
    }
    char* formatted = nullptr;
    const int length = redisFormatCommandArgv(&formatted, static_cast<int>(argv.size()),
                                              argv.data(), lengths.data());
    if (length < 0) throw std::bad_alloc();
    std::string out(formatted, static_cast<size_t>(length));
    redisFreeCommand(formatted);
    write_all(out, shown);
    return read_reply(shown);
  }

 private:
  void connect(const std::string& host, int port) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const std::string service = std::to_string(port);
    if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
      throw Failure{kUnreachable, "cannot resolve " + host + ": " + gai_strerror(rc)};
    }
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
    std::string error = "no address";
    for (const addrinfo* a = found; a; a = a->ai_next) {
      fd_ = ::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
      if (fd_ < 0) {
        error = std::strerror(errno);
        continue;
      }
      if (::connect(fd_, a->ai_addr, a->ai_addrlen) == 0 || errno == EINPROGRESS) {
        try {
          wait(POLLOUT, "connecting");
          int so_error = 0;
          socklen_t size = sizeof so_error;
          ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &size);
          if (so_error == 0) return;
          error = std::strerror(so_error);
        } catch (const Failure&) {
          error = "no answer in time";
        }
      } else {
        error = std::strerror(errno);
      }
      ::close(fd_);
      fd_ = -1;
    }
    throw Failure{kUnreachable, "cannot connect to " + where_ + ": " + error};
  }

  // Waits for `events` on the socket until the deadline.
  void wait(short events, const std::string& doing) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
    pollfd p{fd_, events, 0};
    const int rc = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
    if (rc == 0) throw Failure{kUnreachable, where_ + " did not answer in time (" + doing + ")"};
    if (rc < 0 && errno != EINTR) {
      throw Failure{kUnreachable, where_ + ": " + std::strerror(errno) + " (" + doing + ")"};
    }
  }

  void write_all(const std::string& data, const std::string& shown) {
    size_t done = 0;
    while (done < data.size()) {
      if (ssl_) {
        ERR_clear_error();
        const int rc =
            SSL_write(ssl_.get(), data.data() + done, static_cast<int>(data.size() - done));
        if (rc > 0) {
          done += static_cast<size_t>(rc);
          continue;
        }
        const int error = SSL_get_error(ssl_.get(), rc);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
          wait(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, shown);
          continue;
        }
        throw Failure{kUnreachable, where_ + " closed the connection (" + shown + ")"};
      }
      const ssize_t rc = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (rc >= 0) {
        done += static_cast<size_t>(rc);
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wait(POLLOUT, shown);
      } else if (errno != EINTR) {
        throw Failure{kUnreachable, where_ + ": " + std::strerror(errno) + " (" + shown + ")"};
      }
    }
  }

  Reply read_reply(const std::string& shown) {
    if (!reader_) reader_.reset(redisReaderCreate());
    while (true) {
      void* raw = nullptr;
      if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK) {
        throw Failure{kRedisError, where_ + " does not speak the Redis protocol (" + shown + ")"};
      }
      if (raw) return Reply(static_cast<redisReply*>(raw));
      char buffer[4096];
      ssize_t got = 0;
      if (ssl_) {
        ERR_clear_error();
        const int rc = SSL_read(ssl_.get(), buffer, sizeof buffer);
        if (rc <= 0) {
          const int error = SSL_get_error(ssl_.get(), rc);
          if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
            wait(error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, shown);
            continue;
          }
          throw Failure{kUnreachable, where_ + " closed the connection (" + shown + ")"};
        }
        got = rc;
      } else {
        got = ::recv(fd_, buffer, sizeof buffer, 0);
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          wait(POLLIN, shown);
          continue;
        }
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0)
          throw Failure{kUnreachable, where_ + " closed the connection (" + shown + ")"};
      }
      redisReaderFeed(reader_.get(), buffer, static_cast<size_t>(got));
    }
  }

  std::string where_;
  Clock::time_point deadline_;
  int fd_ = -1;
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx_;
  std::unique_ptr<SSL, SslFree> ssl_;
  std::unique_ptr<redisReader, ReaderFree> reader_;
};

std::string reply_error(const redisReply& reply) { return std::string(reply.str, reply.len); }

// A server's error text, in case one ever echoes what it was sent.
std::string scrub(std::string text, const std::string& secret) {
  if (secret.empty()) return text;
  for (size_t at; (at = text.find(secret)) != std::string::npos;)
    text.replace(at, secret.size(), "***");
  return text;
}

std::optional<std::string> role_of(Connection& c) {
  Reply role = c.command({"ROLE"}, "ROLE");
  if (role->type == REDIS_REPLY_ARRAY && role->elements > 0 &&
      role->element[0]->type == REDIS_REPLY_STRING) {
    return reply_error(*role->element[0]);
  }
  // ROLE refused (an ACL, a managed service): INFO replication says it too.
  Reply info = c.command({"INFO", "replication"}, "INFO replication");
  if (info->type != REDIS_REPLY_STRING) return std::nullopt;
  const std::string text = reply_error(*info);
  const auto at = text.find("role:");
  if (at == std::string::npos) return std::nullopt;
  const auto end = text.find_first_of("\r\n", at);
  return text.substr(at + 5, end == std::string::npos ? std::string::npos : end - at - 5);
}

Result check_one(const std::string& host, const Target& target, const CheckOptions& options) {
  Connection c(host, target.port, Clock::now() + options.timeout);
  if (target.tls)
    c.start_tls(target.server_name.empty() ? host : target.server_name, options.ca_file);
  if (!target.password.empty()) {
    Reply auth = c.command({"AUTH", target.password}, "AUTH");
    if (auth->type == REDIS_REPLY_ERROR) {
      throw Failure{kAuthFailed, c.where() + " refused the password from " +
                                     target.password_source + ": " +
                                     scrub(reply_error(*auth), target.password)};
    }
  }
  Reply ping = c.command({"PING"}, "PING");
  if (ping->type == REDIS_REPLY_ERROR) {
    const std::string error = scrub(reply_error(*ping), target.password);
    if (error.rfind("NOAUTH", 0) == 0) {
      throw Failure{
          kAuthFailed,
          c.where() + " requires a password: set spec.redis.authSecretRef (" + error + ")"};
    }
    throw Failure{kRedisError, c.where() + " answered PING with: " + error};
  }
  const auto role = role_of(c);
  if (role == "slave" || role == "replica") {
    throw Failure{kReadOnlyReplica,
                  c.where() +
                      " is a read-only replica: the app's writes would fail; use the primary "
                      "endpoint, not the reader"};
  }
  if (role && *role != "master") {
    throw Failure{kRedisError, c.where() + " has the role " + *role + ", not a primary"};
  }
  return {true, kReady,
          c.where() + " answers PING as a primary" + (target.tls ? " over TLS" : "") +
              (target.password.empty() ? "" : ", with the password")};
}

}  // namespace

Result check(const Target& target, const CheckOptions& options) {
  Result result;
  for (const auto& host : target.hosts) {
    try {
      result = check_one(host, target, options);
    } catch (const Failure& f) {
      return {false, f.reason, f.message};
    }
  }
  if (target.hosts.size() > 1 && result.ok) {
    result.message = std::to_string(target.hosts.size()) +
                     " addresses answer PING as primaries (the last: " + result.message + ")";
  }
  return result;
}

std::optional<std::string> decode_base64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(text.data()),
                                     static_cast<int>(text.size()));
  if (length < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding's zero bytes.
  const size_t padding = static_cast<size_t>(
      std::count(text.end() - std::min<size_t>(2, text.size()), text.end(), '='));
  out.resize(static_cast<size_t>(length) - padding);
  return out;
}

RedisChecker::RedisChecker(CheckerOptions options,
                           std::function<void(const std::string&)> on_change)
    : options_(std::move(options)), on_change_(std::move(on_change)) {
  thread_ = std::thread([this] { run(); });
}

RedisChecker::~RedisChecker() {
  {
    kube::MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::optional<Result> RedisChecker::observe(const std::string& key, const Target& target) {
  kube::MutexLock lock(mu_);
  auto [it, added] = entries_.try_emplace(key);
  Entry& entry = it->second;
  if (!added && entry.target == target) return entry.last;
  entry = Entry{target, std::nullopt, Clock::now(), std::chrono::milliseconds(0), ++generations_};
  wake_.notify_all();
  return std::nullopt;
}

void RedisChecker::forget(const std::string& key) {
  kube::MutexLock lock(mu_);
  entries_.erase(key);
}

void RedisChecker::run() {
  kube::name_this_thread("redis-check");
  kube::MutexLock lock(mu_);
  while (!stopping_) {
    auto next =
        std::min_element(entries_.begin(), entries_.end(),
                         [](const auto& a, const auto& b) { return a.second.due < b.second.due; });
    if (next == entries_.end()) {
      wake_.wait(lock.native());
      continue;
    }
    if (next->second.due > Clock::now()) {
      wake_.wait_until(lock.native(), next->second.due);
      continue;
    }
    const std::string key = next->first;
    const Target target = next->second.target;
    const std::uint64_t generation = next->second.generation;
    Result result;
    {
      kube::MutexUnlock unlocked(mu_);
      result = check(target, options_.check);
    }
    auto it = entries_.find(key);
    if (it == entries_.end() || it->second.generation != generation) continue;
    Entry& entry = it->second;
    const bool changed = entry.last != result;
    if (!result.ok) {
      entry.backoff = entry.backoff.count() == 0
                          ? options_.min_backoff
                          : std::min(entry.backoff * 2, options_.max_backoff);
    } else {
      entry.backoff = std::chrono::milliseconds(0);
    }
    entry.due = Clock::now() + (result.ok ? options_.period : entry.backoff);
    if (changed) {
      if (entry.last) {
        spdlog::info("Redis check for {}: {} ({})", key, result.reason, result.message);
      }
      entry.last = std::move(result);
      kube::MutexUnlock unlocked(mu_);
      on_change_(key);
    }
  }
}

}  // namespace sreracha::redis_check
