// The informer survives an API server that is killed (SIGKILL) and restarted
// in the middle of its watch: its cache converges to the server's state with
// every change delivered and none invented.
//
// The test runs a private etcd and kube-apiserver (the binaries of the local
// control plane, scripts/tools.sh path) on free 127.0.0.1 ports, so it can
// kill its API server without disturbing anyone else.
#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <mutex>

#include "runtime/http_server.h"
#include "runtime/informer.h"
#include "runtime_fixtures/runtime_cluster.h"

namespace {

using namespace runtime_it;
namespace res = kube::resources;

// etcd + kube-apiserver with their own certificates, in a temporary directory.
class PrivateControlPlane {
 public:
  // Empty when the binaries are missing.
  static std::string find_binary(const std::string& name) {
    const std::string path = run(std::string(SRERACHA_SOURCE_DIR) + "/scripts/tools.sh path");
    std::stringstream dirs(path);
    for (std::string dir; std::getline(dirs, dir, ':');) {
      if (std::filesystem::exists(dir + "/" + name)) return dir + "/" + name;
    }
    return {};
  }

  explicit PrivateControlPlane(std::vector<std::string> apiserver_flags = {})
      : apiserver_flags_(std::move(apiserver_flags)),
        etcd_bin_(find_binary("etcd")),
        apiserver_bin_(find_binary("kube-apiserver")),
        etcd_port_(runtime::pick_free_port("127.0.0.1")),
        etcd_peer_port_(runtime::pick_free_port("127.0.0.1")),
        api_port_(runtime::pick_free_port("127.0.0.1")) {
    make_pki();
    const std::string host = "http://127.0.0.1:";
    etcd_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{etcd_bin_, "--name", "rt", "--data-dir", dir_.file("etcd"),
                                 "--listen-client-urls", host + std::to_string(etcd_port_),
                                 "--advertise-client-urls", host + std::to_string(etcd_port_),
                                 "--listen-peer-urls", host + std::to_string(etcd_peer_port_),
                                 "--initial-advertise-peer-urls",
                                 host + std::to_string(etcd_peer_port_), "--initial-cluster",
                                 "rt=" + host + std::to_string(etcd_peer_port_),
                                 "--unsafe-no-fsync", "--log-level", "warn"},
        dir_.file("etcd.log"));
    start_apiserver();
  }

  void start_apiserver() {
    const std::string pki = dir_.file("pki/");
    std::vector<std::string> argv{apiserver_bin_,
                                  "--bind-address",
                                  "127.0.0.1",
                                  "--advertise-address",
                                  "127.0.0.1",
                                  "--secure-port",
                                  std::to_string(api_port_),
                                  "--etcd-servers",
                                  "http://127.0.0.1:" + std::to_string(etcd_port_),
                                  "--tls-cert-file",
                                  pki + "apiserver.crt",
                                  "--tls-private-key-file",
                                  pki + "apiserver.key",
                                  "--client-ca-file",
                                  pki + "ca.crt",
                                  "--authorization-mode",
                                  "RBAC",
                                  "--service-account-issuer",
                                  "https://kubernetes.default.svc.cluster.local",
                                  "--service-account-key-file",
                                  pki + "sa.pub",
                                  "--service-account-signing-key-file",
                                  pki + "sa.key",
                                  "--service-cluster-ip-range",
                                  "10.97.0.0/16",
                                  "--endpoint-reconciler-type",
                                  "none",
                                  "--profiling=false",
                                  "--enable-priority-and-fairness=false"};
    argv.insert(argv.end(), apiserver_flags_.begin(), apiserver_flags_.end());
    apiserver_ = std::make_unique<ChildProcess>(argv, dir_.file("apiserver.log"));
    wait_ready();
  }

  void kill_apiserver() {
    apiserver_->signal(SIGKILL);
    apiserver_->wait();
  }

  kube::Config config() const {
    kube::Config config;
    config.server = "https://127.0.0.1:" + std::to_string(api_port_);
    config.ca_pem = read_file(dir_.file("pki/ca.crt"));
    config.client_cert_pem = read_file(dir_.file("pki/admin.crt"));
    config.client_key_pem = read_file(dir_.file("pki/admin.key"));
    config.source = "private control plane";
    return config;
  }

  std::string apiserver_log() const { return read_file(dir_.file("apiserver.log")); }

