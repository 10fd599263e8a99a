#pragma once
// A token bucket: `rate` tokens per second accrue up to `burst`. Not thread
// safe; callers hold their own lock.

#include <chrono>
#include <optional>

namespace fleetrun::sandbox {

class TokenBucket {
public:
  using Clock = std::chrono::steady_clock;

  // rate <= 0 means unlimited. A burst below 1 is raised to 1.
  TokenBucket(double rate, double burst, Clock::time_point now);

  // Takes one token if one is available and returns nullopt; otherwise takes
  // nothing and returns the seconds until a token will be available.
  std::optional<double> try_take(Clock::time_point now);

private:
  double m_rate;
  double m_burst;
  double m_tokens;
  Clock::time_point m_last;
};

} // namespace fleetrun::sandbox
