// The watch-stream decoder: any bytes as a watch response body, cut into two
// reads at a place the input chooses. Bad input ends in WatchDecodeError (the
// informer lists again); anything else aborts here.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kube/watch_decoder.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t cut = body.empty() ? 0 : data[0] % (body.size() + 1);
  kube::WatchDecoder decoder(4096);
  auto accept = [](kube::WatchEvent&&) { return true; };
  try {
    decoder.feed(body.substr(0, cut), accept);
    decoder.feed(body.substr(cut), accept);
    decoder.finish(accept);
  } catch (const kube::WatchDecodeError&) {
  }
  return 0;
}
