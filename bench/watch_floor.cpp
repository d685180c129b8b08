// The least CPU cpprestsdk spends receiving watch streams: it opens the
// watches it is given, reads their bytes and counts lines (events), and does
// nothing else: no JSON, no cache, no requests. All of cpprestsdk's work runs
// on one pool thread, its cheapest set-up. The server's certificate is not
// verified (that would only add to it). Until SIGTERM or SIGINT; then prints
//
//   watch_floor: cpu_s=.. bytes=.. events=.. watches=..
//
// bench/scale.sh runs it beside the operator with the watches that carry the
// run's objects, so the part of cpu_s that no operator code on cpprestsdk
// can remove is measured, not assumed.
//
//   watch_floor <path?query> ...
// Server and credentials: the kubeconfig, as the operator finds it; a client
// certificate or a static token (enough for the local control plane).
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <cpprest/http_client.h>
#include <pplx/threadpool.h>
#include <boost/asio/ssl.hpp>

#include "kube/config.h"
#include "kube/tls.h"

namespace {

namespace http = web::http;

std::atomic<std::uint64_t> bytes{0};
std::atomic<std::uint64_t> events{0};

void count(const std::uint8_t* data, std::size_t n) {
  bytes += n;
  events += static_cast<std::uint64_t>(std::count(data, data + n, '\n'));
}

// One watch: the response's body is read as it comes, one pending read at a
// time, each continuation issuing the next.
class Watch : public std::enable_shared_from_this<Watch> {
 public:
  Watch(std::shared_ptr<http::client::http_client> client, http::http_request request)
      : client_(std::move(client)), request_(std::move(request)) {}

  void start() {
    client_->request(request_).then([self = shared_from_this()](pplx::task<http::http_response> t) {
      try {
        auto response = t.get();
        if (response.status_code() != 200) {
          std::cerr << "watch_floor: " << self->request_.request_uri().to_string() << " -> "
                    << response.status_code() << "\n";
          return;
        }
        self->body_ = response.body().streambuf();
        self->next();
      } catch (const std::exception& e) {
        std::cerr << "watch_floor: " << e.what() << "\n";
      }
    });
  }

 private:
  using Body = concurrency::streams::streambuf<std::uint8_t>;

  // Waits for one byte (the only read that waits), then takes what is buffered.
  void next() {
    body_.bumpc().then([self = shared_from_this()](pplx::task<int> t) {
      int first = 0;
      try {
        first = t.get();
      } catch (const std::exception&) {
        return;  // the stream broke: this watch is over
      }
      if (first == Body::traits::eof()) return;
      const auto byte = static_cast<std::uint8_t>(first);
      count(&byte, 1);
      const auto available = std::min<std::size_t>(self->body_.in_avail(), self->buffer_.size());
      if (available == 0) {
        self->next();
        return;
      }
      self->body_.getn(self->buffer_.data(), available).then([self](pplx::task<std::size_t> read) {
        try {
          count(self->buffer_.data(), read.get());
        } catch (const std::exception&) {
          return;  // as above
        }
        self->next();
      });
    });
  }

  std::shared_ptr<http::client::http_client> client_;
  http::http_request request_;
  Body body_;
  std::vector<std::uint8_t> buffer_ = std::vector<std::uint8_t>(256 * 1024);
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: watch_floor <path?query> ...\n";
    return 2;
  }
  // As the operator does: no system CA bundle parsed per connection.
  kube::tls::isolate_default_trust();
  // SIGTERM and SIGINT are taken by sigwait below, not by any thread.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  crossplat::threadpool::initialize_with_threads(1);

  kube::Config config;
  try {
    config = kube::load_config();
  } catch (const std::exception& e) {
    std::cerr << "watch_floor: " << e.what() << "\n";
    return 1;
  }
  http::client::http_client_config client_config;
  client_config.set_validate_certificates(false);
  client_config.set_timeout(std::chrono::hours(24));
  client_config.set_ssl_context_callback(
      [cert = config.client_cert_pem, key = config.client_key_pem](boost::asio::ssl::context& ctx) {
        if (cert.empty()) return;
        ctx.use_certificate_chain(boost::asio::buffer(cert));
        ctx.use_private_key(boost::asio::buffer(key), boost::asio::ssl::context::pem);
      });
  auto client = std::make_shared<http::client::http_client>(web::uri(config.server), client_config);

  std::vector<std::shared_ptr<Watch>> watches;
  for (int i = 1; i < argc; ++i) {
    http::http_request request(http::methods::GET);
    request.set_request_uri(argv[i]);
    request.headers().add("Accept", "application/json");
    if (!config.token.empty()) request.headers().add("Authorization", "Bearer " + config.token);
    watches.push_back(std::make_shared<Watch>(client, request));
    watches.back()->start();
  }

  int signal = 0;
  sigwait(&stop, &signal);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                     static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  std::cout.setf(std::ios::fixed);
  std::cout.precision(2);
  std::cout << "watch_floor: cpu_s=" << cpu << " bytes=" << bytes << " events=" << events
            << " watches=" << watches.size() << std::endl;
  // Open connections and pending reads are not worth an orderly shutdown.
  std::_Exit(0);
}
