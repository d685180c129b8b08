#include "runtime/children.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace runtime {

using nlohmann::json;

namespace {

// The value of a Kubernetes resource quantity ("500m", "1Gi", "1e3", 0.5),
// or nothing when `text` is not one.
std::optional<long double> parse_quantity(std::string_view text) {
  std::size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
  const std::size_t digits_start = i;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  if (i == digits_start) return std::nullopt;
  long double number = 0;
  try {
    number = std::stold(std::string(text.substr(0, i)));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const std::string_view suffix = text.substr(i);
  // Sub-units divide: 1e-3 has no exact binary form, and 1000 * 1e-3 is not
  // 1, but 1000 / 1000 is.
  static const std::pair<std::string_view, long double> kDivisors[] = {
      {"n", 1e9L}, {"u", 1e6L}, {"m", 1e3L}};
  static const std::pair<std::string_view, long double> kMultipliers[] = {
      {"", 1},
      {"k", 1e3L},
      {"M", 1e6L},
      {"G", 1e9L},
      {"T", 1e12L},
      {"P", 1e15L},
      {"E", 1e18L},
      {"Ki", 1024.0L},
      {"Mi", 1048576.0L},
      {"Gi", 1073741824.0L},
      {"Ti", 1099511627776.0L},
      {"Pi", 1125899906842624.0L},
      {"Ei", 1152921504606846976.0L}};
  for (const auto& [name, divisor] : kDivisors) {
    if (suffix == name) return number / divisor;
  }
  for (const auto& [name, factor] : kMultipliers) {
    if (suffix == name) return number * factor;
  }
  if (suffix.size() > 1 && (suffix[0] == 'e' || suffix[0] == 'E')) {
    std::size_t j = 1;
    if (suffix[j] == '+' || suffix[j] == '-') ++j;
    if (j == suffix.size()) return std::nullopt;
    for (std::size_t k = j; k < suffix.size(); ++k) {
      if (suffix[k] < '0' || suffix[k] > '9') return std::nullopt;
    }
    return number * std::pow(10.0L, std::stold(std::string(suffix.substr(1))));
  }
  return std::nullopt;
}

// A value the API server omits when it is set to it (Go's omitempty).
bool zero_value(const json& value) {
  if (value.is_object() || value.is_array()) return value.empty();
  if (value.is_string()) return value.get_ref<const std::string&>().empty();
  if (value.is_boolean()) return !value.get<bool>();
  return value.is_number() && value == 0;
}

}  // namespace

std::optional<long double> quantity_value(const json& value) {
  if (value.is_number()) return value.get<long double>();
  if (value.is_string()) return parse_quantity(value.get_ref<const std::string&>());
  return std::nullopt;
}

bool contains(const json& observed, const json& desired) {
  if (desired.is_object()) {
    if (!observed.is_object()) return false;
    for (auto it = desired.begin(); it != desired.end(); ++it) {
      auto found = observed.find(it.key());
      if (found == observed.end()) {
        // An empty value we set (a map, a list, "", false, 0) may be omitted
        // by the server.
        if (zero_value(*it)) continue;
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
  if (observed == desired) return true;
  // Quantities come back in canonical form: cpu 0.5 as "500m", "1024Mi" as
  // "1Gi". Equal values are equal (within rounding of the decimal form).
  if (observed.is_string() && (desired.is_string() || desired.is_number())) {
    const auto a = quantity_value(observed);
    const auto b = quantity_value(desired);
    if (a && b) return std::fabs(*a - *b) <= 1e-9L * std::max(std::fabs(*a), std::fabs(*b));
  }
  return false;
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
  // What the server answers is not read: the watch brings it to the cache.
  kube::ApplyOptions apply = options.apply;
  apply.want_object = false;
  for (auto& [key, object] : desired) {
    object["metadata"]["annotations"][options.hash_annotation] = applied_hash(object);
    wanted.insert(key);
    const auto current = observed(key);
    if (current && contains(*current, object)) continue;
    try {
      try {
        client.apply(key.resource, ns, key.name, object, apply, {}, ctx);
      } catch (const kube::ApiError& e) {
        if (!current || !immutable_field(e)) throw;
        kube::DeleteOptions remove;
        remove.precondition_uid = current->at("metadata").value("uid", "");
        client.remove(key.resource, ns, key.name, remove, ctx);
        changes.push_back({ChildChange::Action::Deleted, key});
        client.apply(key.resource, ns, key.name, object, apply, {}, ctx);
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
