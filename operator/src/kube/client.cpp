#include "kube/client.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>  // program_invocation_short_name
#include <random>
#include <thread>

#include <cpprest/http_client.h>
#include <pplx/threadpool.h>
#include <spdlog/spdlog.h>

#include "kube/backoff.h"
#include "kube/credentials.h"
#include "kube/io.h"
#include "kube/mutex.h"
#include "kube/paths.h"
#include "kube/rate_limiter.h"
#include "kube/tls.h"
#include "kube/watch_decoder.h"

namespace kube {

namespace http = web::http;
using http::client::http_client;

// --------------------------------------------------------------------- Client

namespace {

using Clock = std::chrono::steady_clock;

// What the TLS layer needs; immutable once built, shared with the SSL
// context callback of every connection.
struct TlsMaterial {
  std::string ca_pem;
  std::string cert_pem;
  std::string key_pem;
};

void configure_tls(boost::asio::ssl::context& context, const TlsMaterial& tls) {
  if (!tls.ca_pem.empty()) {
    // Trust only the configured CA, as client-go does, not the system store
    // that cpprestsdk loads by default.
    SSL_CTX_set_cert_store(context.native_handle(), X509_STORE_new());
    context.add_certificate_authority(boost::asio::buffer(tls.ca_pem));
  } else {
    // The system's CAs, loaded once (tls.h): cpprestsdk's own load of them
    // is empty once isolate_default_trust() has run.
    SSL_CTX_set1_cert_store(context.native_handle(), tls::system_trust());
  }
  if (!tls.cert_pem.empty()) {
    context.use_certificate_chain(boost::asio::buffer(tls.cert_pem));
    context.use_private_key(boost::asio::buffer(tls.key_pem), boost::asio::ssl::context::pem);
  }
}

double random01() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(engine);
}

// One API call as the retry loop sees it.
struct Call {
  http::method method;
  std::string verb;  // get, list, create, update, patch, apply, delete, watch, evict
  std::string path;  // path and query
  std::string what;  // "get configmaps default/web", for messages
  std::optional<std::string> body;
  std::string content_type;
  std::string accept = "application/json";
  bool idempotent = true;
  Context ctx;  // bounds the whole call: waits, retries and each attempt

  Call(http::method m, std::string v, std::string p, std::string w,
       std::optional<std::string> b = std::nullopt, std::string type = {})
      : method(std::move(m)),
        verb(std::move(v)),
        path(std::move(p)),
        what(std::move(w)),
        body(std::move(b)),
        content_type(std::move(type)) {}
};

std::string transport_message(const std::exception& e) {
  if (const auto* http_error = dynamic_cast<const http::http_exception*>(&e)) {
    const auto code = http_error->error_code();
    if (code == std::errc::timed_out) return std::string(e.what()) + ": timed out";
    if (code && std::string(e.what()).find(code.message()) == std::string::npos) {
      return std::string(e.what()) + ": " + code.message();
    }
  }
  return e.what();
}

// Runs `action` on scope exit.
template <typename F>
struct ScopeExit {
  F action;
  ~ScopeExit() { action(); }
};
template <typename F>
ScopeExit(F) -> ScopeExit<F>;

// Aborts an HTTP call in flight when its CancelToken is cancelled, when
// cancel() is called, or at the time expire_at() set: cancelling the pplx
// token closes the connection, which fails the pending read or handshake at
// once; the nudge wakes whoever runs the I/O to see it. All calls share one
// http_client (one connection pool), so this is what bounds each one:
// cpprestsdk fixes its own timeout per client.
class Abort {
 public:
  explicit Abort(CancelToken token) : token_(std::move(token)) {
    callback_id_ = token_.add_callback([source = source_] {
      source.cancel();
      io::nudge();
    });
  }
  ~Abort() { token_.remove_callback(callback_id_); }
  Abort(const Abort&) = delete;
  Abort& operator=(const Abort&) = delete;

  // (Re)sets the time at which the call is cut and expired() turns true.
  void expire_at(Clock::time_point when) {
    // Captures copies: the callback may run once after this is destroyed.
    alarm_.emplace(when, [source = source_, expired = expired_] {
      expired->store(true);
      source.cancel();
    });
  }
  void cancel() { source_.cancel(); }
  pplx::cancellation_token token() const { return source_.get_token(); }
  // True once the time set by expire_at() cut the call.
  bool expired() const { return expired_->load(); }

