// FakeClient: kube::Interface over in-memory objects, for unit tests of code
// that talks to the API server (the reconciler above all), as
// controller-runtime's fake client is.
//
// It keeps what an API server keeps that such code relies on: uid,
// resourceVersion (conflicts on a stale one), generation (bumped when
// anything but metadata and status changes), the status subresource, a uid
// precondition in a merge patch or a delete, NotFound / AlreadyExists /
// Conflict as kube::ApiError, and server-side apply well enough for one
// manager per object: the fields the manager applied last time and no longer
// applies are removed, the rest is merged (maps by key, lists replaced). It
// runs no defaulting, no admission and no garbage collection; watch is not
// offered (tests fill runtime::Store caches from objects() instead).
//
// Every call is recorded; tests assert on requests() (e.g. "a converged
// reconcile writes nothing"). Threading: safe from many threads (an
// EventRecorder writes Events from its own).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/interface.h"

namespace support {

class FakeClient : public kube::Interface {
 public:
  struct Request {
    std::string verb;  // get, list, create, update, patch, apply, delete, evict
    std::string resource;
    std::string ns;
    std::string name;
    std::string subresource;

    bool is_write() const { return verb != "get" && verb != "list"; }
  };

  FakeClient();

  // --- kube::Interface --------------------------------------------------------
  const kube::Config& config() const override { return config_; }
  nlohmann::json get(const kube::Resource& r, std::string_view ns, std::string_view name,
                     std::string_view subresource = {}, const kube::Context& ctx = {}) override;
  nlohmann::json list(const kube::Resource& r, std::string_view ns,
                      const kube::ListOptions& options = {},
                      const kube::Context& ctx = {}) override;
  nlohmann::json create(const kube::Resource& r, std::string_view ns, const nlohmann::json& object,
                        std::string_view subresource = {}, const kube::Context& ctx = {}) override;
  nlohmann::json replace(const kube::Resource& r, std::string_view ns, std::string_view name,
                         const nlohmann::json& object, std::string_view subresource = {},
                         const kube::Context& ctx = {}) override;
  nlohmann::json merge_patch(const kube::Resource& r, std::string_view ns, std::string_view name,
                             const nlohmann::json& patch, std::string_view subresource = {},
                             const kube::Context& ctx = {},
                             const kube::PatchOptions& options = {}) override;
  nlohmann::json apply(const kube::Resource& r, std::string_view ns, std::string_view name,
                       const nlohmann::json& object, const kube::ApplyOptions& options = {},
                       std::string_view subresource = {}, const kube::Context& ctx = {}) override;
  void remove(const kube::Resource& r, std::string_view ns, std::string_view name,
              const kube::DeleteOptions& options = {}, const kube::Context& ctx = {}) override;
  void evict(std::string_view ns, std::string_view pod, const kube::DeleteOptions& options = {},
             const kube::Context& ctx = {}) override;
  void watch(const kube::Resource& r, std::string_view ns, const kube::WatchOptions& options,
             const std::function<bool(kube::WatchEvent&&)>& on_event,
             const kube::Context& ctx = {}) override;

  // --- the test's side: no request is recorded ---------------------------------
  // Stores `object` (in its metadata.namespace) as a user's create would, or
  // replaces the stored one; returns it as stored.
  nlohmann::json put(const kube::Resource& r, nlohmann::json object);
  // Merges `patch` into a stored object (e.g. a Deployment's status, as its
  // controller would write it); returns it as stored.
  nlohmann::json patch(const kube::Resource& r, std::string_view ns, std::string_view name,
                       const nlohmann::json& patch);
  std::optional<nlohmann::json> object(const kube::Resource& r, std::string_view ns,
                                       std::string_view name) const;
  // Every stored object of the resource, sorted by namespace/name.
  std::vector<nlohmann::json> objects(const kube::Resource& r) const;

  std::vector<Request> requests() const;
  std::vector<Request> writes() const;  // requests() that change something
  void clear_requests();
  // The next call of `verb` on `resource` throws this error instead.
  void fail_next(std::string verb, std::string resource, kube::ApiError error);

 private:
  using Objects = std::map<std::string, nlohmann::json>;  // "ns/name" -> object

  Objects& objects_of(const kube::Resource& r);  // REQUIRES: mu_ held
  // The stored object, or ApiError NotFound naming `verb`.
  nlohmann::json& stored_or_throw(const kube::Resource& r, std::string_view ns,
                                  std::string_view name,
                                  const std::string& verb);  // REQUIRES: mu_ held
  void record(std::string verb, const kube::Resource& r, std::string_view ns, std::string_view name,
              std::string_view subresource);  // REQUIRES: mu_ held
  nlohmann::json insert(const kube::Resource& r, std::string_view ns,
                        nlohmann::json object);                     // REQUIRES: mu_ held
  void bump(nlohmann::json& object, const nlohmann::json& before);  // REQUIRES: mu_ held
  // Deletes the object (absent: nothing), checking options' uid precondition.
  void erase(const kube::Resource& r, std::string_view ns, std::string_view name,
             const kube::DeleteOptions& options);  // REQUIRES: mu_ held

  kube::Config config_;
  mutable std::mutex mu_;
  std::map<std::string, Objects> objects_;  // REQUIRES: mu_ held; by group/resource
  // What each manager applied last, by group/resource/ns/name + manager.
  std::map<std::string, nlohmann::json> applied_;   // REQUIRES: mu_ held
  std::vector<Request> requests_;                   // REQUIRES: mu_ held
  std::map<std::string, kube::ApiError> failures_;  // REQUIRES: mu_ held; "verb resource"
  long long next_resource_version_ = 1;             // REQUIRES: mu_ held
  long long next_uid_ = 1;                          // REQUIRES: mu_ held
};

}  // namespace support
