#pragma once
// Retry timing: exponential backoff with full jitter, honouring Retry-After.

#include <chrono>
#include <optional>
#include <random>

namespace fleetrun::machine {

struct BackoffPolicy {
  std::chrono::milliseconds base{250};
  std::chrono::milliseconds cap{30'000};
  int max_attempts = 8; // per batch, the first send included
};

// The wait before attempt `attempt` (2 = the first retry): a uniform random
// time in [0, min(cap, base * 2^(attempt-2))] ("full jitter", so that many
// clients retrying at once spread out). A server's Retry-After is a floor:
// the wait is never shorter than it, plus up to 10% jitter.
std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int attempt, std::optional<double> retry_after_s,
                                        std::mt19937_64& rng);

} // namespace fleetrun::machine
