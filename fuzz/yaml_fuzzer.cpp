// The YAML reader (render -f, the CRD and examples in tests): any text.
// Malformed YAML ends in std::runtime_error; what it reads must come back the
// same through to_yaml (which promises to round-trip); anything else aborts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "sreracha/yaml.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<nlohmann::json> documents;
  try {
    documents =
        sreracha::load_yaml_documents(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const std::runtime_error&) {
    return 0;
  }
  const std::string text = sreracha::to_yaml(documents);
  if (sreracha::load_yaml_documents(text) != documents) std::abort();
  return 0;
}
