#include "runner/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace fleetrun::runner {

namespace {
constexpr double k_floor = 0.5;                                  // requests/second never go below this
constexpr auto k_decrease_gap = std::chrono::milliseconds(1000); // one halving per second of 429s
} // namespace

RateLimiter::RateLimiter(double rate, double burst, Clock::time_point now)
    : m_configured(std::max(0.0, rate)), m_rate(m_configured), m_burst(burst > 0 ? burst : std::max(1.0, rate)),
      m_burst_limit(m_burst), m_configured_burst(m_burst), m_tokens(m_burst), m_last(now)
{
}

void RateLimiter::allow_in_flight(int requests)
{
  m_burst_limit = std::max(1.0, m_configured_burst - std::max(0, requests));
  m_burst = std::min(m_burst, m_burst_limit);
  m_tokens = std::min(m_tokens, m_burst);
}

void RateLimiter::refill(Clock::time_point now)
{
  if (m_rate <= 0) return;
  const double elapsed = std::chrono::duration<double>(now - m_last).count();
  if (elapsed > 0) {
    m_tokens = std::min(m_burst, m_tokens + elapsed * m_rate);
    m_last = now;
  }
}

void RateLimiter::hold_until(Clock::time_point until)
{
  m_hold = std::max(m_hold, until);
}

bool RateLimiter::try_acquire(Clock::time_point now, Clock::duration& wait)
{
  if (now < m_hold) {
    wait = m_hold - now;
    return false;
  }
  if (m_rate <= 0) {
    m_recent.push_back(now);
    while (!m_recent.empty() && now - m_recent.front() > std::chrono::seconds(2)) m_recent.pop_front();
    wait = Clock::duration::zero();
    return true;
  }
  refill(now);
  if (m_tokens >= 1.0) {
    m_tokens -= 1.0;
    wait = Clock::duration::zero();
    return true;
  }
  // Rounded up to whole microseconds: a wait truncated to zero would have a
  // caller that waits exactly that long ask again and again without time passing.
  const double seconds = (1.0 - m_tokens) / m_rate;
  wait = std::chrono::microseconds(std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(seconds * 1e6))));
  return false;
}

void RateLimiter::on_throttled(Clock::time_point now)
{
  if (m_rate <= 0) {
    // Unlimited until now: start from what was being achieved, halved.
    const double achieved = static_cast<double>(m_recent.size()) / 2.0;
    m_rate = std::max(k_floor, achieved / 2.0);
    m_burst = std::max(1.0, m_rate);
    m_tokens = 0;
    m_last = now;
    m_last_decrease = now;
    return;
  }
  if (m_last_decrease && now - *m_last_decrease < k_decrease_gap) return; // the same burst of 429s counts once
  refill(now);
  m_rate = std::max(k_floor, m_rate / 2.0);
  m_burst = std::max(1.0, std::min(m_burst, m_rate));
  m_tokens = std::min(m_tokens, 0.0);
  m_last_decrease = now;
}

void RateLimiter::on_success(Clock::time_point now)
{
  if (m_rate <= 0) return;
  const double target = m_configured > 0 ? m_configured : m_rate * 2;
  if (m_rate >= target) return;
  refill(now);
  // Additive increase: 2% of the target per success, so a halved rate takes
  // about 25 successes to come back.
  m_rate = std::min(target, m_rate + std::max(0.05, target * 0.02));
  if (m_configured > 0) m_burst = std::max(m_burst, std::min(m_burst_limit, m_rate));
}

void RateLimiter::start_at(double rate, Clock::time_point now)
{
  if (rate <= 0) return;
  if (m_configured > 0) rate = std::min(rate, m_configured);
  m_rate = rate;
  m_burst = std::max(1.0, std::min(m_burst, rate));
  m_tokens = std::min(m_tokens, m_burst);
  m_last = now;
}

} // namespace fleetrun::runner
