// OpenSSL's default trust (the system's CAs), loaded once per process.
//
// cpprestsdk gives every connection it opens a new SSL context loaded with
// OpenSSL's default verify paths, which parses the whole system CA bundle
// (about 140 certificates) each time: measured 1.2 to 1.7 s of CPU and 15 MiB
// of RSS for the two dozen connections an idle operator opens at start, and
// thrown away at once when the kubeconfig names its own CA (client.cpp
// replaces the store). isolate_default_trust() points OpenSSL's default file
// at an empty one for this process, so that per-connection load costs
// nothing; system_trust() is the real default trust, loaded once, for the
// kube client without a CA of its own and the Redis check.
#pragma once

#include <optional>
#include <string>

#include <openssl/ossl_typ.h>

namespace kube::tls {

// Sets SSL_CERT_FILE for this process (after remembering its value). Call
// first thing in main: setenv must not race another thread's getenv.
void isolate_default_trust();

// The default trust as OpenSSL would load it without isolate_default_trust()
// (SSL_CERT_FILE and SSL_CERT_DIR, or OpenSSL's built-in paths), loaded on
// first use and shared; the caller takes it with SSL_CTX_set1_cert_store.
X509_STORE* system_trust();

// SSL_CERT_FILE as it was before isolate_default_trust() (nullopt: unset),
// for the environment of child processes.
std::optional<std::string> original_cert_file();

}  // namespace kube::tls
