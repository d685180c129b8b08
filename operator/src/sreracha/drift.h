// drift: whether a cached child still is what the operator last applied.
//
// contains() compares what we set with what the server returns (which adds
// defaults and status). It cannot see a field we stopped setting, so each
// child also carries the hash of what was applied (kAppliedHashAnnotation):
// a changed hash makes the reconciler apply, and server-side apply then
// removes the fields it no longer owns.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace sreracha {

inline constexpr const char* kAppliedHashAnnotation = "sreracha.io/applied-hash";

// True when every field `desired` sets has the same value in `observed`
// (fields the server adds, like defaults and status, are ignored; an empty
// map or list we set may be omitted by the server; 1 equals 1.0).
bool contains(const nlohmann::json& observed, const nlohmann::json& desired);

// A stable hash (FNV-1a, 16 hex digits) of the object as it will be applied.
std::string applied_hash(const nlohmann::json& object);

}  // namespace sreracha
