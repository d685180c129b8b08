// children: keeping the objects one owner controls as it wants them, the way
// controller-runtime's CreateOrUpdate and kubectl's apply --prune do, with
// server-side apply.
//
// Drift: contains() compares what we set with what the server returns (which
// adds defaults and status). It cannot see a field we stopped setting, so
// each child also carries the hash of what was applied (an annotation the
// controller names): a changed hash makes apply_and_prune() apply, and
// server-side apply then removes the fields the manager no longer sets. A
// child whose cached copy contains the desired one costs no request.
#pragma once

#include <compare>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/errors.h"
#include "kube/interface.h"
#include "runtime/store.h"

namespace runtime {

// True when every field `desired` sets has the same value in `observed`
// (fields the server adds, like defaults and status, are ignored; an empty
// map or list we set may be omitted by the server; 1 equals 1.0).
bool contains(const nlohmann::json& observed, const nlohmann::json& desired);

// The value of a Kubernetes resource quantity given as a number or a string
// ("500m", "1Gi", "1e3", 0.5), or nothing when it is not one.
std::optional<long double> quantity_value(const nlohmann::json& value);

// A stable hash (FNV-1a, 16 hex digits) of the object as it will be applied.
std::string applied_hash(const nlohmann::json& object);

// Names one child: enough to apply, get or delete it.
struct ChildKey {
  kube::Resource resource;
  std::string kind;  // "Deployment"
  std::string name;

  auto operator<=>(const ChildKey& other) const {
    return std::tie(resource.group, resource.version, resource.resource, kind, name) <=>
           std::tie(other.resource.group, other.resource.version, other.resource.resource,
                    other.kind, other.name);
  }
  bool operator==(const ChildKey& other) const { return (*this <=> other) == 0; }
};

// What apply_and_prune() did to one child, in the order it did it.
struct ChildChange {
  enum class Action { Created, Updated, Deleted };
  Action action;
  ChildKey key;
};

// The API server refused a request about one child: which child, which verb
// ("apply" or "delete"), and the server's answer.
class ChildError : public kube::ApiError {
 public:
  ChildError(ChildKey key, std::string verb, const kube::ApiError& cause);
  const ChildKey& key() const noexcept { return key_; }
  const std::string& verb() const noexcept { return verb_; }
  // Retrying the same request cannot help until the request changes (the
  // owner's spec) or the rights do: 400 Bad Request, 403 Forbidden, 422
  // Invalid (controller-runtime's TerminalError). Conflicts, throttling,
  // server errors and timeouts are worth a retry.
  bool permanent() const noexcept;

 private:
  ChildKey key_;
  std::string verb_;
};

struct ChildrenOptions {
  kube::ApplyOptions apply;     // the field manager
  std::string hash_annotation;  // e.g. "example.com/applied-hash"
};

// The cached copy of a child of this owner, or null when absent or not the
// owner's (a child of someone else is never taken for ours).
using ObservedChild = std::function<Store::Object(const ChildKey& key)>;

// Applies each desired child (objects with apiVersion, kind, metadata.name
// in namespace `ns`) whose cached copy differs, and deletes each of
// `may_own` that is cached but no longer desired (with the cached uid as
// precondition, so a new object of that name is never deleted by mistake).
// A child the server refuses to update because a field is immutable (an
// EndpointSlice's addressType) is deleted and created anew. An API error is
// thrown as a ChildError naming the child; other errors as the client
// throws them. Changes made before the throw are done.
std::vector<ChildChange> apply_and_prune(kube::Interface& client, const std::string& ns,
                                         std::vector<std::pair<ChildKey, nlohmann::json>> desired,
                                         const std::vector<ChildKey>& may_own,
                                         const ObservedChild& observed,
                                         const ChildrenOptions& options, const kube::Context& ctx);

}  // namespace runtime
