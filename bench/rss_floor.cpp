// The least resident memory any operator built on cpprestsdk can have: a
// program that makes one HTTPS request with it and does nothing else, not
// even verify the server's certificate (which would only add to it), nor
// load the system's CAs (the operator does not either: kube/tls.h). Prints
//
//   rss_floor: rss_mib=.. anon_mib=.. file_mib=.. code=<HTTP status>
//
// bench/scale.sh runs it beside the operator's empty_rss_mib, so the part of
// that figure no operator code can remove is measured, not assumed.
//
//   rss_floor <https://host:port>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include <cpprest/http_client.h>
#include <openssl/x509.h>

namespace {

// VmRSS, RssAnon and RssFile of /proc/self/status, in KiB.
std::map<std::string, double> status_kib() {
  std::map<std::string, double> out;
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto name = line.substr(0, colon);
    if (name == "VmRSS" || name == "RssAnon" || name == "RssFile") {
      out[name] = std::stod(line.substr(colon + 1));
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: rss_floor <https://host:port>\n";
    return 2;
  }
  // cpprestsdk loads OpenSSL's default CA file into every connection's
  // context; pointed at an empty one, as kube::tls::isolate_default_trust()
  // does for the operator (not linked here: only cpprestsdk is).
  setenv(X509_get_default_cert_file_env(), "/dev/null", 1);
  int code = 0;
  try {
    web::http::client::http_client_config config;
    config.set_validate_certificates(false);
    web::http::client::http_client client(web::uri(argv[1]), config);
    auto response = client.request(web::http::methods::GET, "/readyz").get();
    code = response.status_code();
    response.extract_string().get();
  } catch (const std::exception& e) {
    std::cerr << "rss_floor: the request failed: " << e.what() << "\n";
    return 1;
  }
  auto kib = status_kib();
  std::cout.setf(std::ios::fixed);
  std::cout.precision(1);
  std::cout << "rss_floor: rss_mib=" << kib["VmRSS"] / 1024 << " anon_mib=" << kib["RssAnon"] / 1024
            << " file_mib=" << kib["RssFile"] / 1024 << " code=" << code << "\n";
  return 0;
}
