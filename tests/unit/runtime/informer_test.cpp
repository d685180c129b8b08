// The informer's list/watch logic against an in-memory API server that keeps
// a history of changes, can end watches, go down, and compact (410).
#include "runtime/informer.h"

#include "kube/watch_decoder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace runtime {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

// What a real API server does, reduced to one namespace of ConfigMaps.
class FakeApiServer {
 public:
  void put(const std::string& name, const std::string& data) {
    std::lock_guard lock(mu_);
    const bool exists = objects_.contains(name);
    json object = {{"apiVersion", "v1"},
                   {"kind", "ConfigMap"},
                   {"metadata",
                    {{"namespace", "ns"},
                     {"name", name},
                     {"resourceVersion", std::to_string(++rv_)},
                     {"managedFields", {{{"manager", "kubectl"}, {"operation", "Update"}}}}}},
                   {"data", {{"v", data}}}};
    objects_[name] = object;
    history_.push_back({rv_, {exists ? "MODIFIED" : "ADDED", object}});
    changed_.notify_all();
  }
  void remove(const std::string& name) {
    std::lock_guard lock(mu_);
    json object = objects_.at(name);
    objects_.erase(name);
    object["metadata"]["resourceVersion"] = std::to_string(++rv_);
    history_.push_back({rv_, {"DELETED", object}});
    changed_.notify_all();
  }
  void bookmark() {
    std::lock_guard lock(mu_);
    history_.push_back(
        {++rv_, {"BOOKMARK", {{"metadata", {{"resourceVersion", std::to_string(rv_)}}}}}});
    changed_.notify_all();
  }
  // Forget history: watches from older versions get 410 Gone.
  void compact() {
    std::lock_guard lock(mu_);
    compacted_ = rv_;
  }
  // Ends every open watch normally (as a server-side timeout does).
  void end_watches() {
    std::lock_guard lock(mu_);
    ++watch_generation_;
    changed_.notify_all();
  }
  // Down: every call fails with a transport error, open watches end with one.
  void set_down(bool down) {
    std::lock_guard lock(mu_);
    down_ = down;
    changed_.notify_all();
  }
  void fail_next_lists(int count) {
    std::lock_guard lock(mu_);
    failing_lists_ = count;
  }
  // The next watch fails as the client does on bytes it cannot decode, or
  // with something that is not a std::exception at all.
  void garble_next_watch() {
    std::lock_guard lock(mu_);
    garble_next_watch_ = true;
  }
  void throw_non_standard_next_watch() {
    std::lock_guard lock(mu_);
    non_standard_next_watch_ = true;
  }

  ListWatch list_watch() {
    ListWatch lw;
    lw.description = "configmaps in fake";
    lw.list = [this](const kube::ListOptions&, kube::CancelToken) { return list(); };
    lw.watch = [this](const kube::WatchOptions& options,
                      const std::function<bool(kube::WatchEvent &&)>& on_event,
                      kube::CancelToken cancel) { watch(options, on_event, cancel); };
    return lw;
  }

  int lists() const {
    std::lock_guard lock(mu_);
    return list_calls_;
  }
  std::vector<std::string> watch_versions() const {
    std::lock_guard lock(mu_);
    return watch_versions_;
  }

 private:
  json list() {
    std::lock_guard lock(mu_);
    ++list_calls_;
    if (down_ || failing_lists_ > 0) {
      --failing_lists_;
      throw kube::TransportError("list configmaps: connection refused");
    }
    json items = json::array();
    for (auto [name, object] : objects_) {
      object.erase("kind");  // as the API server does in lists
      object.erase("apiVersion");
      items.push_back(object);
    }
    return {{"kind", "ConfigMapList"},
            {"apiVersion", "v1"},
            {"metadata", {{"resourceVersion", std::to_string(rv_)}}},
            {"items", items}};
  }