 private:
  CancelToken token_;
  pplx::cancellation_token_source source_;
  std::shared_ptr<std::atomic<bool>> expired_ = std::make_shared<std::atomic<bool>>(false);
  std::uint64_t callback_id_ = 0;
  std::optional<io::Alarm> alarm_;
};

// The earlier of `limit` from now and the Context's deadline.
Clock::time_point earliest(const Context& ctx, std::chrono::seconds limit) {
  const auto end = Clock::now() + limit;
  return ctx.deadline() && *ctx.deadline() < end ? *ctx.deadline() : end;
}

// The Accept header that asks for objects as `as` (PartialObjectMetadata or
// its List), with plain JSON as the fallback of a server that cannot.
std::string metadata_accept(std::string_view as) {
  return "application/json;as=" + std::string(as) + ";g=meta.k8s.io;v=v1,application/json";
}

}  // namespace

struct Client::Impl {
  Impl(Config c, ClientOptions o)
      : config(std::move(c)),
        options(std::move(o)),
        credentials(config),
        limiter(options.qps, options.burst),
        connections(std::make_shared<std::atomic<std::uint64_t>>(0)) {
    // The program's name, as client-go's default User-Agent starts; the
    // operator's own name and version come from its main() through options.
    if (options.user_agent.empty()) options.user_agent = program_invocation_short_name;
    if (options.field_manager.empty()) options.field_manager = program_invocation_short_name;
    if (config.server.empty()) throw ConfigError(config.source + ": no server address");
    try {
      server_uri = web::uri(config.server);
    } catch (const std::exception& e) {
      throw ConfigError(config.source + ": server \"" + config.server +
                        "\" is not a URL: " + e.what());
    }
    host = server_uri.host();
    set_tls(config.client_cert_pem, config.client_key_pem);
  }

  // Replaces the TLS material (at start, or when an exec plugin hands out a
  // new client certificate). Checks it now, so that a bad PEM is a clear
  // ConfigError instead of a failure inside a connection attempt.
  void set_tls(const std::string& cert_pem, const std::string& key_pem) {
    auto material = std::make_shared<TlsMaterial>(TlsMaterial{config.ca_pem, cert_pem, key_pem});
    try {
      boost::asio::ssl::context probe(boost::asio::ssl::context::sslv23);
      configure_tls(probe, *material);
    } catch (const std::exception& e) {
      throw ConfigError(config.source +
                        ": CA, client certificate or key is not valid PEM: " + e.what());
    }
    MutexLock lock(mu);
    tls = std::move(material);
    http.reset();  // new connections, new certificate; in-flight calls keep theirs
  }

  // The one http_client of every call, so that all share its connection
  // pool: an informer's watch takes the connection its list just used, where
  // a client per timeout kept both open (36 TLS connections instead of 18 for
  // the operator's 18 informers; ~100 KB and a handshake each). cpprestsdk
  // fixes its timeout (no bytes for that long) per client, so that is only a
  // backstop here; each call's own bound is its Abort: request_timeout per
  // attempt (send), timeoutSeconds plus watch_end_grace (watch).
  std::shared_ptr<http_client> pool() {
    MutexLock lock(mu);
    if (http) return http;
    http::client::http_client_config cfg;
    cfg.set_timeout(std::chrono::hours(24));
    cfg.set_validate_certificates(!config.insecure_skip_tls_verify);
    // The API server does not redirect, and cpprestsdk would carry our
    // Authorization header to wherever a redirect pointed. Off also saves a
    // continuation (a thread hop) per request.
    cfg.set_max_redirects(0);
    cfg.set_ssl_context_callback(
        [material = tls, counter = connections](boost::asio::ssl::context& context) {
          counter->fetch_add(1);
          configure_tls(context, *material);
        });
    http = std::make_shared<http_client>(server_uri, cfg);
    return http;
  }

  // The Authorization header; adopts a new client certificate from an exec
  // plugin when it brought one. `ctx` bounds an exec plugin's run.
  std::string authorization(const Context& ctx) {
    auto header = credentials.authorization(ctx);
    if (config.exec) {
      auto [cert, key] = credentials.exec_client_certificate();
      bool changed = false;
      {
        MutexLock lock(mu);
        changed = !cert.empty() && (cert != tls->cert_pem || key != tls->key_pem);
      }
      if (changed) set_tls(cert, key);
    }
    return header;
  }

