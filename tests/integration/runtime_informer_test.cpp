// The informer against the real API server: creates, updates and deletes
// (label selector included), and a forced 410 Gone whose relist removes the
// objects deleted while the informer was not looking.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "runtime/informer.h"
#include "runtime_fixtures/runtime_cluster.h"

namespace {

using namespace runtime_it;
namespace res = kube::resources;

// Records handler calls as "add name v=<data.v>" lines.
class Recorder {
 public:
  runtime::EventHandler handler() {
    return {[this](const runtime::Store::Object& o) { record("add", *o); },
            [this](const runtime::Store::Object&, const runtime::Store::Object& o) {
              record("update", *o);
            },
            [this](const runtime::Store::Object& o) { record("delete", *o); }};
  }
  std::vector<std::string> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  bool has(const std::string& event) const {
    auto all = events();
    return std::find(all.begin(), all.end(), event) != all.end();
  }

 private:
  void record(const std::string& what, const json& o) {
    std::lock_guard lock(mu_);
    const json data = o.value("data", json::object());
    events_.push_back(what + " " + o["metadata"].value("name", "") + " v=" + data.value("v", ""));
  }
  mutable std::mutex mu_;
  std::vector<std::string> events_;
};

class RuntimeInformer : public ::testing::Test {
 protected:
  RuntimeInformer() : client_(admin_config(), fast_client()), ns_(client_, "rt-informer") {}
  static kube::ClientOptions fast_client() {
    kube::ClientOptions options;
    options.qps = 0;
    return options;
  }
  void put(const std::string& name, const std::string& value,
           const json& labels = {{"rt", "yes"}}) {
    client_.apply(res::configmaps, ns_.name(), name,
                  configmap(ns_.name(), name, {{"v", value}}, labels));
  }
  void remove(const std::string& name) { client_.remove(res::configmaps, ns_.name(), name); }

