// yaml: Kubernetes objects between nlohmann::json and YAML text (yaml-cpp).
//
// Scalars are typed the way kubectl (sigs.k8s.io/yaml, YAML 1.1) types them:
// plain `80` is a number, plain `yes`/`true` a bool, plain `~`/`null` null, and
// anything quoted a string. Emitting quotes every string that would read back
// as something else ("443", "true", "0"), so to_yaml output round-trips.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace YAML {
class Node;
}

namespace sreracha {

// One YAML node as JSON, scalars typed as described above.
nlohmann::json yaml_to_json(const YAML::Node& node);

// Every non-empty document of a (multi-document) YAML text.
// Throws std::runtime_error (yaml-cpp's ParserException) on malformed YAML.
std::vector<nlohmann::json> load_yaml_documents(const std::string& text);

// Same, reading a file; throws std::runtime_error if it cannot be read.
std::vector<nlohmann::json> load_yaml_file(const std::string& path);

// Multi-document YAML, each document introduced by "---". Keys come out in
// nlohmann::json's order (sorted), so equal inputs give byte-equal text.
std::string to_yaml(const std::vector<nlohmann::json>& documents);

}  // namespace sreracha
