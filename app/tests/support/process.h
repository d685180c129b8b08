// Child processes for the integration tests: redis-server and the app, each
// started on 127.0.0.1 with ports of its own, stopped by its PID (never by
// name), with stdout and stderr in files the test reads.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace test_support {

// A fresh directory under $TMPDIR, removed with everything in it.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_file(const std::string& path);

// A loopback port that was free a moment ago (bound to port 0, then closed).
std::uint16_t free_port();

// Polls `condition` every 20 ms until it holds or `timeout` passes.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

class Process {
 public:
  // Starts argv[0] (a path) with the current environment plus `env`
  // (an empty value unsets), stdout to `out_path`, stderr to `err_path`.
  Process(const std::vector<std::string>& argv, const std::string& out_path,
          const std::string& err_path, const std::map<std::string, std::string>& env = {});
  ~Process();  // SIGKILL and reap if still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig) const;
  // The exit status (as from waitpid) once it exited, or nullopt after timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running();

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

// redis-server on 127.0.0.1:port with its files in dir. `extra` are more
// redis-server arguments ("--requirepass", "pw", ...). With tls set, `port`
// is the TLS port and the plain port is off.
class RedisServer {
 public:
  RedisServer(const std::string& dir, std::uint16_t port, std::vector<std::string> extra = {},
              bool tls = false);
  std::uint16_t port() const { return port_; }
  void start();      // waits until it accepts connections
  void kill_hard();  // SIGKILL, as a crash or OOM kill would
  std::string log() const;

 private:
  std::string dir_;
  std::uint16_t port_;
  std::vector<std::string> extra_;
  bool tls_;
  int starts_ = 0;
  std::optional<Process> process_;
};

// The app binary under test: $SRERACHA_APP_BINARY (e.g. the sanitizer
// build's) or else the one this test was built with.
std::string app_binary();

// The app (app_binary()) listening on 127.0.0.1, a port of its own.
class App {
 public:
  App(const std::string& dir, const std::string& name, std::vector<std::string> args,
      std::map<std::string, std::string> env = {});
  // 0 until the app logged its "listening" line; start() waits for it.
  std::uint16_t port() const { return port_; }
  std::string logs() const;  // stdout: the JSON lines
  std::string stderr_text() const;
  // Waits until the logs contain `needle`.
  bool wait_for_log(const std::string& needle, std::chrono::milliseconds timeout) const;
  Process& process() { return process_; }

 private:
  std::string out_path_;
  std::string err_path_;
  Process process_;
  std::uint16_t port_ = 0;
};

// How many times `needle` occurs in `text`.
std::size_t count_of(const std::string& text, const std::string& needle);

}  // namespace test_support
