// kube::Client against a scripted local HTTP server (no cluster): what goes
// on the wire, which answers are retried and how, timeouts, and watch-stream
// parsing. The real API server is exercised by tests/integration/kube_*.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cpprest/http_listener.h>
#include <cpprest/producerconsumerstream.h>

#include <cerrno>  // program_invocation_short_name
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <future>
#include <mutex>
#include <random>
#include <thread>

#include "kube/client.h"
#include "kube/io.h"
#include "unit/kube/caller_driven_io.h"
#include "unit/kube/stalled_server.h"

namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
namespace http = web::http;

struct Answer {
  Answer(int c, std::string b, std::vector<std::pair<std::string, std::string>> h = {},
         std::chrono::milliseconds d = std::chrono::milliseconds(0))
      : code(c), body(std::move(b)), headers(std::move(h)), delay(d) {}
  int code;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay;
  // > 0: the body is streamed (chunked) in pieces of this many bytes, as a
  // watch's events arrive, instead of sent at once.
  std::size_t piece = 0;
};

struct Seen {
  std::string method;
  std::string uri;  // path and query
  http::http_headers headers;
  std::string body;
};

// Answers requests from a script, in order; records what it was sent.
class FakeApiServer {
 public:
  FakeApiServer() {
    std::mt19937 engine{std::random_device{}()};
    for (int attempt = 0; attempt < 20; ++attempt) {
      port_ = 20000 + static_cast<int>(engine() % 30000);
      listener_ = std::make_unique<http::experimental::listener::http_listener>(
          web::uri("http://127.0.0.1:" + std::to_string(port_)));
      listener_->support([this](http::http_request request) { handle(request); });
      try {
        listener_->open().wait();
        return;
      } catch (const std::exception&) {  // port taken: try another
      }
    }
    throw std::runtime_error("no free port for the fake API server");
  }
  ~FakeApiServer() { kube::io::await(listener_->close()); }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  void script(std::vector<Answer> answers) {
    std::lock_guard lock(mu_);
    answers_.assign(answers.begin(), answers.end());
  }
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  // Never blocks: with caller-driven I/O (kube::set_io_threads(0)) this runs
  // on the thread that runs everyone's I/O, the client's answer included.
  void handle(http::http_request request) {
    request.extract_utf8string(true).then([this, request](std::string body) mutable {
      Answer answer{404,
                    R"({"kind":"Status","code":404,"reason":"NotFound","message":"unscripted"})"};
      {
        std::lock_guard lock(mu_);
        seen_.push_back({request.method(), request.relative_uri().to_string(), request.headers(),
                         std::move(body)});
        if (!answers_.empty()) {
          answer = answers_.front();
          answers_.pop_front();
        }
      }
      http::http_response response(static_cast<http::status_code>(answer.code));
      for (const auto& [name, value] : answer.headers) response.headers().add(name, value);
      if (answer.piece > 0) {
        stream(request, response, answer);
        return;
      }
      response.set_body(answer.body, "application/json");
      if (answer.delay.count() == 0) {
        reply(request, response);
        return;
      }
      std::thread([request, response, delay = answer.delay]() mutable {
        std::this_thread::sleep_for(delay);
        reply(request, response);
      }).detach();
    });
  }

  // Replies at once with a chunked body that a thread of its own then writes
  // piece by piece, flushing each.
  static void stream(http::http_request& request, http::http_response& response,
                     const Answer& answer) {
    concurrency::streams::producer_consumer_buffer<std::uint8_t> buffer;
    response.set_body(buffer.create_istream(), "application/json");
    reply(request, response);
    std::thread([buffer, body = answer.body, piece = answer.piece]() mutable {
      for (std::size_t at = 0; at < body.size(); at += piece) {
        const auto part = body.substr(at, piece);
        kube::io::await(
            buffer.putn_nocopy(reinterpret_cast<const std::uint8_t*>(part.data()), part.size()));
        kube::io::await(buffer.sync());
      }
      kube::io::await(buffer.close(std::ios_base::out));
    }).detach();
  }