  kube::Client client_;
  TestNamespace ns_;
};

TEST_F(RuntimeInformer, SeesCreatesUpdatesAndDeletesMatchingItsSelector) {
  put("before", "1");
  put("other", "1", {{"rt", "no"}});
  runtime::Informer informer(client_, res::configmaps, ns_.name(), "rt=yes");
  Recorder recorder;
  informer.add_handler(recorder.handler());
  informer.start();
  ASSERT_TRUE(eventually([&] { return informer.has_synced(); }));
  EXPECT_EQ(informer.kind(), "ConfigMap");
  EXPECT_EQ(informer.store().size(), 1u) << "the selector filters on the server";
  ASSERT_NE(informer.store().get(ns_.name(), "before"), nullptr);
  EXPECT_EQ((*informer.store().get(ns_.name(), "before"))["kind"], "ConfigMap");

  put("created", "1");
  put("before", "2");
  remove("created");
  put("other", "2", {{"rt", "yes"}});  // starts matching: an add
  put("before", "3", {{"rt", "no"}});  // stops matching: a delete (of the last matching state)
  ASSERT_TRUE(eventually([&] { return recorder.events().size() >= 6; }, 10s));
  std::this_thread::sleep_for(200ms);  // room for anything unexpected
  EXPECT_EQ(recorder.events(),
            (std::vector<std::string>{"add before v=1", "add created v=1", "update before v=2",
                                      "delete created v=1", "add other v=2", "delete before v=2"}));
  EXPECT_EQ(informer.store().size(), 1u);
  EXPECT_NE(informer.store().get(ns_.name(), "other"), nullptr);
  EXPECT_EQ(informer.list_count(), 1u);
}

// A metadata-only informer with a `!=` selector (which also matches objects
// without the label): what the operator keeps of the objects it does not
// manage. Listed and watched objects alike arrive without their data.
TEST_F(RuntimeInformer, MetadataOnlyCachesHoldNoDataAndSeeUnlabelledObjects) {
  put("mine", "1", {{"rt", "yes"}});
  put("labelled", "1", {{"rt", "no"}});
  put("unlabelled", "1", json::object());
  runtime::Informer informer(runtime::list_watch(client_, res::configmaps, ns_.name()),
                             {.label_selector = "rt!=yes", .metadata_only = true});
  informer.start();
  ASSERT_TRUE(eventually([&] { return informer.has_synced(); }));
  EXPECT_EQ(informer.kind(), "PartialObjectMetadata");
  EXPECT_EQ(informer.store().get(ns_.name(), "mine"), nullptr);
  ASSERT_NE(informer.store().get(ns_.name(), "labelled"), nullptr);
  const auto listed = informer.store().get(ns_.name(), "unlabelled");
  ASSERT_NE(listed, nullptr);
  EXPECT_EQ((*listed)["kind"], "PartialObjectMetadata");
  EXPECT_FALSE(listed->contains("data"));
  EXPECT_EQ((*listed)["metadata"]["name"], "unlabelled");

  put("later", "1", json::object());
  ASSERT_TRUE(eventually([&] { return informer.store().get(ns_.name(), "later") != nullptr; }));
  const auto watched = informer.store().get(ns_.name(), "later");
  EXPECT_EQ((*watched)["kind"], "PartialObjectMetadata");
  EXPECT_FALSE(watched->contains("data"));
  EXPECT_FALSE((*watched)["metadata"].contains("managedFields"));
}

TEST_F(RuntimeInformer, ResumesWhenTheServerEndsTheWatchWithoutRelisting) {
  runtime::InformerOptions options;
  options.min_watch_timeout = std::chrono::seconds(1);  // the server ends each watch in 1-2 s
  options.label_selector = "rt=yes";                    // not kube-root-ca.crt
  runtime::Informer informer(runtime::list_watch(client_, res::configmaps, ns_.name()), options);
  Recorder recorder;
  informer.add_handler(recorder.handler());
  informer.start();
  ASSERT_TRUE(eventually([&] { return informer.has_synced(); }));
  // Changes spread over several watch lifetimes.
  for (int i = 1; i <= 12; ++i) {
    put("cm", std::to_string(i));
    std::this_thread::sleep_for(400ms);
  }
  ASSERT_TRUE(eventually([&] { return recorder.events().size() >= 12; }, 10s));
  std::vector<std::string> expected{"add cm v=1"};
  for (int i = 2; i <= 12; ++i) expected.push_back("update cm v=" + std::to_string(i));
  EXPECT_EQ(recorder.events(), expected);
  EXPECT_EQ(informer.list_count(), 1u) << "an ended watch resumes; it does not relist";
}

// The watch is made to miss some changes (its events are swallowed), then its
// next start fails with ResourceExpired (410 Gone): the relist against the
// real API server must deliver exactly the missed difference. The expiry is
// injected where the client would throw it: a young API server's watch cache
// still holds any old resourceVersion, so asking for "1" expires only on a
// cluster that has run a while (kube_client_test shows the real 410s map to
// ResourceExpired).
TEST_F(RuntimeInformer, ForcedGoneRelistsAndRemovesObjectsDeletedMeanwhile) {
  for (const char* name : {"kept", "updated", "deleted-1", "deleted-2"}) put(name, "1");

  auto real = runtime::list_watch(client_, res::configmaps, ns_.name());
  std::atomic<bool> blackout{false}, end_watch{false}, expire_next{false};
  std::atomic<int> swallowed{0}, expired{0};
  runtime::ListWatch wrapped = real;
  wrapped.watch = [&](const kube::WatchOptions& options,
                      const std::function<bool(kube::WatchEvent &&)>& on_event,
                      kube::CancelToken cancel) {
    try {
      if (expire_next.exchange(false)) {
        throw kube::ResourceExpired(410, "Expired", "too old resource version: 1",
                                    "watch configmaps (injected)");
      }
      real.watch(
          options,
          [&](kube::WatchEvent&& event) {
            if (end_watch.exchange(false)) return false;
            if (blackout && event.type != "BOOKMARK") {
              ++swallowed;
              return true;
            }
            return on_event(std::move(event));
          },
          cancel);
    } catch (const kube::ResourceExpired&) {
      ++expired;
      throw;
    }
  };

  runtime::InformerOptions options;
  options.label_selector = "rt=yes";
  runtime::Informer informer(wrapped, options);
  Recorder recorder;
  informer.add_handler(recorder.handler());
  informer.start();
  ASSERT_TRUE(eventually([&] { return informer.has_synced(); }));
  ASSERT_EQ(informer.store().size(), 4u);

  blackout = true;
  remove("deleted-1");
  remove("deleted-2");
  put("updated", "2");
  put("created", "1");
  ASSERT_TRUE(eventually([&] { return swallowed == 4; }, 10s)) << swallowed;
  EXPECT_EQ(informer.store().size(), 4u) << "the informer missed the changes";

  expire_next = true;
  end_watch = true;
  blackout = false;
  put("trigger", "1");  // its event ends the watch; the relist finds it

  ASSERT_TRUE(eventually([&] { return informer.list_count() == 2; }, 10s));
  // The list is counted when it returns, before its changes are handed out
  // (and the store holds 4 before them too): wait for the 5 events.
  ASSERT_TRUE(eventually([&] { return recorder.events().size() >= 9; }, 10s));
  EXPECT_EQ(informer.store().size(), 4u);
  EXPECT_EQ(expired.load(), 1) << "one expired watch, one relist";
  auto events = recorder.events();
  ASSERT_GE(events.size(), 4u);
  std::vector<std::string> after_relist(events.begin() + 4, events.end());
  // Relist order: listed objects by name, then the deletes.
  EXPECT_EQ(after_relist,
            (std::vector<std::string>{"add created v=1", "add trigger v=1", "update updated v=2",
                                      "delete deleted-1 v=1", "delete deleted-2 v=1"}));
  for (const char* name : {"kept", "updated", "created", "trigger"}) {
    EXPECT_NE(informer.store().get(ns_.name(), name), nullptr) << name;
  }

  put("after", "1");  // and the watch goes on from the relist's version
  EXPECT_TRUE(eventually([&] { return recorder.has("add after v=1"); }, 10s));
}

// A Pod carrying a 200 KB annotation (pods are routinely larger than the
// 16 KiB that once stopped watches) does not stop updates of other pods.
TEST_F(RuntimeInformer, APodWithALargeAnnotationDoesNotStopLaterEvents) {
  const auto pod = [this](const std::string& name, const std::string& note) {
    return json{{"apiVersion", "v1"},
                {"kind", "Pod"},
                {"metadata",
                 {{"name", name},
                  {"namespace", ns_.name()},
                  {"labels", {{"rt", "pod"}}},
                  {"annotations", {{"example.com/note", note}}}}},
                // No node would run it: a name no node has keeps it unscheduled.
                {"spec",
                 {{"nodeName", "no-such-node"},
                  {"containers", json::array({{{"name", "c"}, {"image", "none:0"}}})}}}};
  };
  runtime::Informer informer(client_, res::pods, ns_.name(), "rt=pod");
  std::mutex mu;
  std::vector<std::string> notes;
  informer.add_handler(
      {[&](const runtime::Store::Object& o) {
         std::lock_guard lock(mu);
         notes.push_back(
             (*o)["metadata"]["name"].get<std::string>() + " " +
             std::to_string(
                 (*o)["metadata"]["annotations"]["example.com/note"].get<std::string>().size()));
       },
       [&](const runtime::Store::Object&, const runtime::Store::Object& o) {
         std::lock_guard lock(mu);
         notes.push_back((*o)["metadata"]["name"].get<std::string>() + " " +
                         (*o)["metadata"]["annotations"]["example.com/note"].get<std::string>());
       },
       {}});
  informer.start();
  ASSERT_TRUE(eventually([&] { return informer.has_synced(); }));
  client_.create(res::pods, ns_.name(), pod("large", std::string(200'000, 'a')));
  client_.create(res::pods, ns_.name(), pod("small", "0"));
  for (int i = 1; i <= 3; ++i) {
    client_.merge_patch(
        res::pods, ns_.name(), "small",
        {{"metadata", {{"annotations", {{"example.com/note", std::to_string(i)}}}}}});
  }
  const auto has_last = [&] {
    std::lock_guard lock(mu);
    return !notes.empty() && notes.back() == "small 3";
  };
  ASSERT_TRUE(eventually(has_last, 15s));
  std::lock_guard lock(mu);
  EXPECT_EQ(notes,
            (std::vector<std::string>{"large 200000", "small 1", "small 1", "small 2", "small 3"}));
  EXPECT_TRUE(informer.receiving());
}

}  // namespace
