// kube::Client against a real API server (the one in KUBECONFIG): the calls,
// their error semantics, watches, pagination, keep-alive and metrics.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cpprest/http_client.h>
#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "kube/client.h"
#include "kube_fixtures/test_cluster.h"

namespace {

using kube_it::NamespaceSuite;
using ::testing::HasSubstr;
using namespace std::chrono_literals;
namespace res = kube::resources;

class KubeClient : public NamespaceSuite {};

std::string rv(const kube::json& object) {
  return object["metadata"]["resourceVersion"].get<std::string>();
}

kube::ListOptions list_options(std::string label, std::string field = {}, int limit = 500,
                               std::string resource_version = {}) {
  kube::ListOptions options;
  options.label_selector = std::move(label);
  options.field_selector = std::move(field);
  options.limit = limit;
  options.resource_version = std::move(resource_version);
  return options;
}

template <typename E, typename F>
E thrown(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e;
  }
  throw std::runtime_error("expected exception not thrown");
}

TEST_F(KubeClient, ConfigMapCrud) {
  auto created = admin().create(res::configmaps, ns(), configmap("crud", {{"k", "v1"}}));
  EXPECT_EQ(created["data"]["k"], "v1");
  // The User-Agent names the field manager of a plain create.
  EXPECT_EQ(created["metadata"]["managedFields"][0]["manager"], "kube-it");

  EXPECT_TRUE(thrown<kube::ApiError>([&] {
                admin().create(res::configmaps, ns(), configmap("crud"));
              }).is_already_exists());

  auto got = admin().get(res::configmaps, ns(), "crud");
  EXPECT_EQ(got["metadata"]["uid"], created["metadata"]["uid"]);

  got["data"]["k"] = "v2";
  auto replaced = admin().replace(res::configmaps, ns(), "crud", got);
  EXPECT_EQ(replaced["data"]["k"], "v2");
  EXPECT_NE(rv(replaced), rv(created));

  auto patched = admin().merge_patch(res::configmaps, ns(), "crud", {{"data", {{"extra", "x"}}}});
  EXPECT_EQ(patched["data"]["k"], "v2");
  EXPECT_EQ(patched["data"]["extra"], "x");

  auto listed = admin().list(res::configmaps, ns(), list_options("", "metadata.name=crud"));
  ASSERT_EQ(listed["items"].size(), 1u);
  EXPECT_EQ(listed["items"][0]["data"]["extra"], "x");
  EXPECT_EQ(listed["kind"], "ConfigMapList");
  EXPECT_FALSE(listed["metadata"].contains("continue"));

  admin().remove(res::configmaps, ns(), "crud");
  const auto missing = thrown<kube::ApiError>([&] { admin().get(res::configmaps, ns(), "crud"); });
  EXPECT_TRUE(missing.is_not_found());
  EXPECT_EQ(missing.reason(), "NotFound");
  EXPECT_THAT(missing.what(), HasSubstr("get configmaps " + ns() + "/crud: NotFound (404)"));
  EXPECT_THAT(missing.message(), HasSubstr("configmaps \"crud\" not found"));
  EXPECT_NO_THROW(admin().remove(res::configmaps, ns(), "crud"));  // already gone: fine
}

TEST_F(KubeClient, InvalidObjectIsInvalid) {
  const auto invalid = thrown<kube::ApiError>(
      [&] { admin().create(res::configmaps, ns(), configmap("Not_A_Valid_Name")); });
  EXPECT_TRUE(invalid.is_invalid());
  EXPECT_EQ(invalid.reason(), "Invalid");
  EXPECT_THAT(invalid.what(), HasSubstr("create configmaps " + ns() + "/Not_A_Valid_Name"));
}