  http::http_request build(const Call& call, const std::string& authorization) const {
    http::http_request request(call.method);
    request.set_request_uri(call.path);
    auto& headers = request.headers();
    headers.add("Accept", call.accept);
    headers.add("User-Agent", options.user_agent);
    if (!authorization.empty()) headers.add("Authorization", authorization);
    // cpprestsdk verifies the certificate (and sends SNI) for the Host
    // header's name when one is set: that is how tls-server-name works here.
    if (!config.tls_server_name.empty()) headers.add("Host", config.tls_server_name);
    if (call.body) request.set_body(*call.body, call.content_type);
    return request;
  }

  // Metrics and the debug log; never headers or bodies (tokens, Secret data).
  void record(const Call& call, int code, Clock::time_point start) const {
    const auto latency = Clock::now() - start;
    spdlog::debug("kube: {} {} -> {} in {:.1f} ms", call.method, call.path,
                  code == 0 ? std::string("transport error") : std::to_string(code),
                  std::chrono::duration<double, std::milli>(latency).count());
    if (options.on_request) {
      options.on_request(
          RequestInfo{call.method, call.verb, host, code,
                      std::chrono::duration_cast<std::chrono::nanoseconds>(latency)});
    }
  }

  // Waits before retry number `attempt + 1`. Returns false, without waiting,
  // when the wait would outlast the call's deadline: the caller then reports
  // what failed, which says more than "deadline exceeded". Throws Cancelled
  // when the call is cancelled meanwhile.
  bool sleep_before_retry(const Call& call, int attempt, std::string_view why,
                          std::optional<std::chrono::seconds> retry_after = {}) const {
    BackoffPolicy policy;
    policy.max_retry_after = options.max_retry_after;
    const auto delay = backoff_delay(attempt, random01(), retry_after, policy);
    if (const auto& deadline = call.ctx.deadline(); deadline && Clock::now() + delay > *deadline) {
      spdlog::debug("kube: {}: {}; no retry: its wait of {} ms would pass the deadline", call.what,
                    why, delay.count());
      return false;
    }
    spdlog::debug("kube: {}: {}; retry {} of {} in {} ms", call.what, why, attempt + 1,
                  options.max_retries, delay.count());
    call.ctx.sleep_for(delay, call.what);
    return true;
  }

  // Sends a non-watch call with rate limiting, retries and re-authentication;
  // returns the body of a 2xx answer, throws otherwise. Its Context bounds
  // all of it: each attempt ends at the deadline or on cancel (a cancelled
  // call throws Cancelled, never TransportError), and so do the waits.
  std::string send(const Call& call) {
    const Context& ctx = call.ctx;
    bool reauthenticated = false;
    for (int attempt = 0;; ++attempt) {
      ctx.check(call.what);
      limiter.acquire(ctx, call.what);
      auto request = build(call, authorization(ctx));
      const auto start = Clock::now();
      int code = 0;
      std::string body;
      std::optional<std::chrono::seconds> retry_after;
      Abort abort(ctx.token());
      abort.expire_at(earliest(ctx, options.request_timeout));
      try {
        auto response = io::await(pool()->request(request, abort.token()));
        code = response.status_code();
        // Waits for the body on its completion event itself: extract_utf8string()
        // would hand the read over to another task first: one more handler
        // per request, and with a pool a context switch (~8 % of a GET's time
        // on a two-CPU machine).
        const auto message = response._get_impl();
        io::await(pplx::create_task(message->_get_data_available()));
        body = message->extract_utf8string(true);
        if (auto it = response.headers().find("Retry-After"); it != response.headers().end()) {
          retry_after = parse_retry_after(it->second);
        }
      } catch (const std::exception& e) {
        record(call, 0, start);
        ctx.check(call.what);  // the abort's doing: Cancelled, not a transport error
        // Past the check, an expired abort means request_timeout cut it.
        const auto why =
            abort.expired()
                ? "timed out after " + std::to_string(options.request_timeout.count()) + " s"
                : transport_message(e);
        if (call.idempotent && attempt < options.max_retries &&
            sleep_before_retry(call, attempt, why)) {
          continue;
        }
        throw TransportError(call.what + ": " + why + " (server " + config.server + ")");
      }
      record(call, code, start);
      if (code >= 200 && code < 300) return body;
      // A rotated token or an expired exec credential: fetch anew, once.
      if (code == 401 && !reauthenticated && credentials.invalidate()) {
        reauthenticated = true;
        continue;
      }
      if (call.idempotent && is_retryable_status(code) && attempt < options.max_retries &&
          sleep_before_retry(call, attempt, "HTTP " + std::to_string(code), retry_after)) {
        continue;
      }
      throw_api_error(decode_status(code, body), call.what);
    }
  }