  // A client that gave up (a timeout test) makes reply() fail.
  static void reply(http::http_request& request, const http::http_response& response) {
    request.reply(response).then([](pplx::task<void> sent) {
      try {
        sent.get();
      } catch (const std::exception&) {
      }
    });
  }

  int port_ = 0;
  std::unique_ptr<http::experimental::listener::http_listener> listener_;
  std::mutex mu_;
  std::deque<Answer> answers_;  // REQUIRES: mu_ held
  std::vector<Seen> seen_;      // REQUIRES: mu_ held
};

class ClientTest : public ::testing::Test {
 protected:
  // As the operator runs: the threads waiting for answers run the I/O.
  static void SetUpTestSuite() { use_caller_driven_io(); }

  kube::Client make_client(kube::ClientOptions options = {}) {
    kube::Config config;
    config.server = server_.url();
    config.token = "secret-token";
    return kube::Client(config, options);
  }

  FakeApiServer server_;
};

const std::string kConfigMap = R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a"}})";

std::string status(int code, const std::string& reason, const std::string& message) {
  return kube::json{{"kind", "Status"}, {"apiVersion", "v1"}, {"status", "Failure"},
                    {"code", code},     {"reason", reason},   {"message", message}}
      .dump();
}

TEST_F(ClientTest, SendsHeadersPathsAndBodies) {
  server_.script({{200, kConfigMap}, {201, kConfigMap}, {200, kConfigMap}, {200, kConfigMap}});
  kube::ClientOptions options;
  options.user_agent = "an-operator/1.2";
  options.field_manager = "an-operator";
  auto client = make_client(options);
  client.get(kube::resources::configmaps, "ns1", "a");
  client.create(kube::resources::configmaps, "ns1", {{"metadata", {{"name", "a"}}}});
  client.apply(kube::resources::deployments, "ns1", "web", {{"kind", "Deployment"}});
  client.merge_patch(kube::resources::deployments, "ns1", "web", {{"spec", {{"replicas", 2}}}},
                     "scale");
  auto seen = server_.seen();
  ASSERT_EQ(seen.size(), 4u);

  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].uri, "/api/v1/namespaces/ns1/configmaps/a");
  EXPECT_EQ(seen[0].headers["Authorization"], "Bearer secret-token");
  EXPECT_EQ(seen[0].headers["Accept"], "application/json");
  EXPECT_EQ(seen[0].headers["User-Agent"], "an-operator/1.2");

  EXPECT_EQ(seen[1].method, "POST");
  EXPECT_EQ(seen[1].uri, "/api/v1/namespaces/ns1/configmaps");
  EXPECT_EQ(seen[1].headers["Content-Type"], "application/json");
  EXPECT_EQ(kube::json::parse(seen[1].body)["metadata"]["name"], "a");

  EXPECT_EQ(seen[2].method, "PATCH");
  EXPECT_EQ(seen[2].uri,
            "/apis/apps/v1/namespaces/ns1/deployments/web?fieldManager=an-operator&force=true");
  EXPECT_EQ(seen[2].headers["Content-Type"], "application/apply-patch+yaml");

  EXPECT_EQ(seen[3].uri, "/apis/apps/v1/namespaces/ns1/deployments/web/scale");
  EXPECT_EQ(seen[3].headers["Content-Type"], "application/merge-patch+json");
}

TEST_F(ClientTest, NamesTheProgramWhenTheOptionsNameNoOne) {
  server_.script({{200, kConfigMap}, {200, kConfigMap}, {200, kConfigMap}});
  auto client = make_client();
  client.get(kube::resources::configmaps, "ns1", "a");
  client.apply(kube::resources::configmaps, "ns1", "a", {{"kind", "ConfigMap"}});
  kube::ApplyOptions apply;
  apply.field_manager = "by-call";
  client.apply(kube::resources::configmaps, "ns1", "a", {{"kind", "ConfigMap"}}, apply);
  auto seen = server_.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].headers["User-Agent"], program_invocation_short_name);
  EXPECT_THAT(seen[1].uri, ::testing::HasSubstr(std::string("fieldManager=") +
                                                program_invocation_short_name + "&"));
  EXPECT_THAT(seen[2].uri, ::testing::HasSubstr("fieldManager=by-call&"));
}