TEST_F(KubeClient, ServerSideApplyTwiceChangesNothing) {
  const auto body = configmap("ssa", {{"a", "1"}});
  const auto first = admin().apply(res::configmaps, ns(), "ssa", body);
  const auto second = admin().apply(res::configmaps, ns(), "ssa", body);
  EXPECT_EQ(rv(second), rv(first));  // no change, no write
  const auto& managed = second["metadata"]["managedFields"][0];
  EXPECT_EQ(managed["manager"], "kube-it");
  EXPECT_EQ(managed["operation"], "Apply");

  const auto changed = admin().apply(res::configmaps, ns(), "ssa", configmap("ssa", {{"a", "2"}}));
  EXPECT_NE(rv(changed), rv(second));
  EXPECT_EQ(changed["data"]["a"], "2");

  // Another manager taking the field without force conflicts; with force it wins.
  kube::ApplyOptions other;
  other.field_manager = "someone-else";
  other.force = false;
  const auto conflict = thrown<kube::ApiError>([&] {
    admin().apply(res::configmaps, ns(), "ssa", configmap("ssa", {{"a", "3"}}), other);
  });
  EXPECT_TRUE(conflict.is_conflict());
  other.force = true;
  EXPECT_EQ(admin().apply(res::configmaps, ns(), "ssa", configmap("ssa", {{"a", "3"}}),
                          other)["data"]["a"],
            "3");
}

TEST_F(KubeClient, ReplaceWithStaleResourceVersionIsConflict) {
  const auto original = admin().create(res::configmaps, ns(), configmap("stale", {{"k", "1"}}));
  admin().merge_patch(res::configmaps, ns(), "stale", {{"data", {{"k", "2"}}}});
  auto stale = original;
  stale["data"]["k"] = "3";
  const auto conflict =
      thrown<kube::ApiError>([&] { admin().replace(res::configmaps, ns(), "stale", stale); });
  EXPECT_TRUE(conflict.is_conflict());
  EXPECT_EQ(conflict.code(), 409);
  EXPECT_THAT(conflict.message(), HasSubstr("the object has been modified"));
  EXPECT_EQ(admin().get(res::configmaps, ns(), "stale")["data"]["k"], "2");
}

TEST_F(KubeClient, DeletePreconditionsAndOptions) {
  const auto created = admin().create(res::configmaps, ns(), configmap("precondition"));
  kube::DeleteOptions wrong_uid;
  wrong_uid.precondition_uid = "00000000-0000-0000-0000-000000000000";
  EXPECT_TRUE(thrown<kube::ApiError>([&] {
                admin().remove(res::configmaps, ns(), "precondition", wrong_uid);
              }).is_conflict());
  kube::DeleteOptions right;
  right.precondition_uid = created["metadata"]["uid"].get<std::string>();
  right.precondition_resource_version = rv(created);
  right.propagation_policy = "Background";
  right.grace_period_seconds = 0;
  admin().remove(res::configmaps, ns(), "precondition", right);
  EXPECT_TRUE(thrown<kube::ApiError>([&] {
                admin().get(res::configmaps, ns(), "precondition");
              }).is_not_found());
}

TEST_F(KubeClient, ListFollowsContinueOverManyPages) {
  constexpr int kCount = 520;
  // Four writers at once: the Client is shared between threads.
  std::vector<std::thread> writers;
  for (int w = 0; w < 4; ++w) {
    writers.emplace_back([w, this] {
      for (int i = w; i < kCount; i += 4) {
        auto object = configmap("page-" + std::to_string(i));
        object["metadata"]["labels"] = {{"suite", "pagination"}};
        admin().create(res::configmaps, ns(), object);
      }
    });
  }
  for (auto& writer : writers) writer.join();

  std::atomic<int> list_calls{0};
  kube::ClientOptions options;
  options.qps = 0;
  options.on_request = [&](const kube::RequestInfo& info) {
    if (info.verb == "list") ++list_calls;
  };
  kube::Client client(config(), options);
  const auto all = client.list(res::configmaps, ns(), list_options("suite=pagination", "", 100));
  EXPECT_EQ(all["items"].size(), static_cast<std::size_t>(kCount));
  EXPECT_EQ(list_calls.load(), 6);  // 100 per page
  std::set<std::string> names;
  for (const auto& item : all["items"]) names.insert(item["metadata"]["name"].get<std::string>());
  EXPECT_EQ(names.size(), static_cast<std::size_t>(kCount));  // no page twice
  EXPECT_FALSE(all["metadata"]["resourceVersion"].get<std::string>().empty());

  list_calls = 0;
  EXPECT_EQ(client.list(res::configmaps, ns(), list_options("suite=pagination"))["items"].size(),
            static_cast<std::size_t>(kCount));
  EXPECT_EQ(list_calls.load(), 2);  // the default page of 500
  // Selector syntax that needs escaping in the query string.
  EXPECT_EQ(
      client.list(res::configmaps, ns(), list_options("suite in (pagination,x),suite!=y"))["items"]
          .size(),
      static_cast<std::size_t>(kCount));
}