  // want_object false: the answer is checked for errors only, and null returned.
  json send_json(const Call& call, bool want_object = true) {
    if (!want_object) {
      send(call);
      return nullptr;
    }
    const auto body = send(call);
    auto parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) throw Error(call.what + ": the answer is not JSON");
    return parsed;
  }

  void require_namespace(const Resource& r, std::string_view ns, std::string_view verb,
                         std::string_view name) const {
    if (r.namespaced && ns.empty()) {
      throw Error(std::string(verb) + " " + r.resource + " " + std::string(name) +
                  ": a namespace is required for a namespaced resource");
    }
  }

  const Config config;
  ClientOptions options;
  Credentials credentials;
  TokenBucket limiter;
  web::uri server_uri;
  std::string host;
  std::shared_ptr<std::atomic<std::uint64_t>> connections;

  Mutex mu;
  std::shared_ptr<const TlsMaterial> tls GUARDED_BY(mu);
  std::shared_ptr<http_client> http GUARDED_BY(mu);  // pool()
};

void set_io_threads(std::size_t threads) {
  try {
    crossplat::threadpool::initialize_with_threads(threads);
  } catch (const std::exception& e) {
    throw Error(std::string("set_io_threads: too late: ") + e.what());
  }
  if (threads == 0) io::start_caller_driven();
}

Client::Client(Config config, ClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(config), std::move(options))) {}

Client::~Client() = default;

const Config& Client::config() const { return impl_->config; }

std::uint64_t Client::connections_opened() const { return impl_->connections->load(); }

json Client::get(const Resource& r, std::string_view ns, std::string_view name,
                 std::string_view subresource, const Context& ctx) {
  impl_->require_namespace(r, ns, "get", name);
  Call call{http::methods::GET, "get", object_path(r, ns, name, subresource),
            "get " + describe(r, ns, name, subresource)};
  call.ctx = ctx;
  return impl_->send_json(call);
}

json Client::list(const Resource& r, std::string_view ns, const ListOptions& options,
                  const Context& ctx) {
  const std::string what = "list " + describe(r, ns, {});
  json result;
  std::string continue_token;
  do {
    // resourceVersion belongs to the first page only; the continue token
    // carries the snapshot from then on (the server rejects both).
    const auto query = query_string({
        {"labelSelector", options.label_selector},
        {"fieldSelector", options.field_selector},
        {"limit", options.limit > 0 ? std::to_string(options.limit) : ""},
        {"continue", continue_token},
        {"resourceVersion", continue_token.empty() ? options.resource_version : ""},
    });
    Call call{http::methods::GET, "list", collection_path(r, ns) + query, what};
    call.ctx = ctx;
    if (options.metadata_only) call.accept = metadata_accept("PartialObjectMetadataList");
    json page = impl_->send_json(call);
    json items = page.contains("items") && page["items"].is_array() ? std::move(page["items"])
                                                                    : json::array();
    if (!page["metadata"].is_object()) page["metadata"] = json::object();
    continue_token = page["metadata"].value("continue", "");
    if (result.is_null()) {
      result = std::move(page);
      result["items"] = std::move(items);
    } else {
      for (auto& item : items) result["items"].push_back(std::move(item));
    }
  } while (!continue_token.empty());
  result["metadata"].erase("continue");
  result["metadata"].erase("remainingItemCount");
  return result;
}

json Client::create(const Resource& r, std::string_view ns, const json& object,
                    std::string_view subresource, const Context& ctx) {
  const std::string name = object.contains("metadata") ? object["metadata"].value("name", "") : "";
  impl_->require_namespace(r, ns, "create", name);
  // A subresource (binding, eviction, token) is created under its object.
  const auto path =
      subresource.empty() ? collection_path(r, ns) : object_path(r, ns, name, subresource);
  Call call{
      http::methods::POST, "create",          path, "create " + describe(r, ns, name, subresource),
      object.dump(),       "application/json"};
  call.idempotent = false;  // a retried POST could create twice, or fail with AlreadyExists
  call.ctx = ctx;
  return impl_->send_json(call);
}

