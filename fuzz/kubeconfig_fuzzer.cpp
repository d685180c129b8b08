// Kubeconfig parsing: any text as a kubeconfig file. Bad input ends in
// kube::ConfigError (one line, exit 1); anything else aborts here.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "kube/config.h"
#include "kube/errors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // A file of this process's own; files it names are read relative to it.
  static const std::string path = "/tmp/sreracha-kubeconfig-fuzz-" + std::to_string(::getpid());
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    (void)kube::load_kubeconfig({path}, "");
  } catch (const kube::ConfigError&) {
  }
  std::remove(path.c_str());
  return 0;
}