TEST_F(KubeClient, WatchSeesCreateUpdateDeleteInOrderAndBookmarks) {
  const auto start_rv =
      admin().list(res::configmaps, ns(), list_options("", "", 1))["metadata"]["resourceVersion"];
  auto watched = configmap("watched", {{"step", "1"}});
  watched["metadata"]["labels"] = {{"watch", "ordered"}};
  admin().create(res::configmaps, ns(), watched);
  admin().merge_patch(res::configmaps, ns(), "watched", {{"data", {{"step", "2"}}}});
  admin().remove(res::configmaps, ns(), "watched");

  kube::WatchOptions options;
  options.resource_version = start_rv;
  options.label_selector = "watch=ordered";
  // The server sends a bookmark 2 s before it ends the watch, if the
  // resource's resourceVersion moved past what this watch has seen.
  options.timeout_seconds = 6;
  std::vector<std::string> types;
  std::vector<std::string> steps;
  std::vector<std::string> bookmark_rvs;
  std::string unrelated_rv;
  std::thread unrelated_write;
  const auto begin = std::chrono::steady_clock::now();
  admin().watch(res::configmaps, ns(), options, [&](const kube::WatchEvent& event) {
    if (event.type == "BOOKMARK") {
      bookmark_rvs.push_back(event.object["metadata"]["resourceVersion"].get<std::string>());
      return true;
    }
    types.push_back(event.type);
    steps.push_back(event.object["data"]["step"].get<std::string>());
    if (event.type == "DELETED") {
      // A write this watch does not select: only a bookmark can tell about it.
      unrelated_write = std::thread([&] {
        unrelated_rv = rv(admin().create(res::configmaps, ns(), configmap("unrelated")));
      });
    }
    return true;
  });
  // Returned normally when the server closed the watch after timeoutSeconds.
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 15s);
  if (unrelated_write.joinable()) unrelated_write.join();
  EXPECT_THAT(types, ::testing::ElementsAre("ADDED", "MODIFIED", "DELETED"));
  EXPECT_THAT(steps, ::testing::ElementsAre("1", "2", "2"));
  ASSERT_FALSE(bookmark_rvs.empty());
  EXPECT_GE(std::stoull(bookmark_rvs.back()), std::stoull(unrelated_rv));
}

// One event of ordinary size (about 10 KB) once blinded every watch of the
// process: cpprestsdk's read_line() blocks on a flush for lines over 16 KiB.
TEST_F(KubeClient, WatchDeliversSmallAndLargeObjectsInOrder) {
  const auto start_rv =
      admin().list(res::configmaps, ns(), list_options("", "", 1))["metadata"]["resourceVersion"];
  const std::vector<std::size_t> sizes = {10, 10'000, 100'000, 1'000'000, 10};
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    auto object = configmap("sized-" + std::to_string(i), {{"v", std::string(sizes[i], 'x')}});
    object["metadata"]["labels"] = {{"watch", "sized"}};
    admin().create(res::configmaps, ns(), object);
  }
  kube::WatchOptions options;
  options.resource_version = start_rv;
  options.label_selector = "watch=sized";
  options.timeout_seconds = 30;
  std::vector<std::size_t> seen;
  admin().watch(res::configmaps, ns(), options, [&](const kube::WatchEvent& event) {
    if (event.type != "ADDED") return true;
    seen.push_back(event.object["data"]["v"].get<std::string>().size());
    return seen.size() < sizes.size();
  });
  EXPECT_EQ(seen, sizes);

  // The same objects through a list of pages of two: bodies of ~2 MB.
  const auto listed = admin().list(res::configmaps, ns(), list_options("watch=sized", "", 2));
  std::vector<std::size_t> listed_sizes;
  for (const auto& item : listed["items"]) {
    listed_sizes.push_back(item["data"]["v"].get<std::string>().size());
  }
  std::sort(listed_sizes.begin(), listed_sizes.end());
  auto sorted = sizes;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(listed_sizes, sorted);
}

