#include "runtime/children.h"

#include <cstdint>
#include <cstdio>
#include <set>

namespace runtime {

using nlohmann::json;

bool contains(const json& observed, const json& desired) {
  if (desired.is_object()) {
    if (!observed.is_object()) return false;
    for (auto it = desired.begin(); it != desired.end(); ++it) {
      auto found = observed.find(it.key());
      if (found == observed.end()) {
        // An empty map or list we set may be omitted by the server.
        if ((it->is_object() || it->is_array()) && it->empty()) continue;
        return false;
      }
      if (!contains(*found, *it)) return false;
    }
    return true;
  }
  if (desired.is_array()) {
    if (!observed.is_array() || observed.size() != desired.size()) return false;
    for (std::size_t i = 0; i < desired.size(); ++i) {
      if (!contains(observed[i], desired[i])) return false;
    }
    return true;
  }
  if (desired.is_number() && observed.is_number()) {
    return desired.get<double>() == observed.get<double>();
  }
  return observed == desired;
}

std::string applied_hash(const json& object) {
  const std::string text = object.dump();
  std::uint64_t hash = 1469598103934665603ULL;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(hash));
  return out;
}

ChildError::ChildError(ChildKey key, std::string verb, const kube::ApiError& cause)
    : kube::ApiError(cause.code(), cause.reason(), cause.message(),
                     verb + " " + key.kind + " " + key.name + ": " + cause.what()),
      key_(std::move(key)),
      verb_(std::move(verb)) {}

bool ChildError::permanent() const noexcept {
  return code() == 400 || code() == 403 || code() == 422;
}

namespace {

bool immutable_field(const kube::ApiError& e) {
  return e.is_invalid() && e.message().find("field is immutable") != std::string::npos;
}

}  // namespace

std::vector<ChildChange> apply_and_prune(kube::Interface& client, const std::string& ns,
                                         std::vector<std::pair<ChildKey, json>> desired,
                                         const std::vector<ChildKey>& may_own,
                                         const ObservedChild& observed,
                                         const ChildrenOptions& options, const kube::Context& ctx) {
  std::vector<ChildChange> changes;
  std::set<ChildKey> wanted;
  for (auto& [key, object] : desired) {
    object["metadata"]["annotations"][options.hash_annotation] = applied_hash(object);
    wanted.insert(key);
    const auto current = observed(key);
    if (current && contains(*current, object)) continue;
    try {
      try {
        client.apply(key.resource, ns, key.name, object, options.apply, {}, ctx);
      } catch (const kube::ApiError& e) {
        if (!current || !immutable_field(e)) throw;
        kube::DeleteOptions remove;
        remove.precondition_uid = current->at("metadata").value("uid", "");
        client.remove(key.resource, ns, key.name, remove, ctx);
        changes.push_back({ChildChange::Action::Deleted, key});
        client.apply(key.resource, ns, key.name, object, options.apply, {}, ctx);
        changes.push_back({ChildChange::Action::Created, key});
        continue;
      }
    } catch (const kube::ApiError& e) {
      throw ChildError(key, "apply", e);
    }
    changes.push_back({current ? ChildChange::Action::Updated : ChildChange::Action::Created, key});
  }
  for (const auto& key : may_own) {
    if (wanted.count(key)) continue;
    const auto current = observed(key);
    if (!current) continue;
    kube::DeleteOptions remove;
    remove.precondition_uid = current->at("metadata").value("uid", "");
    try {
      client.remove(key.resource, ns, key.name, remove, ctx);
    } catch (const kube::ApiError& e) {
      if (e.is_not_found()) continue;  // gone already
      throw ChildError(key, "delete", e);
    }
    changes.push_back({ChildChange::Action::Deleted, key});
  }
  return changes;
}

}  // namespace runtime
