// The message of the kube::ConfigError a call throws, for the kubeconfig and
// credentials tests.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "kube/errors.h"

// The message of the ConfigError `f` throws ("" and a failure if none).
template <typename F>
std::string config_error(F&& f) {
  try {
    f();
  } catch (const kube::ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError thrown";
  return {};
}
