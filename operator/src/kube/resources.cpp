#include <cctype>
#include <cstdio>

#include "kube/client.h"
#include "kube/paths.h"

namespace kube {

namespace resources {
const Resource configmaps{"", "v1", "configmaps"};
const Resource secrets{"", "v1", "secrets"};
const Resource pods{"", "v1", "pods"};
const Resource services{"", "v1", "services"};
const Resource events{"", "v1", "events"};
const Resource namespaces{"", "v1", "namespaces", false};
const Resource serviceaccounts{"", "v1", "serviceaccounts"};
const Resource persistentvolumeclaims{"", "v1", "persistentvolumeclaims"};
const Resource deployments{"apps", "v1", "deployments"};
const Resource replicasets{"apps", "v1", "replicasets"};
const Resource endpointslices{"discovery.k8s.io", "v1", "endpointslices"};
const Resource networkpolicies{"networking.k8s.io", "v1", "networkpolicies"};
const Resource poddisruptionbudgets{"policy", "v1", "poddisruptionbudgets"};
const Resource ingresses{"networking.k8s.io", "v1", "ingresses"};
const Resource leases{"coordination.k8s.io", "v1", "leases"};
const Resource customresourcedefinitions{"apiextensions.k8s.io", "v1", "customresourcedefinitions",
                                         false};
}  // namespace resources

std::string collection_path(const Resource& r, std::string_view ns) {
  std::string path = r.group.empty() ? "/api/" + r.version : "/apis/" + r.group + "/" + r.version;
  if (r.namespaced && !ns.empty()) {
    path += "/namespaces/";
    path += ns;
  }
  path += "/";
  path += r.resource;
  return path;
}

std::string object_path(const Resource& r, std::string_view ns, std::string_view name,
                        std::string_view subresource) {
  std::string path = collection_path(r, ns);
  path += "/";
  path += name;
  if (!subresource.empty()) {
    path += "/";
    path += subresource;
  }
  return path;
}

namespace {
// RFC 3986 unreserved characters pass; everything else is %XX. Selectors
// ("app in (a,b)", "x!=y") and continue tokens (base64) need this.
std::string escape(std::string_view value) {
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}
}  // namespace

std::string query_string(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string query;
  for (const auto& [key, value] : params) {
    if (value.empty()) continue;
    query += query.empty() ? "?" : "&";
    query += key + "=" + escape(value);
  }
  return query;
}

std::string describe(const Resource& r, std::string_view ns, std::string_view name,
                     std::string_view subresource) {
  std::string text = r.resource;
  if (!subresource.empty()) {
    text += "/";
    text += subresource;
  }
  const bool has_ns = r.namespaced && !ns.empty();
  if (name.empty()) {
    text +=
        has_ns ? " in " + std::string(ns) : std::string(r.namespaced ? " in all namespaces" : "");
  } else {
    text += " ";
    if (has_ns) {
      text += ns;
      text += "/";
    }
    text += name;
  }
  return text;
}

}  // namespace kube