TEST_F(ClientTest, ApplyWithoutWantingTheObjectReturnsNullAndStillThrows) {
  // The second answer is not JSON: unparsed, it cannot fail the call.
  server_.script(
      {{200, kConfigMap}, {200, "not json"}, {422, status(422, "Invalid", "data: Invalid value")}});
  auto client = make_client();
  kube::ApplyOptions apply;
  apply.field_manager = "m";
  EXPECT_EQ(client.apply(kube::resources::configmaps, "ns1", "a", {{"kind", "ConfigMap"}}, apply)
                .at("metadata")
                .at("name"),
            "a");
  apply.want_object = false;
  EXPECT_TRUE(client.apply(kube::resources::configmaps, "ns1", "a", {{"kind", "ConfigMap"}}, apply)
                  .is_null());
  EXPECT_THROW(
      client.apply(kube::resources::configmaps, "ns1", "a", {{"kind", "ConfigMap"}}, apply),
      kube::ApiError);
  auto seen = server_.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].method, "PATCH");
  EXPECT_EQ(seen[1].headers["Content-Type"], "application/apply-patch+yaml");
}

TEST_F(ClientTest, MergePatchWithoutWantingTheObjectReturnsNullAndStillThrows) {
  server_.script({{200, "not json"}, {409, status(409, "Conflict", "Precondition failed")}});
  auto client = make_client();
  const kube::json patch = {{"status", {{"ready", true}}}};
  EXPECT_TRUE(client
                  .merge_patch(kube::resources::configmaps, "ns1", "a", patch, "status", {},
                               {.want_object = false})
                  .is_null());
  EXPECT_THROW(client.merge_patch(kube::resources::configmaps, "ns1", "a", patch, "status", {},
                                  {.want_object = false}),
               kube::ApiError);
  auto seen = server_.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].method, "PATCH");
  EXPECT_EQ(seen[0].headers["Content-Type"], "application/merge-patch+json");
  EXPECT_THAT(seen[0].uri, ::testing::HasSubstr("/configmaps/a/status"));
}

TEST_F(ClientTest, DeleteSendsOptionsAndToleratesNotFound) {
  server_.script({{404, status(404, "NotFound", "configmaps \"a\" not found")}});
  auto client = make_client();
  kube::DeleteOptions options;
  options.propagation_policy = "Foreground";
  options.grace_period_seconds = 5;
  options.precondition_uid = "u-1";
  options.precondition_resource_version = "42";
  EXPECT_NO_THROW(client.remove(kube::resources::configmaps, "ns1", "a", options));
  auto seen = server_.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].method, "DELETE");
  const auto body = kube::json::parse(seen[0].body);
  EXPECT_EQ(body["kind"], "DeleteOptions");
  EXPECT_EQ(body["propagationPolicy"], "Foreground");
  EXPECT_EQ(body["gracePeriodSeconds"], 5);
  EXPECT_EQ(body["preconditions"]["uid"], "u-1");
  EXPECT_EQ(body["preconditions"]["resourceVersion"], "42");
}

TEST_F(ClientTest, RetriesServerErrorsOnIdempotentCalls) {
  server_.script(
      {{503, "overloaded"}, {500, status(500, "InternalError", "etcd hiccup")}, {200, kConfigMap}});
  std::vector<int> codes;
  kube::ClientOptions options;
  options.on_request = [&](const kube::RequestInfo& info) { codes.push_back(info.code); };
  auto client = make_client(options);
  EXPECT_EQ(client.get(kube::resources::configmaps, "ns1", "a")["metadata"]["name"], "a");
  EXPECT_THAT(codes, ::testing::ElementsAre(503, 500, 200));
}