  void watch(const kube::WatchOptions& options,
             const std::function<bool(kube::WatchEvent&&)>& on_event,
             const kube::CancelToken& cancel) {
    std::unique_lock lock(mu_);
    watch_versions_.push_back(options.resource_version);
    if (down_) throw kube::TransportError("watch configmaps: connection refused");
    if (std::exchange(garble_next_watch_, false)) {
      throw kube::WatchDecodeError("watch configmaps: malformed watch event (12 bytes)");
    }
    if (std::exchange(non_standard_next_watch_, false)) throw 42;
    long from = std::stol(options.resource_version);
    if (from < compacted_) {
      throw kube::ResourceExpired(410, "Expired", "too old resource version", "watch configmaps");
    }
    const int generation = watch_generation_;
    while (true) {
      for (const auto& [rv, event] : history_) {
        if (rv <= from) continue;
        from = rv;
        auto copy = event;
        lock.unlock();
        const bool more = on_event(std::move(copy));
        lock.lock();
        if (!more) return;
      }
      if (cancel.cancelled() || generation != watch_generation_) return;
      if (down_) throw kube::TransportError("watch configmaps: connection reset");
      changed_.wait_for(lock, 5ms);
    }
  }

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::string, json> objects_;
  std::vector<std::pair<long, kube::WatchEvent>> history_;
  long rv_ = 100;
  long compacted_ = 0;
  int watch_generation_ = 0;
  bool down_ = false;
  int failing_lists_ = 0;
  bool garble_next_watch_ = false;
  bool non_standard_next_watch_ = false;
  int list_calls_ = 0;
  std::vector<std::string> watch_versions_;
};

// Records what the handlers were told, as "add ns/a v=1" lines.
class Recorder {
 public:
  EventHandler handler() {
    return {[this](const Store::Object& o) { record("add", *o); },
            [this](const Store::Object&, const Store::Object& o) { record("update", *o); },
            [this](const Store::Object& o) { record("delete", *o); }};
  }
  std::vector<std::string> events() const {
    std::lock_guard lock(mu_);
    return events_;
  }
  // Waits until `count` events were recorded.
  bool wait_for(std::size_t count) const {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, 5s, [&] { return events_.size() >= count; });
  }

 private:
  void record(const std::string& what, const json& o) {
    std::lock_guard lock(mu_);
    events_.push_back(what + " " + object_key(o) + " v=" + o["data"].value("v", ""));
    changed_.notify_all();
  }
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::vector<std::string> events_;
};

InformerOptions fast_retries() {
  InformerOptions options;
  options.initial_backoff = 1ms;
  options.max_backoff = 10ms;
  return options;
}

bool eventually(const std::function<bool()>& condition) {
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(1ms)) {
    if (condition()) return true;
  }
  return condition();
}

using Events = std::vector<std::string>;

TEST(Informer, ListsThenWatchesAddsUpdatesAndDeletes) {
  FakeApiServer api;
  api.put("a", "1");
  api.put("b", "1");
  Informer informer(api.list_watch(), fast_retries());
  Recorder recorder;
  informer.add_handler(recorder.handler());
  EXPECT_FALSE(informer.has_synced());
  informer.start();
  ASSERT_TRUE(eventually([&] { return informer.has_synced(); }));
  EXPECT_EQ(informer.kind(), "ConfigMap");
  auto cached = informer.store().get("ns", "a");
  ASSERT_NE(cached, nullptr);
  EXPECT_EQ((*cached)["kind"], "ConfigMap") << "list items get their kind back";
  EXPECT_EQ((*cached)["apiVersion"], "v1");

  api.put("c", "1");
  api.put("a", "2");
  api.remove("b");
  ASSERT_TRUE(recorder.wait_for(5));
  EXPECT_EQ(recorder.events(), (Events{"add ns/a v=1", "add ns/b v=1", "add ns/c v=1",
                                       "update ns/a v=2", "delete ns/b v=1"}));
  EXPECT_EQ(informer.store().size(), 2u);
  EXPECT_EQ((*informer.store().get("ns", "a"))["data"]["v"], "2");
  EXPECT_EQ(informer.store().get("ns", "b"), nullptr);
  EXPECT_EQ(informer.list_count(), 1u);
}