TEST_F(KubeClient, WatchDeliversEventsAsTheyHappenAndCancelsPromptly) {
  const auto start_rv =
      admin().list(res::configmaps, ns(), list_options("", "", 1))["metadata"]["resourceVersion"];
  kube::CancelToken cancel;
  std::mutex mu;
  std::vector<std::pair<std::string, std::chrono::steady_clock::time_point>> seen;
  std::atomic<bool> returned{false};
  std::thread watcher([&] {
    kube::WatchOptions options;
    options.resource_version = start_rv;
    options.timeout_seconds = 300;
    admin().watch(
        res::configmaps, ns(), options,
        [&](const kube::WatchEvent& event) {
          std::lock_guard lock(mu);
          if (event.type != "BOOKMARK") {
            seen.emplace_back(event.object["metadata"]["name"].get<std::string>(),
                              std::chrono::steady_clock::now());
          }
          return true;
        },
        cancel);
    returned = true;
  });
  std::this_thread::sleep_for(300ms);
  const auto created_at = std::chrono::steady_clock::now();
  admin().create(res::configmaps, ns(), configmap("live"));
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return !seen.empty();
  }));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen[0].first, "live");
    // Chunked lines are handed out as they arrive, not when the stream ends.
    EXPECT_LT(seen[0].second - created_at, 2s);
  }
  const auto cancelled_at = std::chrono::steady_clock::now();
  cancel.cancel();
  watcher.join();
  EXPECT_TRUE(returned);
  EXPECT_LT(std::chrono::steady_clock::now() - cancelled_at, 1s);

  // A token cancelled beforehand: the watch returns at once.
  const auto begin = std::chrono::steady_clock::now();
  admin().watch(
      res::configmaps, ns(), {}, [](const kube::WatchEvent&) { return true; }, cancel);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 1s);
}

TEST_F(KubeClient, WatchStopsWhenTheHandlerSaysSo) {
  admin().create(res::configmaps, ns(), configmap("stop-1"));
  admin().create(res::configmaps, ns(), configmap("stop-2"));
  int events = 0;
  kube::WatchOptions options;  // no resourceVersion: starts with ADDED for what exists
  options.resource_version = "";
  const auto begin = std::chrono::steady_clock::now();
  admin().watch(res::configmaps, ns(), options, [&](const kube::WatchEvent&) {
    ++events;
    return false;
  });
  EXPECT_EQ(events, 1);
  EXPECT_LT(std::chrono::steady_clock::now() - begin, 5s);
  // The client still works (the aborted connection was not pooled half-read).
  EXPECT_NO_THROW(admin().get(res::configmaps, ns(), "stop-1"));
}

// Compacts etcd up to its current revision through etcd's JSON gateway (no
// etcdctl needed). The API server does the same every five minutes.
void compact_etcd() {
  const char* url = std::getenv("SRERACHA_ETCD_URL");
  const char* port = std::getenv("SRERACHA_ETCD_PORT");
  const std::string etcd = url ? url : "http://127.0.0.1:" + std::string(port ? port : "32379");
  web::http::client::http_client client(etcd);
  const auto range = client
                         .request(web::http::methods::POST, "/v3/kv/range", R"({"key":"AA=="})",
                                  "application/json")
                         .get()
                         .extract_utf8string(true)
                         .get();
  const auto revision = kube::json::parse(range)["header"]["revision"].get<std::string>();
  const auto response =
      client
          .request(web::http::methods::POST, "/v3/kv/compaction",
                   R"({"revision":")" + revision + R"(","physical":true})", "application/json")
          .get();
  ASSERT_EQ(response.status_code(), 200) << response.extract_utf8string(true).get();
}

TEST_F(KubeClient, ListAtACompactedResourceVersionIsResourceExpired) {
  for (int i = 0; i < 3; ++i)
    admin().create(res::configmaps, ns(), configmap("compacted-" + std::to_string(i)));
  ASSERT_NO_FATAL_FAILURE(compact_etcd());
  // A paged list at resourceVersion 2 means exactly revision 2: older than
  // the watch cache, so etcd is asked, and etcd has compacted it away.
  const auto expired = thrown<kube::ResourceExpired>(
      [&] { admin().list(res::configmaps, ns(), list_options("", "", 10, "2")); });
  EXPECT_EQ(expired.code(), 410);
  EXPECT_EQ(expired.reason(), "Expired");
  EXPECT_THAT(expired.what(), HasSubstr("list configmaps in " + ns() + ": Expired (410)"));
}

