#include "redis_connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace sreracha {
namespace {

using Kind = RedisError::Kind;

std::string errno_text(int err) { return std::strerror(err); }

std::string openssl_error_text() {
  unsigned long code = ERR_get_error();
  if (code == 0) return "no OpenSSL error queued";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Connects to one address with a deadline (non-blocking connect + poll), then
// turns the socket back to blocking with send/receive timeouts.
int connect_with_timeout(const addrinfo* ai, std::chrono::milliseconds timeout, int& err) {
  int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
  if (fd < 0) {
    err = errno;
    return -1;
  }
  int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (rc == 0) {
      ::close(fd);
      err = ETIMEDOUT;
      return -1;
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    rc = so_error == 0 ? 0 : -1;
    errno = so_error;
  }
  if (rc != 0) {
    err = errno;
    ::close(fd);
    return -1;
  }
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

RedisReply convert(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      break;
    default:
      out.type = RedisReply::Type::kNil;
      break;
  }
  out.integer = r->integer;
  if (r->str != nullptr) out.str.assign(r->str, r->len);
  return out;
}

}  // namespace

struct RedisConnection::Impl {
  std::string endpoint;
  std::atomic<int> fd{-1};
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  redisReader* reader = redisReaderCreate();

  ~Impl() {
    if (ssl != nullptr) SSL_free(ssl);
    if (ctx != nullptr) SSL_CTX_free(ctx);
    if (fd >= 0) ::close(fd);
    redisReaderFree(reader);
  }

  [[noreturn]] void io_failure(std::string_view what, int err) {
    if (err == EAGAIN || err == EWOULDBLOCK) {
      throw RedisError(Kind::kIo, std::string(what) + " " + endpoint + ": timed out");
    }
    throw RedisError(Kind::kIo, std::string(what) + " " + endpoint + ": " +
                                    (err == 0 ? "connection closed" : errno_text(err)));
  }

  void send_all(const char* data, std::size_t size) {
    while (size > 0) {
      ssize_t n;
      if (ssl != nullptr) {
        int w = SSL_write(ssl, data, static_cast<int>(size));
        if (w <= 0) io_failure("writing to", errno);
        n = w;
      } else {
        n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) io_failure("writing to", errno);
      }
      data += n;
      size -= static_cast<std::size_t>(n);
    }
  }

  // Reads what is available (at least one byte) into the reply reader.
  void receive_some() {
    char buf[4096];
    ssize_t n;
    for (;;) {
      errno = 0;
      if (ssl != nullptr) {
        n = SSL_read(ssl, buf, sizeof buf);
      } else {
        n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
      }
      break;
    }
    if (n <= 0) io_failure("reading from", n == 0 ? 0 : errno);
    if (redisReaderFeed(reader, buf, static_cast<std::size_t>(n)) != REDIS_OK) {
      throw RedisError(Kind::kProtocol, "bad reply from " + endpoint);
    }
  }

  void start_tls(const RedisOptions& options) {
    ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == nullptr) throw RedisError(Kind::kTls, "TLS setup: " + openssl_error_text());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    int ok = options.ca_file.empty()
                 ? SSL_CTX_set_default_verify_paths(ctx)
                 : SSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr);
    if (ok != 1) {
      throw RedisError(Kind::kTls, "cannot load CA certificates from " +
                                       (options.ca_file.empty() ? std::string("the system store")
                                                                : options.ca_file) +
                                       ": " + openssl_error_text());
    }
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    const std::string& host =
        options.tls_server_name.empty() ? options.url.host : options.tls_server_name;
    if (is_ip_literal(host)) {
      // An address is checked against the certificate's IP SANs; SNI
      // carries names only (RFC 6066).
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
    } else {
      // SSL_set_tlsext_host_name(), spelled out: the macro's C cast trips -Wold-style-cast.
      SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
               const_cast<char*>(host.c_str()));
      SSL_set1_host(ssl, host.c_str());
    }
    if (SSL_connect(ssl) != 1) {
      long verify = SSL_get_verify_result(ssl);
      std::string why = verify != X509_V_OK ? std::string("certificate verification failed: ") +
                                                  X509_verify_cert_error_string(verify)
                                            : openssl_error_text();
      if (why == "no OpenSSL error queued") why = "handshake failed: " + errno_text(errno);
      throw RedisError(Kind::kTls, "TLS handshake with " + endpoint + ": " + why);
    }
  }
};

RedisConnection::RedisConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RedisConnection::~RedisConnection() = default;

std::unique_ptr<RedisConnection> RedisConnection::open(const RedisOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->endpoint = options.url.endpoint();

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string port = std::to_string(options.url.port);
  int gai = ::getaddrinfo(options.url.host.c_str(), port.c_str(), &hints, &found);
  if (gai != 0) {
    throw RedisError(Kind::kConnect,
                     "resolving " + options.url.host + ": " + std::string(gai_strerror(gai)));
  }
  int err = 0;
  for (addrinfo* ai = found; ai != nullptr && impl->fd < 0; ai = ai->ai_next) {
    impl->fd = connect_with_timeout(ai, options.timeout, err);
  }
  ::freeaddrinfo(found);
  if (impl->fd < 0) {
    throw RedisError(Kind::kConnect, "connecting to " + impl->endpoint + ": " + errno_text(err));
  }
  if (options.url.tls) impl->start_tls(options);

  auto conn = std::unique_ptr<RedisConnection>(new RedisConnection(std::move(impl)));
  const std::string& password =
      options.password.empty() ? options.url.password.value_or("") : options.password;
  if (!password.empty()) {
    RedisReply reply = options.url.username.empty()
                           ? conn->command({"AUTH", password})
                           : conn->command({"AUTH", options.url.username, password});
    if (reply.is_error()) {
      throw RedisError(Kind::kAuth, "Redis at " + conn->impl_->endpoint +
                                        " refused the password (" + reply.str +
                                        "): check REDIS_AUTH or the password in REDIS_URL");
    }
  }
  if (options.url.db != 0) {
    RedisReply reply = conn->command({"SELECT", std::to_string(options.url.db)});
    if (reply.is_error()) {
      throw RedisError(Kind::kProtocol, "SELECT " + std::to_string(options.url.db) + " on " +
                                            conn->impl_->endpoint + ": " + reply.str);
    }
  }
  return conn;
}

RedisReply RedisConnection::command(const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (std::string_view a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  char* formatted = nullptr;
  int size = redisFormatCommandArgv(&formatted, static_cast<int>(args.size()), argv.data(),
                                    lengths.data());
  if (size < 0) throw RedisError(Kind::kProtocol, "cannot format a Redis command");
  std::unique_ptr<char, void (*)(char*)> guard(formatted, redisFreeCommand);
  impl_->send_all(formatted, static_cast<std::size_t>(size));

  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(impl_->reader, &raw) != REDIS_OK) {
      throw RedisError(Kind::kProtocol, "bad reply from " + impl_->endpoint);
    }
    if (raw != nullptr) {
      auto* reply = static_cast<redisReply*>(raw);
      RedisReply out = convert(reply);
      freeReplyObject(reply);
      return out;
    }
    impl_->receive_some();
  }
}

void RedisConnection::interrupt() {
  int fd = impl_->fd.load();
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

}  // namespace sreracha