// managedFields is often most of a small object and nothing reads it from a
// cache: neither listed nor watched copies keep it.
TEST(Informer, CachedObjectsHaveNoManagedFields) {
  FakeApiServer api;
  api.put("listed", "1");
  Informer informer(api.list_watch(), fast_retries());
  Recorder recorder;
  informer.add_handler(recorder.handler());
  informer.start();
  ASSERT_TRUE(eventually([&] { return informer.has_synced(); }));
  api.put("watched", "1");
  ASSERT_TRUE(recorder.wait_for(2));
  for (const char* name : {"listed", "watched"}) {
    auto cached = informer.store().get("ns", name);
    ASSERT_NE(cached, nullptr) << name;
    EXPECT_FALSE((*cached)["metadata"].contains("managedFields")) << name;
    EXPECT_EQ((*cached)["metadata"]["name"], name);
  }
}

// The replaced object is decoded only as far as the handlers need: its
// metadata when every on_update says that is enough, else whole.
TEST(Informer, DecodesAsMuchOfTheReplacedObjectAsTheHandlersNeed) {
  for (const bool all_metadata_only : {true, false}) {
    SCOPED_TRACE(all_metadata_only);
    FakeApiServer api;
    api.put("a", "1");
    Informer informer(api.list_watch(), fast_retries());
    std::mutex mu;
    std::vector<json> olds;
    EventHandler metadata_only;
    metadata_only.on_update = [&](const Store::Object& old_object, const Store::Object&) {
      std::lock_guard lock(mu);
      olds.push_back(*old_object);
    };
    metadata_only.old_metadata_only = true;
    informer.add_handler(metadata_only);
    EventHandler whole;
    whole.on_update = [](const Store::Object&, const Store::Object&) {};
    if (!all_metadata_only) informer.add_handler(whole);
    informer.start();
    ASSERT_TRUE(eventually([&] { return informer.has_synced(); }));
    api.put("a", "2");
    ASSERT_TRUE(eventually([&] {
      std::lock_guard lock(mu);
      return !olds.empty();
    }));
    std::lock_guard lock(mu);
    EXPECT_EQ(olds[0]["metadata"]["name"], "a");
    EXPECT_EQ(olds[0]["kind"], "ConfigMap");
    EXPECT_EQ(olds[0].contains("data"), !all_metadata_only);
    if (!all_metadata_only) {
      EXPECT_EQ(olds[0]["data"]["v"], "1");
    }
  }
}

TEST(Informer, TheTransformTrimsListedWatchedAndDeletedObjects) {
  FakeApiServer api;
  api.put("listed", "1");
  InformerOptions options = fast_retries();
  options.transform = [](json& object) { object["data"].erase("v"); };
  Informer informer(api.list_watch(), options);
  std::mutex mu;
  std::vector<json> handed;  // what the handlers were given
  const auto keep = [&](const Store::Object& o) {
    std::lock_guard lock(mu);
    handed.push_back(*o);
  };
  informer.add_handler(
      {keep, [&](const Store::Object&, const Store::Object& o) { keep(o); }, keep});
  informer.start();
  ASSERT_TRUE(eventually([&] { return informer.has_synced(); }));
  api.put("watched", "1");
  api.put("listed", "2");
  api.remove("watched");
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mu);
    return handed.size() == 4;
  }));
  auto cached = informer.store().get("ns", "listed");
  ASSERT_NE(cached, nullptr);
  EXPECT_FALSE((*cached)["data"].contains("v"));
  EXPECT_FALSE((*cached)["metadata"].contains("managedFields"));
  std::lock_guard lock(mu);
  for (const auto& object : handed) {
    EXPECT_FALSE(object["data"].contains("v")) << object.dump();
    EXPECT_FALSE(object["metadata"].value("resourceVersion", "").empty()) << object.dump();
  }
  // Updates are still told apart by resourceVersion, not by what is kept.
  EXPECT_EQ(handed[2]["metadata"]["name"], "listed");
  EXPECT_EQ(handed[3]["metadata"]["name"], "watched");
}