TEST_F(ClientTest, HonoursRetryAfterOn429) {
  server_.script({{429, status(429, "TooManyRequests", "slow down"), {{"Retry-After", "1"}}},
                  {200, kConfigMap}});
  auto client = make_client();
  const auto begin = std::chrono::steady_clock::now();
  client.get(kube::resources::configmaps, "ns1", "a");
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 950ms);
  EXPECT_EQ(server_.seen().size(), 2u);
}

TEST_F(ClientTest, GivesUpAfterMaxRetries) {
  server_.script(
      {{503, "<html>busy</html>"}, {503, "<html>busy</html>"}, {503, "<html>busy</html>"}});
  kube::ClientOptions options;
  options.max_retries = 2;
  auto client = make_client(options);
  try {
    client.list(kube::resources::pods, "ns1");
    FAIL() << "no error";
  } catch (const kube::ApiError& e) {
    EXPECT_EQ(e.code(), 503);
    EXPECT_EQ(e.reason(), "ServiceUnavailable");  // no Status body: from the code
    EXPECT_EQ(e.message(), "<html>busy</html>");
    EXPECT_THAT(e.what(), HasSubstr("list pods in ns1: ServiceUnavailable (503)"));
  }
  EXPECT_EQ(server_.seen().size(), 3u);
}

TEST_F(ClientTest, NoRetryOnClientErrorsOrNonIdempotentCalls) {
  const std::vector<std::pair<int, std::string>> client_errors = {{400, "BadRequest"},
                                                                  {403, "Forbidden"},
                                                                  {404, "NotFound"},
                                                                  {409, "Conflict"},
                                                                  {422, "Invalid"}};
  auto client = make_client();
  for (const auto& [code, reason] : client_errors) {
    server_.script({{code, status(code, reason, "no")}, {200, kConfigMap}});
    const auto before = server_.seen().size();
    EXPECT_THROW(client.replace(kube::resources::configmaps, "ns1", "a", kube::json::object()),
                 kube::ApiError)
        << code;
    EXPECT_EQ(server_.seen().size(), before + 1) << code;
  }
  // POST (create, evict) is never retried, even on 503 or 429.
  server_.script({{503, status(503, "ServiceUnavailable", "x")}, {200, kConfigMap}});
  EXPECT_THROW(client.create(kube::resources::configmaps, "ns1", kube::json::object()),
               kube::ApiError);
  server_.script({{429,
                   status(429, "TooManyRequests",
                          "Cannot evict pod as it would violate the "
                          "pod's disruption budget."),
                   {{"Retry-After", "0"}}},
                  {200, "{}"}});
  const auto before = server_.seen().size();
  try {
    client.evict("ns1", "web-1");
    FAIL() << "no error";
  } catch (const kube::ApiError& e) {
    EXPECT_TRUE(e.is_too_many_requests());
    EXPECT_THAT(e.message(), HasSubstr("disruption budget"));
  }
  EXPECT_EQ(server_.seen().size(), before + 1);
}

TEST_F(ClientTest, UnauthorizedWithStaticTokenIsFinal) {
  server_.script({{401, status(401, "Unauthorized", "Unauthorized")}, {200, kConfigMap}});
  auto client = make_client();
  try {
    client.get(kube::resources::configmaps, "ns1", "a");
    FAIL() << "no error";
  } catch (const kube::ApiError& e) {
    EXPECT_TRUE(e.is_unauthorized());
  }
  EXPECT_EQ(server_.seen().size(), 1u);
}

