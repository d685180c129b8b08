#include "runtime/store.h"

#include <stdexcept>
#include <utility>

#include "kube/json_builder.h"
#include "kube/meta.h"

namespace runtime {
namespace {

std::string string_at(const nlohmann::json& object, const char* field) {
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return {};
  auto value = meta->find(field);
  return value != meta->end() && value->is_string() ? value->get<std::string>() : std::string{};
}

std::string owner_uid(const nlohmann::json& object) {
  const auto* owner = kube::meta::controller_ref(object);
  if (owner == nullptr) return {};
  auto uid = owner->find("uid");
  return uid != owner->end() && uid->is_string() ? uid->get<std::string>() : std::string{};
}

// Label key=value pairs; "=" never occurs in a label key, so the pair is unambiguous.
std::vector<std::string> label_pairs(const nlohmann::json& object) {
  std::vector<std::string> pairs;
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return pairs;
  auto labels = meta->find("labels");
  if (labels == meta->end() || !labels->is_object()) return pairs;
  for (const auto& [key, value] : labels->items()) {
    if (value.is_string()) pairs.push_back(key + "=" + value.get<std::string>());
  }
  return pairs;
}

Store::Object decode(const std::vector<std::uint8_t>& encoded) {
  return std::make_shared<const nlohmann::json>(nlohmann::json::from_cbor(encoded));
}

// Keeps apiVersion, kind and metadata. The encoder writes an object's keys
// sorted, so the members after "metadata" (spec, status) are not even read.
struct MetadataFilter {
  kube::Member operator()(const std::vector<std::string>& path, const std::string& key) const {
    if (!path.empty()) return kube::Member::Keep;
    if (key == "apiVersion" || key == "kind" || key == "metadata") return kube::Member::Keep;
    return key > "metadata" ? kube::Member::Stop : kube::Member::Skip;
  }
};

Store::Object decode_metadata(const std::vector<std::uint8_t>& encoded) {
  kube::JsonBuilder<MetadataFilter> builder;
  if (!nlohmann::json::sax_parse(encoded.begin(), encoded.end(), &builder,
                                 nlohmann::json::input_format_t::cbor) &&
      !builder.stopped()) {
    throw std::runtime_error("runtime::Store: a stored object does not decode (CBOR error " +
                             std::to_string(builder.error_id()) + ")");
  }
  return std::make_shared<const nlohmann::json>(std::move(builder.root()));
}

template <class Encoded>
std::vector<Store::Object> decode_all(const std::vector<Encoded>& found) {
  std::vector<Store::Object> out;
  out.reserve(found.size());
  for (const auto& encoded : found) out.push_back(decode(*encoded));
  return out;
}

}  // namespace

std::string object_key(const nlohmann::json& object) {
  std::string ns = string_at(object, "namespace");
  std::string name = string_at(object, "name");
  return ns.empty() ? name : ns + "/" + name;
}

Store::Object Store::get(std::string_view ns, std::string_view name) const {
  std::string key = ns.empty() ? std::string(name) : std::string(ns) + "/" + std::string(name);
  Encoded encoded;
  {
    kube::ReaderLock lock(mu_);
    auto it = objects_.find(key);
    if (it == objects_.end()) return nullptr;
    encoded = it->second;
  }
  return decode(*encoded);
}

std::vector<Store::Object> Store::list(std::string_view ns) const {
  std::vector<Encoded> found;
  {
    kube::ReaderLock lock(mu_);
    if (ns.empty()) {
      found.reserve(objects_.size());
      for (const auto& [key, encoded] : objects_) found.push_back(encoded);
    } else {
      // '0' follows '/' in ASCII: [ns/, ns0) holds exactly the keys of ns.
      const std::string first = std::string(ns) + "/";
      const std::string last = std::string(ns) + "0";
      for (auto it = objects_.lower_bound(first); it != objects_.end() && it->first < last; ++it) {
        found.push_back(it->second);
      }
    }
  }
  return decode_all(found);
}

std::vector<Store::Object> Store::list_by_owner(std::string_view owner_uid) const {
  std::vector<Encoded> found;
  {
    kube::ReaderLock lock(mu_);
    auto it = by_owner_.find(owner_uid);
    found = lookup_locked(it == by_owner_.end() ? nullptr : &it->second);
  }
  return decode_all(found);
}

std::vector<Store::Object> Store::list_by_label(std::string_view key,
                                                std::string_view value) const {
  std::string pair = std::string(key) + "=" + std::string(value);
  std::vector<Encoded> found;
  {
    kube::ReaderLock lock(mu_);
    auto it = by_label_.find(pair);
    found = lookup_locked(it == by_label_.end() ? nullptr : &it->second);
  }
  return decode_all(found);
}

std::size_t Store::size() const {
  kube::ReaderLock lock(mu_);
  return objects_.size();
}

std::vector<std::string> Store::keys() const {
  std::vector<std::string> out;
  kube::ReaderLock lock(mu_);
  out.reserve(objects_.size());
  for (const auto& [key, encoded] : objects_) out.push_back(key);
  return out;
}

Store::Object Store::upsert(Object object, Old old) {
  std::string key = object_key(*object);
  std::vector<std::uint8_t> bytes = nlohmann::json::to_cbor(*object);
  bytes.shrink_to_fit();  // the encoder grows it by doubling
  auto encoded = std::make_shared<const std::vector<std::uint8_t>>(std::move(bytes));
  Encoded replaced;
  Object replaced_metadata;
  {
    kube::WriterLock lock(mu_);
    auto& slot = objects_[key];
    // The indexes of the replaced object are in its metadata, which is
    // in its encoding only.
    if (slot) {
      replaced_metadata = decode_metadata(*slot);
      unindex_locked(key, *replaced_metadata);
    }
    index_locked(key, *object);
    replaced = std::exchange(slot, std::move(encoded));
  }
  if (!replaced || old == Old::Metadata) return replaced_metadata;
  return decode(*replaced);  // immutable: no lock needed
}

Store::Object Store::erase(const std::string& key) {
  kube::WriterLock lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return nullptr;
  Object old = decode(*it->second);
  objects_.erase(it);
  unindex_locked(key, *old);
  return old;
}

void Store::index_locked(const std::string& key, const nlohmann::json& object) {
  if (auto uid = owner_uid(object); !uid.empty()) by_owner_[uid].insert(key);
  for (auto& pair : label_pairs(object)) by_label_[pair].insert(key);
}

void Store::unindex_locked(const std::string& key, const nlohmann::json& object) {
  // Empty index entries are dropped so the indexes shrink with the cache.
  auto drop = [&key](auto& index, const std::string& entry) {
    auto it = index.find(entry);
    if (it == index.end()) return;
    it->second.erase(key);
    if (it->second.empty()) index.erase(it);
  };
  if (auto uid = owner_uid(object); !uid.empty()) drop(by_owner_, uid);
  for (auto& pair : label_pairs(object)) drop(by_label_, pair);
}

std::vector<Store::Encoded> Store::lookup_locked(const std::set<std::string>* keys) const {
  std::vector<Encoded> out;
  if (keys == nullptr) return out;
  out.reserve(keys->size());
  for (const auto& key : *keys) {
    if (auto it = objects_.find(key); it != objects_.end()) out.push_back(it->second);
  }
  return out;
}

}  // namespace runtime