TEST_F(KubeClient, WatchFromBeforeTheWatchCacheIsResourceExpired) {
  // A resource that did not exist at `before`: its watch cache starts later,
  // so the API server cannot replay events from `before` and says so with an
  // ERROR event carrying a 410 Status.
  const auto before = rv(admin().create(res::configmaps, ns(), configmap("before-crd")));
  const std::string group = ns() + ".kube-it.sreracha.io";
  const std::string crd_name = "gadgets." + group;
  admin().create(
      res::customresourcedefinitions, "",
      {{"apiVersion", "apiextensions.k8s.io/v1"},
       {"kind", "CustomResourceDefinition"},
       {"metadata", {{"name", crd_name}}},
       {"spec",
        {{"group", group},
         {"scope", "Namespaced"},
         {"names", {{"plural", "gadgets"}, {"singular", "gadget"}, {"kind", "Gadget"}}},
         {"versions",
          {{{"name", "v1"},
            {"served", true},
            {"storage", true},
            {"schema",
             {{"openAPIV3Schema",
               {{"type", "object"}, {"x-kubernetes-preserve-unknown-fields", true}}}}}}}}}}});
  struct RemoveCrd {
    std::string name;
    ~RemoveCrd() { admin().remove(kube::resources::customresourcedefinitions, "", name); }
  } remove_crd{crd_name};

  const kube::Resource gadgets{group, "v1", "gadgets"};
  kube::WatchOptions options;
  options.resource_version = before;
  options.timeout_seconds = 10;
  std::optional<kube::ResourceExpired> expired;
  // Until the CRD is established and its cache ready the server answers 404
  // or 429; then the watch fails with 410.
  ASSERT_TRUE(eventually([&] {
    try {
      admin().watch(gadgets, ns(), options, [](const kube::WatchEvent&) { return true; });
    } catch (const kube::ResourceExpired& e) {
      expired = e;
      return true;
    } catch (const kube::ApiError& e) {
      if (!e.is_not_found() && !e.is_too_many_requests()) throw;
    }
    return false;
  }));
  EXPECT_EQ(expired->code(), 410);
  EXPECT_EQ(expired->reason(), "Expired");
  EXPECT_THAT(expired->message(), HasSubstr("too old resource version"));
  EXPECT_THAT(expired->what(), HasSubstr("watch gadgets in " + ns()));
}

TEST_F(KubeClient, StatusAndScaleSubresources) {
  const kube::json deployment = {
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", {{"name", "scaled"}, {"namespace", ns()}}},
      {"spec",
       {{"replicas", 1},
        {"selector", {{"matchLabels", {{"app", "scaled"}}}}},
        {"template",
         {{"metadata", {{"labels", {{"app", "scaled"}}}}},
          {"spec", {{"containers", {{{"name", "app"}, {"image", "example.invalid/app:1"}}}}}}}}}}};
  admin().apply(res::deployments, ns(), "scaled", deployment);

  auto scale = admin().get(res::deployments, ns(), "scaled", "scale");
  EXPECT_EQ(scale["kind"], "Scale");
  EXPECT_EQ(scale["spec"]["replicas"], 1);
  scale["spec"]["replicas"] = 3;
  // The deployment controller writes status meanwhile: update unconditionally.
  scale["metadata"].erase("resourceVersion");
  admin().replace(res::deployments, ns(), "scaled", scale, "scale");
  EXPECT_EQ(admin().get(res::deployments, ns(), "scaled")["spec"]["replicas"], 3);
  admin().merge_patch(res::deployments, ns(), "scaled", {{"spec", {{"replicas", 2}}}}, "scale");
  EXPECT_EQ(admin().get(res::deployments, ns(), "scaled", "scale")["spec"]["replicas"], 2);

  // The status subresource takes status and ignores spec.
  const auto patched = admin().merge_patch(res::deployments, ns(), "scaled",
                                           {{"spec", {{"replicas", 9}}},
                                            {"status",
                                             {{"conditions",
                                               {{{"type", "SrerachaTest"},
                                                 {"status", "True"},
                                                 {"reason", "Test"},
                                                 {"message", "m"}}}}}}},
                                           "status");
  EXPECT_EQ(patched["spec"]["replicas"], 2);
  bool found = false;
  for (const auto& condition : patched["status"]["conditions"]) {
    found = found || condition["type"] == "SrerachaTest";
  }
  EXPECT_TRUE(found);
}