 private:
  void make_pki() {
    const std::string pki = dir_.file("pki");
    std::filesystem::create_directories(pki);
    const std::string cd = "cd " + pki + " && ";
    run(cd + "openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null");
    run(cd +
        "openssl req -x509 -new -key ca.key -subj /CN=rt-ca -days 1 "
        "-addext basicConstraints=critical,CA:TRUE "
        "-addext keyUsage=critical,keyCertSign,cRLSign -out ca.crt 2>/dev/null");
    issue(pki, "apiserver", "/CN=kube-apiserver", "IP:127.0.0.1,DNS:localhost");
    issue(pki, "admin", "/O=system:masters/CN=rt-admin", "");
    run(cd + "openssl ecparam -name prime256v1 -genkey -noout -out sa.key 2>/dev/null");
    run(cd + "openssl ec -in sa.key -pubout -out sa.pub 2>/dev/null");
  }

  static void issue(const std::string& pki, const std::string& name, const std::string& subject,
                    const std::string& san) {
    const std::string cd = "cd " + pki + " && ";
    std::ofstream(pki + "/" + name + ".ext")
        << "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
        << (san.empty() ? "extendedKeyUsage=clientAuth\n"
                        : "extendedKeyUsage=serverAuth\nsubjectAltName=" + san + "\n");
    run(cd + "openssl ecparam -name prime256v1 -genkey -noout -out " + name + ".key 2>/dev/null");
    run(cd + "openssl req -new -key " + name + ".key -subj " + subject + " -out " + name +
        ".csr 2>/dev/null");
    run(cd + "openssl x509 -req -in " + name + ".csr -CA ca.crt -CAkey ca.key -CAcreateserial " +
        "-days 1 -extfile " + name + ".ext -out " + name + ".crt 2>/dev/null");
  }

  // Ready when the bootstrap "default" namespace can be read.
  void wait_ready() {
    kube::ClientOptions options;
    options.max_retries = 0;
    options.request_timeout = std::chrono::seconds(2);
    kube::Client probe(config(), options);
    const bool ready = eventually(
        [&] {
          try {
            probe.get(res::namespaces, "", "default");
            return true;
          } catch (const kube::Error&) {
            return false;
          }
        },
        120s);
    if (!ready) {
      throw std::runtime_error("private kube-apiserver did not become ready:\n" + apiserver_log());
    }
  }

  TempDir dir_;
  std::vector<std::string> apiserver_flags_;
  std::string etcd_bin_, apiserver_bin_;
  int etcd_port_, etcd_peer_port_, api_port_;
  std::unique_ptr<ChildProcess> etcd_;
  std::unique_ptr<ChildProcess> apiserver_;
};

