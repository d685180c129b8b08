#include "kube/backoff.h"

#include <algorithm>
#include <charconv>

namespace kube {

std::chrono::milliseconds backoff_delay(int attempt, double random01,
                                        std::optional<std::chrono::seconds> retry_after,
                                        const BackoffPolicy& policy) {
  if (retry_after) return std::min<std::chrono::milliseconds>(*retry_after, policy.max_retry_after);
  // Doubling past the cap would overflow long before it mattered: clamp first.
  auto full = policy.initial;
  for (int i = 0; i < attempt && full < policy.cap; ++i) full *= 2;
  full = std::min(full, policy.cap);
  random01 = std::clamp(random01, 0.0, 1.0);
  const auto half = full / 2;
  return half + std::chrono::milliseconds(
                    static_cast<long long>(static_cast<double>((full - half).count()) * random01));
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  long long seconds = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (error != std::errc() || end != value.data() + value.size() || seconds < 0)
    return std::nullopt;
  return std::chrono::seconds(seconds);
}

bool is_retryable_status(int code) { return code == 429 || (code >= 500 && code <= 599); }

}  // namespace kube