TEST(Informer, ResumesAnEndedWatchFromTheLastVersionWithoutRelisting) {
  FakeApiServer api;
  api.put("a", "1");
  Informer informer(api.list_watch(), fast_retries());
  Recorder recorder;
  informer.add_handler(recorder.handler());
  informer.start();
  ASSERT_TRUE(recorder.wait_for(1));
  for (std::size_t i = 2; i <= 5; ++i) {
    ASSERT_TRUE(eventually([&] { return api.watch_versions().size() == i - 1; }));
    api.end_watches();
    api.put("a", std::to_string(i));  // while reconnecting, or just after
  }
  ASSERT_TRUE(recorder.wait_for(5));
  std::this_thread::sleep_for(20ms);  // room for a duplicate to show up
  EXPECT_EQ(recorder.events(), (Events{"add ns/a v=1", "update ns/a v=2", "update ns/a v=3",
                                       "update ns/a v=4", "update ns/a v=5"}))
      << "each change exactly once across reconnects";
  EXPECT_EQ(api.lists(), 1);
  const auto versions = api.watch_versions();
  ASSERT_GE(versions.size(), 4u);
  EXPECT_EQ(versions[0], "101") << "the first watch starts at the list's version";
  // Each reconnect resumes from the last version seen, never from scratch.
  for (std::size_t i = 1; i < versions.size(); ++i) {
    EXPECT_GE(std::stol(versions[i]), std::stol(versions[i - 1]));
  }
  EXPECT_GE(std::stol(versions.back()), 104);
}

TEST(Informer, ServerDownThenUpConvergesWithNothingLostOrInvented) {
  FakeApiServer api;
  api.put("a", "1");
  api.put("b", "1");
  Informer informer(api.list_watch(), fast_retries());
  Recorder recorder;
  informer.add_handler(recorder.handler());
  informer.start();
  ASSERT_TRUE(recorder.wait_for(2));
  api.set_down(true);
  std::this_thread::sleep_for(30ms);  // several failed reconnects
  // Changes the informer cannot see until the server is back.
  api.set_down(false);
  api.put("c", "1");
  api.remove("a");
  ASSERT_TRUE(recorder.wait_for(4));
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(recorder.events(),
            (Events{"add ns/a v=1", "add ns/b v=1", "add ns/c v=1", "delete ns/a v=1"}));
  EXPECT_EQ(api.lists(), 1) << "history was kept: resuming the watch is enough";
}

TEST(Informer, GoneLeadsToARelistThatDeliversOnlyTheDifference) {
  FakeApiServer api;
  api.put("unchanged", "1");
  api.put("updated", "1");
  api.put("deleted", "1");
  Informer informer(api.list_watch(), fast_retries());
  Recorder recorder;
  informer.add_handler(recorder.handler());
  informer.start();
  ASSERT_TRUE(recorder.wait_for(3));

  api.set_down(true);
  std::this_thread::sleep_for(20ms);
  api.put("updated", "2");
  api.remove("deleted");
  api.put("created", "1");
  api.compact();  // the informer's version is now too old: 410
  api.set_down(false);

  ASSERT_TRUE(recorder.wait_for(6));
  ASSERT_TRUE(eventually([&] { return informer.list_count() == 2; }));
  std::this_thread::sleep_for(20ms);
  auto events = recorder.events();
  ASSERT_EQ(events.size(), 6u);
  // Relist order is by key; deletes come after the listed objects.
  EXPECT_EQ(Events(events.begin() + 3, events.end()),
            (Events{"add ns/created v=1", "update ns/updated v=2", "delete ns/deleted v=1"}));
  EXPECT_EQ(informer.store().size(), 3u);
  EXPECT_EQ(informer.store().get("ns", "deleted"), nullptr);

  api.put("after", "1");  // the watch resumed from the relist's version
  ASSERT_TRUE(recorder.wait_for(7));
  EXPECT_EQ(recorder.events().back(), "add ns/after v=1");
}

TEST(Informer, RetriesFailedListsUntilSynced) {
  FakeApiServer api;
  api.put("a", "1");
  api.fail_next_lists(3);
  Informer informer(api.list_watch(), fast_retries());
  informer.start();
  ASSERT_TRUE(eventually([&] { return informer.has_synced(); }));
  EXPECT_EQ(api.lists(), 4);
  EXPECT_EQ(informer.list_count(), 1u) << "only successful lists count";
}