// Per object name: the events the handlers got, as "add v=1" strings.
class Recorder {
 public:
  runtime::EventHandler handler() {
    return {[this](const runtime::Store::Object& o) { record("add", *o); },
            [this](const runtime::Store::Object&, const runtime::Store::Object& o) {
              record("update", *o);
            },
            [this](const runtime::Store::Object& o) { record("delete", *o); }};
  }
  std::map<std::string, std::vector<std::string>> by_name() const {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  void record(const std::string& what, const json& o) {
    std::lock_guard lock(mu_);
    events_[o["metadata"].value("name", "")].push_back(what + " v=" + o["data"].value("v", ""));
  }
  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::string>> events_;
};

using Events = std::vector<std::string>;

bool binaries_missing() {
  return PrivateControlPlane::find_binary("kube-apiserver").empty() ||
         PrivateControlPlane::find_binary("etcd").empty();
}

// Kills the API server mid-watch, restarts it, changes objects right away and
// checks the informer's cache and events; returns the informer's list count.
std::uint64_t restart_scenario(const std::vector<std::string>& apiserver_flags) {
  PrivateControlPlane plane(apiserver_flags);
  kube::ClientOptions client_options;
  client_options.qps = 0;
  kube::Client client(plane.config(), client_options);
  const std::string ns = "restart";
  client.create(res::namespaces, "",
                {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
  // The test's own writes retry transport errors: a connection kept alive
  // across the restart fails once, whatever the client's retry policy.
  auto retrying = [](const std::function<void()>& write) {
    for (int attempt = 1;; ++attempt) {
      try {
        return write();
      } catch (const kube::TransportError&) {
        if (attempt == 5) throw;
        std::this_thread::sleep_for(200ms);
      }
    }
  };
  auto put = [&](const std::string& name, const std::string& v) {
    retrying([&] { client.apply(res::configmaps, ns, name, configmap(ns, name, {{"v", v}})); });
  };
  for (int i = 0; i < 10; ++i) put("a" + std::to_string(i), "1");

  runtime::InformerOptions options;
  options.max_backoff = 3000ms;  // production caps at 30 s; the test need not wait that long
  runtime::Informer informer(runtime::list_watch(client, res::configmaps, ns), options);
  Recorder recorder;
  informer.add_handler(recorder.handler());
  informer.start();
  EXPECT_TRUE(eventually([&] { return informer.has_synced(); }));
  put("a1", "2");
  EXPECT_TRUE(eventually([&] { return recorder.by_name()["a1"].size() == 2; }));

  // Mid-watch: the informer has an open watch right now.
  plane.kill_apiserver();
  std::this_thread::sleep_for(2s);  // the informer notices and retries in vain
  plane.start_apiserver();
  // Changes right after the restart, likely before the informer reconnects.
  put("a2", "2");
  retrying([&] { client.remove(res::configmaps, ns, "a3"); });
  retrying([&] { client.remove(res::configmaps, ns, "a4"); });
  for (int i = 0; i < 5; ++i) put("b" + std::to_string(i), "1");

  auto server_state = [&] {
    std::map<std::string, std::string> state;
    const auto list = client.list(res::configmaps, ns);
    for (const auto& item : list["items"]) {
      state[item["metadata"]["name"]] = item["metadata"]["resourceVersion"];
    }
    return state;
  };
  auto cache_state = [&] {
    std::map<std::string, std::string> state;
    for (const auto& object : informer.store().list()) {
      state[(*object)["metadata"]["name"]] = (*object)["metadata"]["resourceVersion"];
    }
    return state;
  };
  // kube-root-ca.crt is not published here (no controller-manager), so the
  // namespace holds only our objects.
  auto describe = [](const std::map<std::string, std::string>& state) {
    std::string text;
    for (const auto& [name, version] : state) text += name + "@" + version + " ";
    return text;
  };
  EXPECT_TRUE(eventually([&] { return cache_state() == server_state(); }, 60s))
      << "cache never converged; informer lists: " << informer.list_count()
      << "\n cache:  " << describe(cache_state()) << "\n server: " << describe(server_state())
      << "\n informer at resourceVersion " << informer.resource_version();
  std::this_thread::sleep_for(500ms);  // room for anything late or invented

  auto events = recorder.by_name();
  EXPECT_EQ(events["a0"], (Events{"add v=1"})) << "untouched: nothing invented";
  EXPECT_EQ(events["a1"], (Events{"add v=1", "update v=2"}));
  EXPECT_EQ(events["a2"], (Events{"add v=1", "update v=2"}));
  EXPECT_EQ(events["a3"], (Events{"add v=1", "delete v=1"}));
  EXPECT_EQ(events["a4"], (Events{"add v=1", "delete v=1"}));
  for (int i = 5; i < 10; ++i) EXPECT_EQ(events["a" + std::to_string(i)], (Events{"add v=1"}));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(events["b" + std::to_string(i)], (Events{"add v=1"}));
  informer.stop();
  return informer.list_count();
}

TEST(RuntimeApiserverRestart, InformerConvergesWithNothingLostOrInvented) {
  if (binaries_missing())
    GTEST_SKIP() << "kube-apiserver/etcd not built: run scripts/tools.sh build";
  // The new server's watch cache starts at the current revision: when the
  // informer's version is older (a write happened since), the server says
  // 410 and the informer relists once; otherwise the watch just resumes.
  const auto lists = restart_scenario({});
  std::printf("informer lists across the restart (watch cache): %llu\n",
              static_cast<unsigned long long>(lists));
  EXPECT_GE(lists, 1u);
  EXPECT_LE(lists, 2u);
}

TEST(RuntimeApiserverRestart, ResumesTheWatchWithoutRelistingWhenTheServerStillHasTheVersion) {
  if (binaries_missing())
    GTEST_SKIP() << "kube-apiserver/etcd not built: run scripts/tools.sh build";
  // Without a watch cache the server watches etcd from any uncompacted
  // revision: the informer resumes from its last resourceVersion.
  const auto lists = restart_scenario({"--watch-cache=false"});
  EXPECT_EQ(lists, 1u);
}

}  // namespace
