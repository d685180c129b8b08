// Spec parsing and validation: any JSON object as a Sreracha. Bad input ends
// in SpecError (an InvalidSpec condition); anything else escaping would make
// the reconcile fail and retry for ever, so it aborts here.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "sreracha/render.h"
#include "sreracha/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto object = nlohmann::json::parse(data, data + size, nullptr, false);
  if (object.is_discarded()) return 0;
  try {
    const auto instance = sreracha::parse_instance(object);
    // A valid spec must render.
    (void)sreracha::render(instance);
  } catch (const sreracha::SpecError&) {
  }
  return 0;
}