TEST_F(ClientTest, RequestTimeout) {
  server_.script({{200, kConfigMap, {}, 2000ms}});
  kube::ClientOptions options;
  options.request_timeout = 1s;
  options.max_retries = 0;
  auto client = make_client(options);
  const auto begin = std::chrono::steady_clock::now();
  try {
    client.get(kube::resources::configmaps, "ns1", "a");
    FAIL() << "no timeout";
  } catch (const kube::TransportError& e) {
    EXPECT_THAT(e.what(), HasSubstr("get configmaps ns1/a"));
    EXPECT_THAT(e.what(), HasSubstr("timed out"));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1900ms);
}

TEST_F(ClientTest, ListMergesPages) {
  server_.script({
      {200,
       R"({"kind":"PodList","metadata":{"resourceVersion":"10","continue":"t+1/=","remainingItemCount":1},"items":[{"n":1}]})"},
      {200, R"({"kind":"PodList","metadata":{"resourceVersion":"11"},"items":[{"n":2}]})"},
  });
  auto client = make_client();
  kube::ListOptions options;
  options.limit = 1;
  options.resource_version = "5";
  options.label_selector = "app=web";
  const auto list = client.list(kube::resources::pods, "ns1", options);
  EXPECT_EQ(list["items"], kube::json::parse(R"([{"n":1},{"n":2}])"));
  EXPECT_EQ(list["metadata"], kube::json::parse(R"({"resourceVersion":"10"})"));
  auto seen = server_.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].uri,
            "/api/v1/namespaces/ns1/pods?labelSelector=app%3Dweb&limit=1&resourceVersion=5");
  // The continue token replaces resourceVersion, escaped.
  EXPECT_EQ(seen[1].uri,
            "/api/v1/namespaces/ns1/pods?labelSelector=app%3Dweb&limit=1&continue=t%2B1%2F%3D");
}

// Metadata-only lists and watches ask for PartialObjectMetadata (with plain
// JSON as the fallback), as client-go's metadata client does.
TEST_F(ClientTest, MetadataOnlyListsAndWatchesAskForPartialObjectMetadata) {
  server_.script({{200, R"({"kind":"PartialObjectMetadataList","metadata":{},"items":[]})"},
                  {200, ""},
                  {200, R"({"kind":"PodList","metadata":{},"items":[]})"}});
  auto client = make_client();
  kube::ListOptions list_options;
  list_options.metadata_only = true;
  client.list(kube::resources::deployments, "ns1", list_options);
  kube::WatchOptions watch_options;
  watch_options.metadata_only = true;
  client.watch(kube::resources::deployments, "ns1", watch_options,
               [](const kube::WatchEvent&) { return true; });
  client.list(kube::resources::pods, "ns1");
  auto seen = server_.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].headers["Accept"],
            "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json");
  EXPECT_EQ(seen[1].headers["Accept"],
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json");
  EXPECT_EQ(seen[2].headers["Accept"], "application/json");
}

TEST_F(ClientTest, GoneIsResourceExpired) {
  server_.script({{410, status(410, "Expired", "The provided continue parameter is too old")}});
  auto client = make_client();
  EXPECT_THROW(client.list(kube::resources::pods, "ns1"), kube::ResourceExpired);
}

TEST_F(ClientTest, WatchParsesEventsAndThrowsOnExpiredError) {
  const std::string stream =
      R"json({"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"5"}}})json"
      "\n"
      R"json({"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"6"}}})json"
      "\n"
      R"json({"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired",)json"
      R"json("message":"too old resource version: 1 (5)"}})json"
      "\n";
  server_.script({{200, stream}});
  auto client = make_client();
  kube::WatchOptions options;
  options.resource_version = "1";
  options.timeout_seconds = 30;
  std::vector<std::string> types;
  try {
    client.watch(kube::resources::pods, "ns1", options, [&](const kube::WatchEvent& event) {
      types.push_back(event.type);
      return true;
    });
    FAIL() << "no ResourceExpired";
  } catch (const kube::ResourceExpired& e) {
    EXPECT_EQ(e.reason(), "Expired");
    EXPECT_THAT(e.what(), HasSubstr("watch pods in ns1: Expired (410): too old resource version"));
  }
  EXPECT_THAT(types, ::testing::ElementsAre("ADDED", "BOOKMARK"));
  EXPECT_EQ(server_.seen()[0].uri,
            "/api/v1/namespaces/ns1/pods?watch=true&resourceVersion=1&allowWatchBookmarks=true&"
            "timeoutSeconds=30");
}

