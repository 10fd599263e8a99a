#include "runner/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace fleetrun::runner {

namespace {
constexpr double k_floor = 0.5;                                  // requests/second never go below this
constexpr auto k_decrease_gap = std::chrono::milliseconds(1000); // one step down per second of 429s
constexpr auto k_probe_gap = std::chrono::milliseconds(2000);    // learning: a step up after 2 s without a 429
constexpr double k_margin = 0.95;                                // pace at this share of what was accepted
constexpr double k_probe_step = 1.02;
constexpr auto k_window = std::chrono::seconds(1);
} // namespace

RateLimiter::RateLimiter(double rate, double burst, Clock::time_point now)
    : m_configured(std::max(0.0, rate)), m_rate(m_configured), m_burst(burst > 0 ? burst : std::max(1.0, rate)),
      m_burst_limit(m_burst), m_configured_burst(m_burst), m_tokens(m_burst), m_last(now)
{
}

void RateLimiter::allow_in_flight(int requests)
{
  if (m_configured <= 0) return; // a learned rate keeps a bucket of half a second instead (set_rate)
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

void RateLimiter::forget_before(Clock::time_point now) const
{
  while (!m_successes.empty() && now - m_successes.front() > k_window) m_successes.pop_front();
}

double RateLimiter::accepted_rate(Clock::time_point now) const
{
  forget_before(now);
  return static_cast<double>(m_successes.size()) / std::chrono::duration<double>(k_window).count();
}

void RateLimiter::set_rate(double rate, Clock::time_point now)
{
  refill(now);
  m_rate = std::max(k_floor, rate);
  if (m_configured > 0) {
    m_burst = std::max(1.0, std::min(m_burst_limit, m_rate));
  } else {
    m_burst = std::max(1.0, m_rate / 2); // half a second of requests: what a held server has saved up
  }
  m_tokens = std::min(m_tokens, m_burst);
  m_last = now;
  m_last_change = now;
}

void RateLimiter::on_throttled(Clock::time_point now)
{
  if (m_last_decrease && now - *m_last_decrease < k_decrease_gap) return; // the same burst of 429s counts once
  // The server's bucket was empty at the last 429 and is empty now: all it
  // took in between was what it refilled, so its rate is the answers taken
  // since then over the time since then, a hold included. Before a second
  // 429 only the last second's answers say anything (the server's burst
  // inflates them; the next 429 corrects it).
  double accepted = 0;
  if (m_last_decrease && now - *m_last_decrease >= std::chrono::milliseconds(200)) {
    accepted =
        static_cast<double>(m_taken_since_throttle) / std::chrono::duration<double>(now - *m_last_decrease).count();
  } else {
    accepted = accepted_rate(now);
    if (m_first_success && now - *m_first_success >= std::chrono::milliseconds(400)) {
      // The first 429: the server's burst went in first, so the second half of
      // the time since the first answer shows its rate better than the whole,
      // when it holds answers enough to say anything.
      const auto from = std::max(*m_first_success + (now - *m_first_success) / 2, now - k_window);
      forget_before(now);
      const auto taken = std::count_if(m_successes.begin(), m_successes.end(), [&](auto at) { return at >= from; });
      if (taken >= 8) accepted = static_cast<double>(taken) / std::chrono::duration<double>(now - from).count();
    }
  }
  double next = 0;
  if (m_rate <= 0) {
    next = accepted > 0 ? accepted * k_margin : k_floor; // the first 429: learn from what was accepted
  } else {
    next = accepted > 0 ? std::min(m_rate, accepted * k_margin) : m_rate * 0.9;
  }
  set_rate(next, now);
  m_tokens = 0;
  m_last_decrease = now;
  m_taken_since_throttle = 0;
  m_probe_step = k_probe_step;
}

void RateLimiter::on_success(Clock::time_point now)
{
  m_successes.push_back(now);
  ++m_taken_since_throttle;
  if (!m_first_success) m_first_success = now;
  forget_before(now);
  if (m_rate <= 0) return;
  if (m_configured > 0) {
    if (m_rate >= m_configured) return;
    // Told a rate and throttled below it: back towards it, 2 % of it per success.
    refill(now);
    m_rate = std::min(m_configured, m_rate + std::max(0.05, m_configured * 0.02));
    m_burst = std::max(m_burst, std::min(m_burst_limit, m_rate));
    return;
  }
  // Learning: a step up after a while without a 429, to find out whether
  // the server accepts more; each quiet spell doubles the step (a 429 sets
  // it back), so that a rate learned too low comes back up in seconds.
  if (now - m_last_change >= k_probe_gap) {
    set_rate(m_rate * m_probe_step, now);
    m_probe_step = 1 + (m_probe_step - 1) * 2;
  }
}

void RateLimiter::start_at(double rate, Clock::time_point now)
{
  if (rate <= 0) return;
  if (m_configured > 0) rate = std::min(rate, m_configured);
  set_rate(rate, now);
  m_tokens = std::min(m_tokens, m_burst);
}

} // namespace fleetrun::runner
