#include "kube/tls.h"

#include <cstdlib>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

namespace kube::tls {

namespace {

constexpr const char* kEmptyFile = "/dev/null";

struct Original {
  bool isolated = false;
  std::optional<std::string> cert_file;
};

Original& original() {
  static Original value;
  return value;
}

std::optional<std::string> env(const char* name) {
  const char* value = std::getenv(name);
  return value ? std::optional<std::string>(value) : std::nullopt;
}

}  // namespace

void isolate_default_trust() {
  auto& o = original();
  if (o.isolated) return;
  o.cert_file = env(X509_get_default_cert_file_env());
  o.isolated = true;
  setenv(X509_get_default_cert_file_env(), kEmptyFile, 1);
}

std::optional<std::string> original_cert_file() {
  const auto& o = original();
  return o.isolated ? o.cert_file : env(X509_get_default_cert_file_env());
}

X509_STORE* system_trust() {
  static X509_STORE* const store = [] {
    X509_STORE* s = X509_STORE_new();
    const std::string file = original_cert_file().value_or(X509_get_default_cert_file());
    const std::string dir =
        env(X509_get_default_cert_dir_env()).value_or(X509_get_default_cert_dir());
    // Either may be missing (a bundle without the hashed directory, or the
    // reverse), as with OpenSSL's own default paths: failures are not errors.
    X509_STORE_load_file(s, file.c_str());
    X509_STORE_load_path(s, dir.c_str());
    ERR_clear_error();
    return s;
  }();
  return store;
}

}  // namespace kube::tls