TEST_F(ClientTest, WatchEndsNormallyWhenTheStreamEnds) {
  server_.script({{200, R"({"type":"MODIFIED","object":{"a":1}})"
                        "\n\n"
                        R"({"type":"DELETED","object":{"a":2}})"}});  // last line unterminated
  auto client = make_client();
  std::vector<kube::WatchEvent> events;
  client.watch(kube::resources::pods, "", {}, [&](const kube::WatchEvent& event) {
    events.push_back(event);
    return true;
  });
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].object["a"], 1);
  EXPECT_EQ(events[1].type, "DELETED");
}

// Events of 10 KB, 100 KB and 1 MiB between small ones, streamed in pieces
// so that one line spans hundreds of reads. cpprestsdk's read_line() hung
// the caller-driven I/O on the first line over 16 KiB.
TEST_F(ClientTest, WatchDeliversLargeEventsThatSpanManyReads) {
  const std::vector<std::size_t> sizes = {10, 10'000, 100'000, 1'000'000, 10};
  std::string body;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    body += kube::json{{"type", "ADDED"},
                       {"object",
                        {{"metadata", {{"name", "o" + std::to_string(i)}}},
                         {"data", {{"v", std::string(sizes[i], 'x')}}}}}}
                .dump() +
            "\n";
  }
  Answer answer{200, body};
  answer.piece = 1000;
  server_.script({answer});
  auto client = make_client();
  std::vector<std::size_t> seen;
  auto watched = std::async(std::launch::async, [&] {
    client.watch(kube::resources::configmaps, "ns1", {}, [&](const kube::WatchEvent& event) {
      seen.push_back(event.object["data"]["v"].get<std::string>().size());
      return true;
    });
  });
  if (watched.wait_for(60s) != std::future_status::ready) {
    std::fprintf(stderr, "the watch hung after %zu of %zu events\n", seen.size(), sizes.size());
    std::abort();  // the future would wait for the hung watch
  }
  watched.get();
  EXPECT_EQ(seen, sizes);
}

TEST_F(ClientTest, WatchRejectedUpFrontThrowsTheStatus) {
  server_.script({{403, status(403, "Forbidden", "pods is forbidden: User \"x\" cannot watch")},
                  {410, status(410, "Gone", "too old")}});
  auto client = make_client();
  const auto ignore = [](const kube::WatchEvent&) { return true; };
  try {
    client.watch(kube::resources::pods, "ns1", {}, ignore);
    FAIL() << "no error";
  } catch (const kube::ApiError& e) {
    EXPECT_TRUE(e.is_forbidden());
    EXPECT_THAT(e.message(), HasSubstr("cannot watch"));
  }
  EXPECT_THROW(client.watch(kube::resources::pods, "ns1", {}, ignore), kube::ResourceExpired);
}

// A server that neither answers nor ends the watch at timeoutSeconds (a
// half-open connection looks the same): the watch is cut watch_end_grace
// after it, so that the caller watches again, instead of waiting for
// cpprestsdk's own timeout of a day.
TEST_F(ClientTest, WatchTheServerDoesNotEndIsCutAfterTheGrace) {
  server_.script({{200, "", {}, 3500ms}});
  kube::ClientOptions options;
  options.watch_end_grace = 1s;
  auto client = make_client(options);
  kube::WatchOptions watch;
  watch.timeout_seconds = 1;
  const auto begin = std::chrono::steady_clock::now();
  try {
    client.watch(kube::resources::pods, "ns1", watch, [](const kube::WatchEvent&) { return true; });
    FAIL() << "the watch ended normally";
  } catch (const kube::TransportError& e) {
    EXPECT_THAT(e.what(), HasSubstr("watch pods in ns1: the server did not end it 1 s after "
                                    "timeoutSeconds (1 s)"));
  }
  const auto took = std::chrono::steady_clock::now() - begin;
  EXPECT_GE(took, 1900ms);
  EXPECT_LT(took, 3s);
}

