// The cache of one kind of object, filled by an Informer and read by
// reconcilers, with indexes by controller owner and by label.
//
// Objects are kept encoded (CBOR): a tree of nlohmann::json nodes takes five
// to six times the size of the object's JSON, and the caches of an operator
// with many instances are mostly read a few objects at a time. A read
// decodes: readers get shared_ptr<const json> snapshots of their own that
// never change, may keep them for as long as they like without holding any
// lock, and two reads within one reconcile may see two different versions
// (as with any cache).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/mutex.h"

namespace runtime {

// "namespace/name", or "name" for a cluster-scoped object.
std::string object_key(const nlohmann::json& object);

// Threading: safe to use from many threads; readers share a lock.
class Store {
 public:
  using Object = std::shared_ptr<const nlohmann::json>;

  // Null when absent.
  Object get(std::string_view ns, std::string_view name) const;
  // Every object, or those of namespace `ns`, sorted by namespace/name.
  std::vector<Object> list(std::string_view ns = {}) const;
  // Objects whose controller ownerReference has this uid.
  std::vector<Object> list_by_owner(std::string_view owner_uid) const;
  // Objects carrying the label key=value.
  std::vector<Object> list_by_label(std::string_view key, std::string_view value) const;
  std::size_t size() const;
  // The keys of every object, sorted; decodes nothing.
  std::vector<std::string> keys() const;

  // Writers; the Informer is the only one in the operator.
  // What upsert() gives back of the object it replaced: all of it, or its
  // apiVersion, kind and metadata (decoding the rest is most of the cost).
  enum class Old { Whole, Metadata };
  // Stores `object` under its key; returns the object it replaced (null if new).
  Object upsert(Object object, Old old = Old::Whole);
  // Removes the object; returns it (null if it was not there).
  Object erase(const std::string& key);

 private:
  // Immutable once stored, so readers decode outside the lock.
  using Encoded = std::shared_ptr<const std::vector<std::uint8_t>>;

  void index_locked(const std::string& key, const nlohmann::json& object) REQUIRES(mu_);
  void unindex_locked(const std::string& key, const nlohmann::json& object) REQUIRES(mu_);
  std::vector<Encoded> lookup_locked(const std::set<std::string>* keys) const REQUIRES_SHARED(mu_);

  mutable kube::SharedMutex mu_;
  // Sorted by key, so a namespace is the key range "ns/"..."ns0".
  std::map<std::string, Encoded, std::less<>> objects_ GUARDED_BY(mu_);
  std::map<std::string, std::set<std::string>, std::less<>> by_owner_
      GUARDED_BY(mu_);  // uid -> keys
  std::map<std::string, std::set<std::string>, std::less<>> by_label_
      GUARDED_BY(mu_);  // "k=v" -> keys
};

}  // namespace runtime