TEST_F(KubeClient, EvictionHonoursDisruptionBudgets) {
  // Pods need the namespace's default ServiceAccount, made by a controller.
  ASSERT_TRUE(eventually([&] {
    try {
      admin().get(res::serviceaccounts, ns(), "default");
      return true;
    } catch (const kube::ApiError&) {
      return false;
    }
  }));
  auto pod = [&](const std::string& name, const std::string& app) {
    return kube::json{
        {"apiVersion", "v1"},
        {"kind", "Pod"},
        {"metadata", {{"name", name}, {"namespace", ns()}, {"labels", {{"app", app}}}}},
        {"spec", {{"containers", {{{"name", "app"}, {"image", "example.invalid/app:1"}}}}}}};
  };
  admin().create(res::pods, ns(), pod("guarded", "guarded"));
  admin().create(res::pods, ns(), pod("free", "free"));
  // Pending pods may always be evicted; kwok makes scheduled pods Running.
  for (const char* name : {"guarded", "free"}) {
    ASSERT_TRUE(eventually([&] {
      return admin().get(res::pods, ns(), name)["status"].value("phase", "") == "Running";
    })) << name
        << " never ran: is kwok running?";
  }
  admin().create(
      res::poddisruptionbudgets, ns(),
      {{"apiVersion", "policy/v1"},
       {"kind", "PodDisruptionBudget"},
       {"metadata", {{"name", "guard"}, {"namespace", ns()}}},
       {"spec", {{"minAvailable", 1}, {"selector", {{"matchLabels", {{"app", "guarded"}}}}}}}});

  const auto refused = thrown<kube::ApiError>([&] { admin().evict(ns(), "guarded"); });
  EXPECT_TRUE(refused.is_too_many_requests());
  EXPECT_THAT(refused.what(), HasSubstr("evict pods " + ns() + "/guarded"));

  kube::DeleteOptions now;
  now.grace_period_seconds = 0;
  admin().evict(ns(), "free", now);
  EXPECT_TRUE(eventually([&] {
    try {
      const auto got = admin().get(res::pods, ns(), "free");
      return got["metadata"].contains("deletionTimestamp");
    } catch (const kube::ApiError& e) {
      return e.is_not_found();
    }
  }));
  EXPECT_NO_THROW(admin().evict(ns(), "never-existed"));  // gone already: fine
}

TEST_F(KubeClient, ConnectionsAreReusedAndRequestsMeasured) {
  admin().create(res::configmaps, ns(), configmap("keepalive"));
  std::mutex mu;
  std::vector<kube::RequestInfo> infos;
  kube::ClientOptions options;
  options.qps = 0;
  options.on_request = [&](const kube::RequestInfo& info) {
    std::lock_guard lock(mu);
    infos.push_back(info);
  };
  kube::Client client(config(), options);
  for (int i = 0; i < 50; ++i) client.get(res::configmaps, ns(), "keepalive");
  // One TLS handshake serves many calls. cpprestsdk hands a connection back
  // to its pool a moment after the body completes, so a call that follows at
  // once sometimes opens a second one; from then on the two are reused.
  EXPECT_LE(client.connections_opened(), 2u);
  ASSERT_EQ(infos.size(), 50u);
  for (const auto& info : infos) {
    EXPECT_EQ(info.method, "GET");
    EXPECT_EQ(info.verb, "get");
    EXPECT_EQ(info.code, 200);
    EXPECT_EQ(info.host, web::uri(config().server).host());
    EXPECT_GT(info.latency.count(), 0);
  }
  EXPECT_THROW(client.get(res::configmaps, ns(), "nope"), kube::ApiError);
  EXPECT_EQ(infos.back().code, 404);
}

