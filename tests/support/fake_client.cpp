#include "support/fake_client.h"

#include <stdexcept>

#include "kube/paths.h"

namespace support {

using nlohmann::json;

namespace {

std::string resource_id(const kube::Resource& r) { return r.group + "/" + r.resource; }

std::string object_id(const kube::Resource& r, std::string_view ns, std::string_view name) {
  return std::string(r.namespaced ? ns : "") + "/" + std::string(name);
}

// The start of the keys of FakeClient::applied_ for one object; the field
// manager's name follows.
std::string applied_prefix(const kube::Resource& r, std::string_view ns, std::string_view name) {
  return resource_id(r) + "/" + object_id(r, ns, name) + "#";
}

[[noreturn]] void not_found(const kube::Resource& r, std::string_view ns, std::string_view name,
                            const std::string& verb) {
  kube::throw_api_error({404, "NotFound", r.resource + " \"" + std::string(name) + "\" not found"},
                        verb + " " + kube::describe(r, ns, name));
}

[[noreturn]] void conflict(const kube::Resource& r, std::string_view ns, std::string_view name,
                           const std::string& verb, const std::string& message) {
  kube::throw_api_error({409, "Conflict", message}, verb + " " + kube::describe(r, ns, name));
}

// Removes from `object` what `previous` set and `next` no longer sets: the
// fields a manager gave up (maps by key; a list or value is one field).
void drop_given_up(json& object, const json& previous, const json& next) {
  if (!object.is_object() || !previous.is_object()) return;
  for (auto it = previous.begin(); it != previous.end(); ++it) {
    auto found = object.find(it.key());
    if (found == object.end()) continue;
    if (!next.is_object() || !next.contains(it.key())) {
      object.erase(found);
    } else if (it->is_object()) {
      drop_given_up(*found, *it, next.at(it.key()));
    }
  }
}

// Sets what `applied` sets: maps merged by key, lists and values replaced.
void merge_applied(json& object, const json& applied) {
  if (!applied.is_object() || !object.is_object()) {
    object = applied;
    return;
  }
  for (auto it = applied.begin(); it != applied.end(); ++it) merge_applied(object[it.key()], *it);
}

bool matches(const json& object, const std::string& selector) {
  if (selector.empty()) return true;
  const json labels = object["metadata"].value("labels", json::object());
  std::size_t start = 0;
  while (start <= selector.size()) {
    const auto comma = std::min(selector.find(',', start), selector.size());
    const std::string term = selector.substr(start, comma - start);
    const auto eq = term.find('=');
    if (term.find_first_of("!()") != std::string::npos || term.find(" in ") != std::string::npos) {
      throw std::logic_error("FakeClient: unsupported label selector \"" + selector + "\"");
    }
    if (eq == std::string::npos) {
      if (!labels.contains(term)) return false;
    } else if (labels.value(term.substr(0, eq), "") != term.substr(eq + 1)) {
      return false;
    }
    start = comma + 1;
  }
  return true;
}

}  // namespace

FakeClient::FakeClient() {
  config_.server = "https://fake.invalid";
  config_.namespace_ = "default";
  config_.source = "FakeClient";
}

FakeClient::Objects& FakeClient::objects_of(const kube::Resource& r) {
  return objects_[resource_id(r)];
}

nlohmann::json& FakeClient::stored_or_throw(const kube::Resource& r, std::string_view ns,
                                            std::string_view name, const std::string& verb) {
  auto& objects = objects_of(r);
  auto it = objects.find(object_id(r, ns, name));
  if (it == objects.end()) not_found(r, ns, name, verb);
  return it->second;
}

void FakeClient::record(std::string verb, const kube::Resource& r, std::string_view ns,
                        std::string_view name, std::string_view subresource) {
  requests_.push_back(
      {verb, r.resource, std::string(ns), std::string(name), std::string(subresource)});
  auto it = failures_.find(verb + " " + r.resource);
  if (it == failures_.end()) return;
  const kube::ApiError error = it->second;
  failures_.erase(it);
  throw error;
}

void FakeClient::bump(json& object, const json& before) {
  auto& meta = object["metadata"];
  meta["resourceVersion"] = std::to_string(next_resource_version_++);
  json spec_now = object;
  json spec_before = before;
  for (json* o : {&spec_now, &spec_before}) {
    if (!o->is_object()) continue;
    o->erase("metadata");
    o->erase("status");
  }
  if (!before.is_null() && spec_now != spec_before) {
    meta["generation"] = before["metadata"].value("generation", 1) + 1;
  }
}

json FakeClient::insert(const kube::Resource& r, std::string_view ns, json object) {
  auto& meta = object["metadata"];
  if (r.namespaced) meta["namespace"] = std::string(ns);
  meta["uid"] = "uid-" + std::to_string(next_uid_++);
  meta["generation"] = 1;
  // A test may give the time (a pod as old as the test needs); the API
  // server would set it.
  if (!meta.contains("creationTimestamp")) meta["creationTimestamp"] = "2026-01-01T00:00:00Z";
  bump(object, json());
  objects_of(r)[object_id(r, ns, meta.value("name", ""))] = object;
  return object;
}

json FakeClient::get(const kube::Resource& r, std::string_view ns, std::string_view name,
                     std::string_view subresource, const kube::Context& ctx) {
  ctx.check("get " + kube::describe(r, ns, name));
  std::lock_guard lock(mu_);
  record("get", r, ns, name, subresource);
  return stored_or_throw(r, ns, name, "get");
}

json FakeClient::list(const kube::Resource& r, std::string_view ns,
                      const kube::ListOptions& options, const kube::Context& ctx) {
  ctx.check("list " + kube::describe(r, ns, {}));
  std::lock_guard lock(mu_);
  record("list", r, ns, {}, {});
  json items = json::array();
  for (const auto& [id, object] : objects_of(r)) {
    if (!ns.empty() && object["metadata"].value("namespace", "") != ns) continue;
    if (matches(object, options.label_selector)) items.push_back(object);
  }
  return {{"kind", "List"},
          {"metadata", {{"resourceVersion", std::to_string(next_resource_version_ - 1)}}},
          {"items", std::move(items)}};
}

json FakeClient::create(const kube::Resource& r, std::string_view ns, const json& object,
                        std::string_view subresource, const kube::Context& ctx) {
  const std::string name = object["metadata"].value("name", "");
  ctx.check("create " + kube::describe(r, ns, name));
  std::lock_guard lock(mu_);
  record("create", r, ns, name, subresource);
  if (!subresource.empty()) throw std::logic_error("FakeClient: create of a subresource");
  if (objects_of(r).count(object_id(r, ns, name))) {
    kube::throw_api_error({409, "AlreadyExists", r.resource + " \"" + name + "\" already exists"},
                          "create " + kube::describe(r, ns, name));
  }
  return insert(r, ns, object);
}

json FakeClient::replace(const kube::Resource& r, std::string_view ns, std::string_view name,
                         const json& object, std::string_view subresource,
                         const kube::Context& ctx) {
  ctx.check("update " + kube::describe(r, ns, name));
  std::lock_guard lock(mu_);
  record("update", r, ns, name, subresource);
  json& stored = stored_or_throw(r, ns, name, "update");
  const std::string wanted_rv = object["metadata"].value("resourceVersion", "");
  if (!wanted_rv.empty() && wanted_rv != stored["metadata"].value("resourceVersion", "")) {
    conflict(r, ns, name, "update",
             "the object has been modified; please apply your changes to the latest version "
             "and try again");
  }
  const json before = stored;
  json next = before;
  if (subresource == "status") {
    next["status"] = object.value("status", json::object());
  } else {
    next = object;
    next["metadata"]["uid"] = before["metadata"]["uid"];
    next["metadata"]["creationTimestamp"] = before["metadata"]["creationTimestamp"];
    next["metadata"]["generation"] = before["metadata"]["generation"];
    if (before.contains("status")) next["status"] = before["status"];
  }
  bump(next, before);
  stored = next;
  return next;
}

json FakeClient::merge_patch(const kube::Resource& r, std::string_view ns, std::string_view name,
                             const json& patch, std::string_view subresource,
                             const kube::Context& ctx, const kube::PatchOptions& options) {
  ctx.check("patch " + kube::describe(r, ns, name));
  std::lock_guard lock(mu_);
  record("patch", r, ns, name, subresource);
  json& stored = stored_or_throw(r, ns, name, "patch");
  const json before = stored;
  if (patch.contains("/metadata/uid"_json_pointer)) {
    const std::string uid = patch["metadata"]["uid"];
    if (uid != before["metadata"].value("uid", "")) {
      conflict(r, ns, name, "patch",
               "Precondition failed: UID in precondition: " + uid +
                   ", UID in object meta: " + before["metadata"].value("uid", ""));
    }
  }
  json next = before;
  if (subresource == "status") {
    if (patch.contains("status")) next["status"].merge_patch(patch["status"]);
  } else {
    json body = patch;
    body.erase("status");
    next.merge_patch(body);
  }
  bump(next, before);
  stored = next;
  return options.want_object ? next : json();
}

json FakeClient::apply(const kube::Resource& r, std::string_view ns, std::string_view name,
                       const json& object, const kube::ApplyOptions& options,
                       std::string_view subresource, const kube::Context& ctx) {
  ctx.check("apply " + kube::describe(r, ns, name));
  std::lock_guard lock(mu_);
  record("apply", r, ns, name, subresource);
  if (options.field_manager.empty()) {
    kube::throw_api_error({422, "Invalid", "fieldManager: Required value"},
                          "apply " + kube::describe(r, ns, name));
  }
  json applied = object;
  if (subresource.empty()) applied.erase("status");
  const std::string manager_key = applied_prefix(r, ns, name) + options.field_manager;
  auto& objects = objects_of(r);
  auto it = objects.find(object_id(r, ns, name));
  if (it == objects.end()) {
    applied_[manager_key] = applied;
    json inserted = insert(r, ns, applied);
    return options.want_object ? inserted : json();
  }
  const json before = it->second;
  json next = before;
  if (auto previous = applied_.find(manager_key); previous != applied_.end()) {
    drop_given_up(next, previous->second, applied);
  }
  merge_applied(next, applied);
  next["metadata"]["uid"] = before["metadata"]["uid"];
  next["metadata"]["generation"] = before["metadata"]["generation"];
  applied_[manager_key] = applied;
  bump(next, before);
  it->second = next;
  return options.want_object ? next : json();
}

void FakeClient::remove(const kube::Resource& r, std::string_view ns, std::string_view name,
                        const kube::DeleteOptions& options, const kube::Context& ctx) {
  ctx.check("delete " + kube::describe(r, ns, name));
  std::lock_guard lock(mu_);
  record("delete", r, ns, name, {});
  erase(r, ns, name, options);
}

void FakeClient::erase(const kube::Resource& r, std::string_view ns, std::string_view name,
                       const kube::DeleteOptions& options) {
  auto& objects = objects_of(r);
  auto it = objects.find(object_id(r, ns, name));
  if (it == objects.end()) return;  // gone already, as Client::remove reports it
  if (options.precondition_uid &&
      *options.precondition_uid != it->second["metadata"].value("uid", "")) {
    conflict(r, ns, name, "delete",
             "Precondition failed: UID in precondition: " + *options.precondition_uid);
  }
  objects.erase(it);
  const std::string prefix = applied_prefix(r, ns, name);
  std::erase_if(applied_, [&](const auto& entry) { return entry.first.starts_with(prefix); });
}

void FakeClient::evict(std::string_view ns, std::string_view pod,
                       const kube::DeleteOptions& options, const kube::Context& ctx) {
  ctx.check("evict " + kube::describe(kube::resources::pods, ns, pod));
  std::lock_guard lock(mu_);
  record("evict", kube::resources::pods, ns, pod, "eviction");  // one request, as Client::evict
  erase(kube::resources::pods, ns, pod, options);
}

void FakeClient::watch(const kube::Resource& r, std::string_view, const kube::WatchOptions&,
                       const std::function<bool(kube::WatchEvent&&)>&, const kube::Context&) {
  throw std::logic_error("FakeClient: watch " + r.resource +
                         " is not offered; fill the caches from objects()");
}

json FakeClient::put(const kube::Resource& r, json object) {
  std::lock_guard lock(mu_);
  const std::string ns = object["metadata"].value("namespace", "");
  const std::string name = object["metadata"].value("name", "");
  auto& objects = objects_of(r);
  auto it = objects.find(object_id(r, ns, name));
  if (it == objects.end()) return insert(r, ns, std::move(object));
  const json before = it->second;
  object["metadata"]["uid"] = before["metadata"]["uid"];
  object["metadata"]["generation"] = before["metadata"]["generation"];
  bump(object, before);
  it->second = object;
  return object;
}

json FakeClient::patch(const kube::Resource& r, std::string_view ns, std::string_view name,
                       const json& patch) {
  std::lock_guard lock(mu_);
  json& stored = stored_or_throw(r, ns, name, "patch");
  const json before = stored;
  stored.merge_patch(patch);
  bump(stored, before);
  return stored;
}

std::optional<json> FakeClient::object(const kube::Resource& r, std::string_view ns,
                                       std::string_view name) const {
  std::lock_guard lock(mu_);
  auto by_resource = objects_.find(resource_id(r));
  if (by_resource == objects_.end()) return std::nullopt;
  auto it = by_resource->second.find(object_id(r, ns, name));
  if (it == by_resource->second.end()) return std::nullopt;
  return it->second;
}

std::vector<json> FakeClient::objects(const kube::Resource& r) const {
  std::lock_guard lock(mu_);
  std::vector<json> out;
  auto by_resource = objects_.find(resource_id(r));
  if (by_resource == objects_.end()) return out;
  for (const auto& [id, object] : by_resource->second) out.push_back(object);
  return out;
}

std::vector<FakeClient::Request> FakeClient::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

std::vector<FakeClient::Request> FakeClient::writes() const {
  std::vector<Request> out;
  for (auto& request : requests()) {
    if (request.is_write()) out.push_back(request);
  }
  return out;
}

void FakeClient::clear_requests() {
  std::lock_guard lock(mu_);
  requests_.clear();
}

void FakeClient::fail_next(std::string verb, std::string resource, kube::ApiError error) {
  std::lock_guard lock(mu_);
  failures_.insert_or_assign(verb + " " + resource, std::move(error));
}

}  // namespace support
