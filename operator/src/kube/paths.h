// URL paths and query strings of the Kubernetes REST API.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kube/meta.h"

namespace kube {

// /api/v1/namespaces/<ns>/configmaps, /apis/apps/v1/deployments (ns ""),
// /apis/apiextensions.k8s.io/v1/customresourcedefinitions (cluster-scoped:
// ns ignored).
std::string collection_path(const Resource& r, std::string_view ns);
// collection_path + /<name>[/<subresource>]
std::string object_path(const Resource& r, std::string_view ns, std::string_view name,
                        std::string_view subresource = {});

// "?a=1&b=x%3Dy" from the non-empty values; "" when all are empty.
std::string query_string(const std::vector<std::pair<std::string, std::string>>& params);

// Names the object in messages: "configmaps default/web", "namespaces t1",
// "deployments/scale default/web", "configmaps in default" (a collection).
std::string describe(const Resource& r, std::string_view ns, std::string_view name,
                     std::string_view subresource = {});

}  // namespace kube