TEST_F(ClientTest, NamespacedCallWithoutNamespaceIsRejected) {
  auto client = make_client();
  EXPECT_THROW(client.get(kube::resources::configmaps, "", "a"), kube::Error);
  EXPECT_TRUE(server_.seen().empty());
}

// --- cancellation and deadlines ---------------------------------------------

using Clock = std::chrono::steady_clock;

// Cancels `token` after `delay`, from a thread of its own.
std::future<void> cancel_after(kube::CancelToken token, std::chrono::milliseconds delay) {
  return std::async(std::launch::async, [token, delay]() mutable {
    std::this_thread::sleep_for(delay);
    token.cancel();
  });
}

class CancelTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { use_caller_driven_io(); }

  // Default timeouts and retries: only the context can end a call early.
  kube::Client make_client(const std::string& url, kube::ClientOptions options = {}) {
    kube::Config config;
    config.server = url;
    config.token = "secret-token";
    return kube::Client(config, options);
  }
};

TEST_F(CancelTest, CancelFromAnotherThreadEndsAGetTheServerNeverAnswers) {
  StalledServer server;
  auto client = make_client(server.url());
  kube::CancelToken token;
  auto canceller = cancel_after(token, 300ms);
  const auto begin = Clock::now();
  try {
    client.get(kube::resources::configmaps, "ns1", "a", {}, token);
    FAIL() << "no Cancelled";
  } catch (const kube::Cancelled& e) {
    EXPECT_FALSE(e.deadline_exceeded());
    EXPECT_THAT(e.what(), HasSubstr("get configmaps ns1/a: cancelled"));
  }
  const auto late = Clock::now() - begin - 300ms;
  std::printf("cancel -> get() threw Cancelled after %.1f ms\n",
              std::chrono::duration<double, std::milli>(late).count());
  EXPECT_LT(late, 100ms);
  EXPECT_EQ(server.accepted(), 1);  // no retry after the cancel
}

TEST_F(CancelTest, DeadlineEndsAGetTheServerNeverAnswers) {
  StalledServer server;
  auto client = make_client(server.url());
  const auto begin = Clock::now();
  try {
    client.get(kube::resources::configmaps, "ns1", "a", {}, kube::Context().with_timeout(500ms));
    FAIL() << "no Cancelled";
  } catch (const kube::Cancelled& e) {
    EXPECT_TRUE(e.deadline_exceeded());
    EXPECT_THAT(e.what(), HasSubstr("get configmaps ns1/a: deadline exceeded"));
  }
  const auto took = Clock::now() - begin;
  std::printf("deadline 500 ms -> get() threw after %.1f ms\n",
              std::chrono::duration<double, std::milli>(took).count());
  EXPECT_GE(took, 490ms);
  EXPECT_LT(took, 650ms);
}

TEST_F(CancelTest, CancelledContextSendsNothing) {
  StalledServer server;
  auto client = make_client(server.url());
  kube::CancelToken token;
  token.cancel();
  EXPECT_THROW(client.list(kube::resources::pods, "ns1", {}, token), kube::Cancelled);
  EXPECT_THROW(client.replace(kube::resources::configmaps, "ns1", "a", kube::json::object(), {},
                              kube::Context().with_deadline(Clock::now() - 1ms)),
               kube::Cancelled);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(server.accepted(), 0);
}

