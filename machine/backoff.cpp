#include "machine/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace fleetrun::machine {

std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int attempt, std::optional<double> retry_after_s,
                                        std::mt19937_64& rng)
{
  const int exponent = std::clamp(attempt - 2, 0, 30);
  const double ceiling = std::min(static_cast<double>(policy.cap.count()),
                                  static_cast<double>(policy.base.count()) * std::pow(2.0, exponent));
  double wait = std::uniform_real_distribution<double>(0, ceiling)(rng);
  if (retry_after_s && *retry_after_s > 0) {
    const double floor_ms = *retry_after_s * 1000.0;
    wait = floor_ms + std::uniform_real_distribution<double>(0, floor_ms * 0.1)(rng);
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(wait)));
}

} // namespace fleetrun::machine