// An informer lists, then watches from what the list returned. Both go
// through one connection pool, so the watch takes the connection the list
// has just handed back: informers starting together open one connection
// each, not one for the list and one for the watch.
TEST_F(KubeClient, AWatchTakesTheConnectionItsListUsed) {
  admin().create(res::configmaps, ns(), configmap("pooled"));
  kube::ClientOptions options;
  options.qps = 0;
  kube::Client client(config(), options);
  constexpr int kInformers = 6;
  std::vector<std::thread> informers;
  for (int i = 0; i < kInformers; ++i) {
    informers.emplace_back([&, i] {
      const auto list = client.list(res::configmaps, ns());
      kube::WatchOptions watch;
      watch.resource_version = list["metadata"]["resourceVersion"].get<std::string>();
      watch.timeout_seconds = 1 + i % 3;  // as informers do, not all alike
      client.watch(res::configmaps, ns(), watch, [](const kube::WatchEvent&) { return true; });
    });
  }
  for (auto& informer : informers) informer.join();
  // With a pool per timeout, the lists' 6 stayed idle beside the watches' 6.
  // A connection is handed back a moment after its body ends, so a watch
  // may still open one of its own now and then.
  EXPECT_GE(client.connections_opened(), 1u);
  EXPECT_LE(client.connections_opened(), kInformers + 2u);
}

TEST_F(KubeClient, RateLimitSpacesRequests) {
  admin().create(res::configmaps, ns(), configmap("limited"));
  kube::ClientOptions options;
  options.qps = 20;
  options.burst = 1;
  kube::Client client(config(), options);
  const auto begin = std::chrono::steady_clock::now();
  for (int i = 0; i < 11; ++i) client.get(res::configmaps, ns(), "limited");
  EXPECT_GE(std::chrono::steady_clock::now() - begin, 480ms);  // 10 waits of 50 ms
}

TEST_F(KubeClient, TlsServerNameIsVerified) {
  // The local API server's certificate is for 127.0.0.1, localhost and the
  // in-cluster names; dial 127.0.0.1 but verify "kubernetes".
  auto config_with_name = config();
  config_with_name.tls_server_name = "kubernetes";
  kube::Client good(config_with_name);
  EXPECT_NO_THROW(good.get(res::namespaces, "", "default"));

  config_with_name.tls_server_name = "not-the-apiserver.example";
  kube::ClientOptions options;
  options.max_retries = 0;
  kube::Client bad(config_with_name, options);
  EXPECT_THROW(bad.get(res::namespaces, "", "default"), kube::TransportError);
}

TEST_F(KubeClient, UntrustedServerIsATransportError) {
  auto untrusted = config();
  untrusted.ca_pem.clear();  // the system store does not know the local CA
  kube::ClientOptions options;
  options.max_retries = 0;
  kube::Client client(untrusted, options);
  const auto error =
      thrown<kube::TransportError>([&] { client.get(res::namespaces, "", "default"); });
  EXPECT_THAT(error.what(), HasSubstr("get namespaces default"));

  // With insecure-skip-tls-verify the same client config connects.
  untrusted.insecure_skip_tls_verify = true;
  kube::Client insecure(untrusted, options);
  EXPECT_NO_THROW(insecure.get(res::namespaces, "", "default"));
}

TEST_F(KubeClient, ConnectionRefusedIsRetriedThenATransportError) {
  auto nowhere = config();
  nowhere.server = "https://127.0.0.1:1";
  kube::ClientOptions options;
  options.max_retries = 2;
  std::atomic<int> attempts{0};
  options.on_request = [&](const kube::RequestInfo& info) {
    EXPECT_EQ(info.code, 0);
    ++attempts;
  };
  kube::Client client(nowhere, options);
  const auto error = thrown<kube::TransportError>([&] { client.get(res::configmaps, "x", "y"); });
  EXPECT_THAT(error.what(), HasSubstr("get configmaps x/y"));
  EXPECT_THAT(error.what(), HasSubstr("https://127.0.0.1:1"));
  EXPECT_EQ(attempts.load(), 3);  // the call and two retries
  // create is not idempotent: one attempt only.
  attempts = 0;
  EXPECT_THROW(client.create(res::configmaps, "x", configmap("y")), kube::TransportError);
  EXPECT_EQ(attempts.load(), 1);
}

}  // namespace
