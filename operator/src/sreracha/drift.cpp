#include "sreracha/drift.h"

#include <cstdint>
#include <cstdio>

namespace sreracha {

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

}  // namespace sreracha
