// Retry policy of the kube client: which answers are worth another try and
// how long to wait before it.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace kube {

struct BackoffPolicy {
  std::chrono::milliseconds initial{200};
  std::chrono::milliseconds cap{10'000};
  // The longest Retry-After honoured. client-go's checkWait takes the
  // server's seconds as they are and bounds the wait only by the request's
  // context; our calls often have none (informer lists), and a proxy's
  // "Retry-After: 3600" would then park a worker for an hour. The API server
  // itself says 1 s (max-inflight and priority-and-fairness rejections), so
  // 10 s, the back-off's own cap, cuts nothing it sends.
  std::chrono::seconds max_retry_after{10};
};

// Delay before retry number `attempt` (0 = the first retry): exponential,
// initial * 2^attempt capped at `cap`, with "equal jitter": half of it fixed,
// half scaled by `random01` in [0, 1), so clients that failed together do not
// retry together. A server's Retry-After, when given, is honoured up to
// max_retry_after.
std::chrono::milliseconds backoff_delay(int attempt, double random01,
                                        std::optional<std::chrono::seconds> retry_after = {},
                                        const BackoffPolicy& policy = {});

// Retry-After in its delay-seconds form ("3"); the HTTP-date form and
// garbage give nullopt (the exponential delay is used then).
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value);

// HTTP answers that say "try again later" rather than "you are wrong":
// 429 and 5xx. Only idempotent calls are retried on them.
bool is_retryable_status(int code);

}  // namespace kube