json Client::replace(const Resource& r, std::string_view ns, std::string_view name,
                     const json& object, std::string_view subresource, const Context& ctx) {
  impl_->require_namespace(r, ns, "update", name);
  Call call{http::methods::PUT,
            "update",
            object_path(r, ns, name, subresource),
            "update " + describe(r, ns, name, subresource),
            object.dump(),
            "application/json"};
  call.ctx = ctx;
  return impl_->send_json(call);
}

json Client::merge_patch(const Resource& r, std::string_view ns, std::string_view name,
                         const json& patch, std::string_view subresource, const Context& ctx,
                         const PatchOptions& options) {
  impl_->require_namespace(r, ns, "patch", name);
  // A merge patch sets fields to given values: sending it twice is harmless.
  Call call{http::methods::PATCH,
            "patch",
            object_path(r, ns, name, subresource),
            "patch " + describe(r, ns, name, subresource),
            patch.dump(),
            "application/merge-patch+json"};
  call.ctx = ctx;
  return impl_->send_json(call, options.want_object);
}

json Client::apply(const Resource& r, std::string_view ns, std::string_view name,
                   const json& object, const ApplyOptions& options, std::string_view subresource,
                   const Context& ctx) {
  impl_->require_namespace(r, ns, "apply", name);
  const auto& manager =
      options.field_manager.empty() ? impl_->options.field_manager : options.field_manager;
  const auto query =
      query_string({{"fieldManager", manager}, {"force", options.force ? "true" : ""}});
  // JSON is YAML, so the object goes as is under the apply content type.
  Call call{http::methods::PATCH,
            "apply",
            object_path(r, ns, name, subresource) + query,
            "apply " + describe(r, ns, name, subresource),
            object.dump(),
            "application/apply-patch+yaml"};
  call.ctx = ctx;
  return impl_->send_json(call, options.want_object);
}

namespace {
json delete_options_json(const DeleteOptions& options) {
  json body = {{"apiVersion", "v1"}, {"kind", "DeleteOptions"}};
  if (!options.propagation_policy.empty()) body["propagationPolicy"] = options.propagation_policy;
  if (options.grace_period_seconds) body["gracePeriodSeconds"] = *options.grace_period_seconds;
  if (options.precondition_uid) body["preconditions"]["uid"] = *options.precondition_uid;
  if (options.precondition_resource_version) {
    body["preconditions"]["resourceVersion"] = *options.precondition_resource_version;
  }
  return body;
}
}  // namespace

void Client::remove(const Resource& r, std::string_view ns, std::string_view name,
                    const DeleteOptions& options, const Context& ctx) {
  impl_->require_namespace(r, ns, "delete", name);
  Call call{http::methods::DEL,
            "delete",
            object_path(r, ns, name),
            "delete " + describe(r, ns, name),
            delete_options_json(options).dump(),
            "application/json"};
  call.ctx = ctx;
  try {
    impl_->send(call);
  } catch (const ApiError& e) {
    if (!e.is_not_found()) throw;  // gone already: what the caller wanted
  }
}

void Client::evict(std::string_view ns, std::string_view pod, const DeleteOptions& options,
                   const Context& ctx) {
  const json eviction = {{"apiVersion", "policy/v1"},
                         {"kind", "Eviction"},
                         {"metadata", {{"name", pod}, {"namespace", ns}}},
                         {"deleteOptions", delete_options_json(options)}};
  Call call{http::methods::POST,
            "evict",
            object_path(resources::pods, ns, pod, "eviction"),
            "evict " + describe(resources::pods, ns, pod),
            eviction.dump(),
            "application/json"};
  // A 429 here is a PodDisruptionBudget saying no: the caller decides when to
  // try again, not the retry loop.
  call.idempotent = false;
  call.ctx = ctx;
  try {
    impl_->send(call);
  } catch (const ApiError& e) {
    if (!e.is_not_found()) throw;
  }
}

