// kube/meta: what every Kubernetes object has, in one place: how a resource
// is addressed, metav1.Time and MicroTime, and owner references. Pure
// functions over JSON; no I/O.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace kube {

// A REST resource: "deployments" in group "apps", version "v1". The core
// group is the empty string (served under /api/v1).
struct Resource {
  std::string group;
  std::string version;
  std::string resource;  // plural, lower case
  bool namespaced = true;

  std::string api_version() const;  // "apps/v1" or "v1"
};

namespace meta {

using TimePoint = std::chrono::system_clock::time_point;

// metav1.Time as the API server writes it: "2026-11-27T03:00:34Z" (whole
// seconds, UTC).
std::string format_time(TimePoint time);
// metav1.MicroTime: "2026-11-27T03:00:34.123456Z" (Leases, Events).
std::string format_micro_time(TimePoint time);
// RFC 3339 as servers and exec plugins write it: "Z" or a "+hh:mm"/"-hh:mm"
// offset, optional fractional seconds (kept to the microsecond). nullopt for
// anything else, trailing text included.
std::optional<TimePoint> parse_time(std::string_view text);
// The same for a field's JSON value; nullopt unless it is such a string.
std::optional<TimePoint> parse_time_value(const nlohmann::json& value);

// The ownerReference marked controller: true, or nullptr.
const nlohmann::json* controller_ref(const nlohmann::json& object);

}  // namespace meta
}  // namespace kube
