// sreracha-operator: keeps Sreracha instances available on Kubernetes.
#include <CLI/CLI.hpp>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"sreracha-operator: keeps sreracha instances available on Kubernetes"};
  app.set_version_flag("--version", std::string("sreracha-operator ") + SRERACHA_VERSION);
  CLI11_PARSE(app, argc, argv);
  return 0;
}