TEST(Informer, BookmarksAdvanceTheResourceVersion) {
  FakeApiServer api;
  api.put("a", "1");
  Informer informer(api.list_watch(), fast_retries());
  informer.start();
  ASSERT_TRUE(eventually([&] { return informer.has_synced(); }));
  EXPECT_EQ(informer.resource_version(), "101");
  api.bookmark();
  ASSERT_TRUE(eventually([&] { return informer.resource_version() == "102"; }));
}

TEST(Informer, AHandlerAddedAfterSyncFirstGetsTheCachedObjects) {
  FakeApiServer api;
  api.put("a", "1");
  api.put("b", "1");
  Informer informer(api.list_watch(), fast_retries());
  informer.start();
  ASSERT_TRUE(eventually([&] { return informer.has_synced(); }));
  Recorder recorder;
  informer.add_handler(recorder.handler());
  api.put("c", "1");
  ASSERT_TRUE(recorder.wait_for(3));
  EXPECT_EQ(recorder.events(), (Events{"add ns/a v=1", "add ns/b v=1", "add ns/c v=1"}));
}

TEST(Informer, AThrowingHandlerDoesNotStopTheInformer) {
  FakeApiServer api;
  Informer informer(api.list_watch(), fast_retries());
  informer.add_handler({[](const Store::Object&) { throw std::runtime_error("bug"); }, {}, {}});
  Recorder recorder;
  informer.add_handler(recorder.handler());
  informer.start();
  api.put("a", "1");
  api.put("b", "1");
  ASSERT_TRUE(recorder.wait_for(2));
}

TEST(Informer, StopsPromptlyWhileWatching) {
  FakeApiServer api;
  Informer informer(api.list_watch(), fast_retries());
  informer.start();
  ASSERT_TRUE(eventually([&] { return informer.has_synced(); }));
  const auto start = std::chrono::steady_clock::now();
  informer.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST(Informer, AnUndecodableWatchEventLeadsToARelist) {
  FakeApiServer api;
  api.put("a", "1");
  Informer informer(api.list_watch(), fast_retries());
  Recorder recorder;
  informer.add_handler(recorder.handler());
  informer.start();
  ASSERT_TRUE(recorder.wait_for(1));
  // Changes made while the broken watch is down come back through the list.
  api.garble_next_watch();
  api.end_watches();
  api.put("b", "1");
  ASSERT_TRUE(recorder.wait_for(2));
  EXPECT_TRUE(eventually([&] { return informer.list_count() == 2; }));
  EXPECT_EQ(informer.store().size(), 2u);
  api.put("c", "1");
  ASSERT_TRUE(recorder.wait_for(3));
}

TEST(Informer, ANonStandardExceptionDoesNotStopTheInformer) {
  FakeApiServer api;
  Informer informer(api.list_watch(), fast_retries());
  Recorder recorder;
  informer.add_handler(recorder.handler());
  informer.start();
  ASSERT_TRUE(eventually([&] { return informer.has_synced(); }));
  api.throw_non_standard_next_watch();
  api.end_watches();
  api.put("a", "1");
  ASSERT_TRUE(recorder.wait_for(1));
}

TEST(Informer, StopsReceivingWhileTheServerIsDownAndSaysWhy) {
  FakeApiServer api;
  auto options = fast_retries();
  options.stale_after = std::chrono::seconds(0);  // any silence counts
  Informer informer(api.list_watch(), options);
  EXPECT_FALSE(informer.receiving());
  informer.start();
  ASSERT_TRUE(eventually([&] { return informer.has_synced(); }));
  // A watch open within its timeout is in touch, however quiet.
  EXPECT_TRUE(eventually([&] { return informer.receiving(); }));
  api.set_down(true);
  ASSERT_TRUE(eventually([&] { return !informer.receiving(); }));
  EXPECT_THAT(informer.why_not_receiving(), ::testing::HasSubstr("connection"));
  api.set_down(false);
  EXPECT_TRUE(eventually([&] { return informer.receiving(); }));
  EXPECT_EQ(informer.why_not_receiving(), "");
}

}  // namespace
}  // namespace runtime
