#include "support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace test_support {
namespace {

bool port_accepts(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

std::string app_binary() {
  const char* other = std::getenv("SRERACHA_APP_BINARY");
  return other != nullptr && *other != '\0' ? other : SRERACHA_APP_BINARY;
}

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/sreracha-app-test-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

Process::Process(const std::vector<std::string>& argv, const std::string& out_path,
                 const std::string& err_path, const std::map<std::string, std::string>& env) {
  // Everything the child needs is built before fork(): between fork and exec
  // only async-signal-safe calls (tests may have other threads running).
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry = *e;
    std::string name = entry.substr(0, entry.find('='));
    if (env.count(name) == 0) env_strings.push_back(entry);
  }
  for (const auto& [name, value] : env) {
    if (!value.empty()) env_strings.push_back(name + "=" + value);
  }
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);  // never the test's stdin
  int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  ::close(in);
  ::close(out);
  ::close(err);
}

Process::~Process() {
  if (running()) {
    signal(SIGKILL);
    wait(std::chrono::seconds(5));
  }
}

void Process::signal(int sig) const {
  if (pid_ > 0) ::kill(pid_, sig);
}

bool Process::running() {
  if (status_) return false;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) status_ = status;
  return !status_;
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  wait_until([this] { return !running(); }, timeout);
  return status_;
}

RedisServer::RedisServer(const std::string& dir, std::uint16_t port, std::vector<std::string> extra,
                         bool tls)
    : dir_(dir), port_(port), extra_(std::move(extra)), tls_(tls) {}

void RedisServer::start() {
  std::vector<std::string> argv = {
      "/usr/bin/redis-server", "--bind", "127.0.0.1", "--dir", dir_, "--save", "",
      "--daemonize",           "no"};
  if (tls_) {
    argv.insert(argv.end(), {"--port", "0", "--tls-port", std::to_string(port_)});
  } else {
    argv.insert(argv.end(), {"--port", std::to_string(port_)});
  }
  argv.insert(argv.end(), extra_.begin(), extra_.end());
  ++starts_;
  process_.reset();
  process_.emplace(argv, dir_ + "/redis.log", dir_ + "/redis.log");
  if (!wait_until([this] { return port_accepts(port_) || !process_->running(); },
                  std::chrono::seconds(10)) ||
      !process_->running()) {
    throw std::runtime_error("redis-server did not start on port " + std::to_string(port_) + ": " +
                             log());
  }
}

void RedisServer::kill_hard() {
  if (!process_) return;
  process_->signal(SIGKILL);
  process_->wait(std::chrono::seconds(5));
}

std::string RedisServer::log() const { return read_file(dir_ + "/redis.log"); }

App::App(const std::string& dir, const std::string& name, std::vector<std::string> args,
         std::map<std::string, std::string> env)
    : out_path_(dir + "/" + name + ".out"),
      err_path_(dir + "/" + name + ".err"),
      process_(
          [&] {
            std::vector<std::string> argv = {app_binary(), "--listen", "127.0.0.1:0"};
            argv.insert(argv.end(), args.begin(), args.end());
            return argv;
          }(),
          out_path_, err_path_, env) {
  // The app logs the port the kernel gave it: {"msg":"listening",...,"port":N,...}
  wait_until(
      [this] {
        std::string logs_now = logs();
        std::size_t at = logs_now.find("\"msg\":\"listening\"");
        if (at == std::string::npos) return !process_.running();
        std::size_t p = logs_now.find("\"port\":", at);
        port_ = static_cast<std::uint16_t>(std::stoi(logs_now.substr(p + 7)));
        return true;
      },
      std::chrono::seconds(10));
}

std::string App::logs() const { return read_file(out_path_); }
std::string App::stderr_text() const { return read_file(err_path_); }

bool App::wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) const {
  return wait_until([&] { return logs().find(needle) != std::string::npos; }, timeout);
}

}  // namespace test_support