void Client::watch(const Resource& r, std::string_view ns, const WatchOptions& options,
                   const std::function<bool(WatchEvent&&)>& on_event, const Context& ctx) {
  // A watch ends when the server ends it or the token is cancelled; a
  // deadline would cut a healthy stream, so only the token counts here.
  const CancelToken& cancel = ctx.token();
  const auto query = query_string({
      {"watch", "true"},
      {"resourceVersion", options.resource_version},
      {"allowWatchBookmarks", options.allow_bookmarks ? "true" : ""},
      {"timeoutSeconds",
       options.timeout_seconds > 0 ? std::to_string(options.timeout_seconds) : ""},
      {"labelSelector", options.label_selector},
      {"fieldSelector", options.field_selector},
  });
  Call call{http::methods::GET, "watch", collection_path(r, ns) + query,
            "watch " + describe(r, ns, {})};
  if (options.metadata_only) call.accept = metadata_accept("PartialObjectMetadata");

  Abort abort(cancel);
  // Leaving early (on_event said stop, or threw) must also abort the stream,
  // or the half-read connection would linger.
  ScopeExit cleanup{[&abort]() { abort.cancel(); }};
  if (cancel.cancelled()) return;

  // The server ends a watch at timeoutSeconds. One it does not end (a
  // half-open connection, a stalled server) is cut watch_end_grace later;
  // the caller watches again. A quiet watch may hear nothing until then, so
  // there is no bound on the time between events.
  const auto why = [&](const std::exception& e) {
    if (!abort.expired()) return transport_message(e);
    return "the server did not end it " + std::to_string(impl_->options.watch_end_grace.count()) +
           " s after timeoutSeconds (" + std::to_string(options.timeout_seconds) + " s)";
  };

  http::http_response response;
  for (bool reauthenticated = false;;) {
    http::http_request request;
    try {
      impl_->limiter.acquire(cancel, call.what);
      request = impl_->build(call, impl_->authorization(cancel));
    } catch (const Cancelled&) {
      return;  // a cancelled watch ends quietly, as below
    }
    const auto start = Clock::now();
    if (options.timeout_seconds > 0) {
      abort.expire_at(start + std::chrono::seconds(options.timeout_seconds) +
                      impl_->options.watch_end_grace);
    }
    try {
      response = io::await(impl_->pool()->request(request, abort.token()));
    } catch (const std::exception& e) {
      impl_->record(call, 0, start);
      if (cancel.cancelled()) return;
      throw TransportError(call.what + ": " + why(e) + " (server " + impl_->config.server + ")");
    }
    const int code = response.status_code();
    impl_->record(call, code, start);  // latency = until the headers arrived
    if (code == 200) break;
    const auto body = io::await(response.extract_utf8string(true));
    if (code == 401 && !reauthenticated && impl_->credentials.invalidate()) {
      reauthenticated = true;
      continue;
    }
    throw_api_error(decode_status(code, body), call.what);
  }

  // One JSON event per line, handed out as soon as its line is complete.
  // The body is read as it comes, in whatever pieces: never with
  // read_line(), whose handler blocks on its own buffer flush for lines over
  // 16 KiB (a wait that, with caller-driven I/O, only a rescuer can end).
  auto body = response.body().streambuf();
  using Traits = concurrency::streams::streambuf<std::uint8_t>::traits;
  WatchDecoder decoder(kMaxWatchEventBytes, options.drop_managed_fields);
  std::string chunk;
  const auto deliver = [&](WatchEvent&& event) {
    if (event.type == "ERROR") {
      // 410 here means the resourceVersion is too old: ResourceExpired.
      throw_api_error(decode_status_object(500, event.object), call.what);
    }
    return on_event(std::move(event));
  };
  for (;;) {
    std::size_t available = 0;
    try {
      available = body.in_avail();
      if (available == 0) {
        // Nothing buffered: wait for one more byte, or the end.
        const auto next = io::await(body.bumpc());
        if (cancel.cancelled()) return;
        if (next == Traits::eof()) break;
        chunk.assign(1, static_cast<char>(next));
      } else {
        // No more than is buffered, so the read completes at once (asking
        // for more would wait until that much had arrived).
        chunk.resize(std::min<std::size_t>(available, 256 * 1024));
        chunk.resize(
            io::await(body.getn(reinterpret_cast<std::uint8_t*>(chunk.data()), chunk.size())));
      }
    } catch (const std::exception& e) {
      if (cancel.cancelled()) return;
      throw TransportError(call.what + ": the stream broke: " + why(e));
    }
    if (cancel.cancelled()) return;
    try {
      if (!decoder.feed(chunk, deliver)) return;
    } catch (const WatchDecodeError& e) {
      throw WatchDecodeError(call.what + ": " + e.what());
    }
  }
  // The server ended the watch (timeoutSeconds); a last line may lack "\n".
  try {
    decoder.finish(deliver);
  } catch (const WatchDecodeError& e) {
    throw WatchDecodeError(call.what + ": " + e.what());
  }
}

}  // namespace kube