TEST_F(CancelTest, CancelEndsARetryWait) {
  FakeApiServer server;
  server.script({{503, "busy"}, {503, "busy"}, {503, "busy"}, {503, "busy"}, {503, "busy"}});
  kube::ClientOptions options;
  options.max_retries = 50;  // back-off grows to its 10 s cap
  auto client = make_client(server.url(), options);
  kube::CancelToken token;
  auto canceller = cancel_after(token, 1500ms);
  const auto begin = Clock::now();
  EXPECT_THROW(client.get(kube::resources::configmaps, "ns1", "a", {}, token), kube::Cancelled);
  EXPECT_LT(Clock::now() - begin, 1500ms + 100ms);
}

TEST_F(CancelTest, RetryAfterIsCapped) {
  FakeApiServer server;
  server.script({{429, status(429, "TooManyRequests", "slow down"), {{"Retry-After", "3600"}}},
                 {200, kConfigMap}});
  kube::ClientOptions options;
  options.max_retry_after = 1s;  // 10 s by default; shorter here to keep the test fast
  auto client = make_client(server.url(), options);
  const auto begin = Clock::now();
  client.get(kube::resources::configmaps, "ns1", "a");
  const auto took = Clock::now() - begin;
  EXPECT_GE(took, 950ms);
  EXPECT_LT(took, 2s);
  EXPECT_EQ(server.seen().size(), 2u);
}

TEST_F(CancelTest, RetryAfterPastTheDeadlineGivesUpAtOnceWithTheServersAnswer) {
  FakeApiServer server;
  server.script({{429, status(429, "TooManyRequests", "slow down"), {{"Retry-After", "5"}}},
                 {200, kConfigMap}});
  auto client = make_client(server.url());
  const auto begin = Clock::now();
  try {
    client.get(kube::resources::configmaps, "ns1", "a", {}, kube::Context().with_timeout(2s));
    FAIL() << "no error";
  } catch (const kube::ApiError& e) {
    EXPECT_TRUE(e.is_too_many_requests());
  }
  EXPECT_LT(Clock::now() - begin, 500ms);
  EXPECT_EQ(server.seen().size(), 1u);
}

TEST_F(CancelTest, CancelEndsARateLimitWait) {
  FakeApiServer server;
  server.script({{200, kConfigMap}, {200, kConfigMap}});
  kube::ClientOptions options;
  options.qps = 0.1;  // after the first call, one every 10 s
  options.burst = 1;
  auto client = make_client(server.url(), options);
  client.get(kube::resources::configmaps, "ns1", "a");
  kube::CancelToken token;
  auto canceller = cancel_after(token, 200ms);
  const auto begin = Clock::now();
  EXPECT_THROW(client.get(kube::resources::configmaps, "ns1", "a", {}, token), kube::Cancelled);
  EXPECT_LT(Clock::now() - begin, 300ms);
  EXPECT_EQ(server.seen().size(), 1u);
}

TEST_F(CancelTest, WatchOfAStalledServerEndsQuietlyOnCancel) {
  StalledServer server;
  auto client = make_client(server.url());
  kube::CancelToken token;
  auto canceller = cancel_after(token, 200ms);
  const auto begin = Clock::now();
  client.watch(
      kube::resources::pods, "ns1", {}, [](const kube::WatchEvent&) { return true; }, token);
  EXPECT_LT(Clock::now() - begin, 300ms);
}

TEST(CancelToken, CallbacksRunOnceAndCanBeRemoved) {
  kube::CancelToken token;
  int ran = 0;
  const auto id = token.add_callback([&] { ran += 1; });
  const auto removed = token.add_callback([&] { ran += 100; });
  token.remove_callback(removed);
  kube::CancelToken copy = token;  // copies share the state
  copy.cancel();
  token.cancel();
  EXPECT_TRUE(token.cancelled());
  EXPECT_EQ(ran, 1);
  EXPECT_NE(id, 0u);
  // Registering after cancel runs the callback at once.
  EXPECT_EQ(token.add_callback([&] { ran += 10; }), 0u);
  EXPECT_EQ(ran, 11);
}

}  // namespace
