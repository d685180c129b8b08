#include "counter.h"

#include <random>
#include <utility>

#include "eightball.h"
#include "log.h"

namespace sreracha {

std::chrono::milliseconds backoff_delay(const CounterOptions& options, int attempt) {
  auto delay = options.backoff_initial;
  for (int i = 1; i < attempt && delay < options.backoff_max; ++i) delay *= 2;
  return std::min(delay, options.backoff_max);
}

Counter::Counter(CounterOptions options) : options_(std::move(options)) {}

Counter::~Counter() {
  if (!stop(std::chrono::hours(1))) std::terminate();  // unreachable: a connect has a timeout
}

void Counter::start() {
  thread_ = std::thread([this] {
    run();
    std::lock_guard lock(mu_);
    finished_ = true;
    wake_.notify_all();
  });
}

bool Counter::stop(std::chrono::milliseconds wait) {
  {
    std::unique_lock lock(mu_);
    stopping_ = true;
    if (active_ != nullptr) active_->interrupt();
    wake_.notify_all();
    // A connect in progress (name resolution included) is not interruptible.
    if (!wake_.wait_for(lock, wait, [this] { return finished_ || !thread_.joinable(); })) {
      return false;
    }
  }
  if (thread_.joinable()) thread_.join();
  return true;
}

CounterSnapshot Counter::snapshot() const {
  CounterSnapshot s;
  auto state = static_cast<State>(state_.load(std::memory_order_acquire));
  s.available = state == State::kOk;
  s.count = count_.load(std::memory_order_relaxed);
  switch (state) {
    case State::kOk:
      s.reason = "";
      break;
    case State::kConnecting:
      s.reason = "connecting to redis";
      break;
    case State::kUnreachable:
      s.reason = "redis unreachable";
      break;
    case State::kReadOnly:
      s.reason = "redis is a read-only replica";
      break;
    case State::kAuthFailed:
      s.reason = "redis refused the password";
      break;
    case State::kTlsFailed:
      s.reason = "tls to redis failed";
      break;
    case State::kError:
      s.reason = "redis error";
      break;
  }
  return s;
}

bool Counter::sleep_until(std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(mu_);
  return !wake_.wait_until(lock, until, [this] { return stopping_; });
}

void Counter::publish(State state) {
  state_.store(static_cast<int>(state), std::memory_order_release);
}

bool LogThrottle::allow(std::chrono::steady_clock::time_point now, std::chrono::seconds interval) {
  if (logged_ && now - last_ < interval) {
    ++suppressed_;
    return false;
  }
  logged_ = true;
  last_ = now;
  return true;
}

int LogThrottle::take_suppressed() { return std::exchange(suppressed_, 0); }

void Counter::report_readonly(const std::string& reply) {
  if (!readonly_log_.allow(std::chrono::steady_clock::now(), options_.readonly_log_interval)) {
    return;
  }
  log::error(
      "Redis refused the counter write with READONLY: REDIS_URL points at a read-only replica "
      "(for ElastiCache, the reader endpoint); point REDIS_URL at the primary endpoint",
      {{"endpoint", options_.redis.url.endpoint()},
       {"reply", reply},
       {"suppressed_since_last", readonly_log_.take_suppressed()}});
}

void Counter::run() {
  using Clock = std::chrono::steady_clock;
  std::mt19937 rng{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.8, 1.2);
  const std::string endpoint = options_.redis.url.redacted();
  int attempt = 0;
  bool was_connected = false;
  bool reconnecting_after_readonly = false;

  for (;;) {
    std::unique_ptr<RedisConnection> conn;
    try {
      conn = RedisConnection::open(options_.redis);
      {
        std::lock_guard lock(mu_);
        if (stopping_) return;
        active_ = conn.get();
      }
      if (!reconnecting_after_readonly) {
        log::info("connected to redis", {{"redis", endpoint}, {"tls", options_.redis.url.tls}});
      }
      reconnecting_after_readonly = false;
      auto next = Clock::now();
      for (;;) {
        RedisReply reply = conn->command({"INCR", options_.key});
        if (reply.type == RedisReply::Type::kInteger) {
          count_.store(reply.integer, std::memory_order_relaxed);
          publish(State::kOk);
          attempt = 0;
          was_connected = true;
          log::debug("counter", {{"count", reply.integer}, {"fizzbuzz", fizzbuzz(reply.integer)}});
        } else if (reply.str.starts_with("READONLY")) {
          publish(State::kReadOnly);
          report_readonly(reply.str);
          // After a failover the old primary answers READONLY on connections
          // made before it; a new connection resolves the endpoint's name
          // again and may reach the new primary.
          reconnecting_after_readonly = true;
          break;
        } else if (reply.str.starts_with("NOAUTH") || reply.str.starts_with("WRONGPASS")) {
          throw RedisError(RedisError::Kind::kAuth, "Redis at " + options_.redis.url.endpoint() +
                                                        " requires a password (" + reply.str +
                                                        "): set REDIS_AUTH");
        } else {
          // WRONGTYPE and friends: someone else uses the key. Retrying on the
          // same connection is right; the log says what to fix.
          publish(State::kError);
          if (reply_error_log_.allow(Clock::now(), options_.readonly_log_interval)) {
            log::error("Redis refused INCR of the counter key",
                       {{"key", options_.key},
                        {"reply", reply.str},
                        {"suppressed_since_last", reply_error_log_.take_suppressed()}});
          }
        }
        next += options_.interval;
        if (!sleep_until(next)) break;
      }
      if (reconnecting_after_readonly) {
        {
          std::lock_guard lock(mu_);
          active_ = nullptr;
        }
        conn.reset();
        if (!sleep_until(Clock::now() + options_.interval)) return;
        continue;
      }
    } catch (const RedisError& e) {
      switch (e.kind()) {
        case RedisError::Kind::kAuth:
          publish(State::kAuthFailed);
          break;
        case RedisError::Kind::kTls:
          publish(State::kTlsFailed);
          break;
        default:
          publish(State::kUnreachable);
          break;
      }
      ++attempt;
      auto delay = std::chrono::duration_cast<std::chrono::milliseconds>(
          backoff_delay(options_, attempt) * jitter(rng));
      // One line per attempt: the back-off caps that at 12 a minute. Auth
      // and TLS failures are configuration a person must fix: errors.
      bool config_problem =
          e.kind() == RedisError::Kind::kAuth || e.kind() == RedisError::Kind::kTls;
      const char* msg = config_problem  ? "cannot use redis; the counter is unavailable"
                        : was_connected ? "lost the connection to redis; the counter is unavailable"
                                        : "cannot reach redis; the counter is unavailable";
      log::write(config_problem ? log::Level::kError : log::Level::kWarn, msg,
                 {{"redis", endpoint},
                  {"error", e.what()},
                  {"attempt", attempt},
                  {"retry_in_ms", static_cast<std::int64_t>(delay.count())}});
      was_connected = false;
      reconnecting_after_readonly = false;  // the next connect is news again
      {
        std::lock_guard lock(mu_);
        active_ = nullptr;
      }
      conn.reset();
      if (!sleep_until(Clock::now() + delay)) return;
      continue;
    }
    // Stopped while connected.
    std::lock_guard lock(mu_);
    active_ = nullptr;
    return;
  }
}

}  // namespace sreracha
