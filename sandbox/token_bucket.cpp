#include "sandbox/token_bucket.hpp"

#include <algorithm>

namespace fleetrun::sandbox {

TokenBucket::TokenBucket(double rate, double burst, Clock::time_point now)
    : m_rate(rate), m_burst(std::max(burst, 1.0)), m_tokens(std::max(burst, 1.0)), m_last(now)
{
}

std::optional<double> TokenBucket::try_take(Clock::time_point now)
{
  if (m_rate <= 0) return std::nullopt;
  const double elapsed = std::chrono::duration<double>(now - m_last).count();
  if (elapsed > 0) {
    m_tokens = std::min(m_burst, m_tokens + elapsed * m_rate);
    m_last = now;
  }
  if (m_tokens >= 1.0) {
    m_tokens -= 1.0;
    return std::nullopt;
  }
  return (1.0 - m_tokens) / m_rate;
}

} // namespace fleetrun::sandbox
