#include "runner/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace fleetrun::runner {

namespace {
constexpr double k_floor = 0.5;                               // requests/second never go below this
constexpr auto k_probe_gap = std::chrono::milliseconds(1000); // learning: a step up after 1 s without a 429
constexpr double k_unmeasured_step = 1.15;                    // each step up before the rate is measured
constexpr double k_margin = 0.95;                             // pace at this share of the server's rate
constexpr double k_first_margin = 0.7;                        // ... of what the first 429 suggests
constexpr double k_pace_margin = 0.97;                        // paced at, of a trusted estimate
constexpr double k_store_margin = 0.95;                       // stored, of a trusted estimate
constexpr double k_probe_ceiling = 1.1;                       // a probe's step at most
constexpr double k_probe_step = 1.02;
constexpr auto k_window = std::chrono::seconds(1);
constexpr auto k_episode = std::chrono::milliseconds(500);       // 429s closer than this: one empty bucket
constexpr auto k_trusted_span = std::chrono::milliseconds(1000); // an estimate over this long ...
constexpr int k_trusted_count = 8;                               // ... and this many accepted is trusted
constexpr auto k_memory = std::chrono::seconds(60);              // answers kept for counting
constexpr auto k_sustained = std::chrono::seconds(5);            // a rate held this long without a 429
constexpr auto k_observed = std::chrono::seconds(20);            // a window without a 429 that says what is taken
constexpr auto k_recount = std::chrono::milliseconds(100);       // accepted since the latest 429, counted this often

double seconds(RateLimiter::Clock::duration d)
{
  return std::chrono::duration<double>(d).count();
}
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
  const double elapsed = seconds(now - m_last);
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
  const double needed = (1.0 - m_tokens) / m_rate;
  wait = std::chrono::microseconds(std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(needed * 1e6))));
  return false;
}

void RateLimiter::set_rate(double rate, Clock::time_point now)
{
  refill(now);
  m_rate = std::max(k_floor, rate);
  if (m_configured > 0) {
    m_rate = std::min(m_rate, m_configured);
    m_burst = std::max(1.0, std::min(m_burst_limit, m_rate));
  } else {
    m_burst = std::max(1.0, m_rate / 2); // half a second of requests: what a held server has saved up
  }
  m_tokens = std::min(m_tokens, m_burst);
  m_last = now;
  m_last_change = now;
}

void RateLimiter::on_sent(Clock::time_point sent)
{
  m_outstanding.insert(sent);
  if (!m_first_sent) m_first_sent = sent;
}

void RateLimiter::forget_sent(Clock::time_point sent)
{
  if (const auto found = m_outstanding.find(sent); found != m_outstanding.end()) m_outstanding.erase(found);
}

void RateLimiter::forget_before(Clock::time_point sent)
{
  const auto keep_from = std::min(sent - k_memory, m_mark.value_or(sent));
  m_answered.erase(m_answered.begin(), m_answered.lower_bound(keep_from));
}

void RateLimiter::on_answer(Clock::time_point sent, Clock::time_point now, bool throttled)
{
  if (const auto found = m_outstanding.find(sent); found != m_outstanding.end()) m_outstanding.erase(found);
  m_answered.emplace(sent, !throttled);
  forget_before(sent);
  if (throttled) {
    on_throttled(sent, now);
  } else {
    on_accepted(now);
  }
  settle_pending(now);
}

double RateLimiter::accepted_rate(Clock::time_point) const
{
  if (m_answered.empty() || !m_first_sent) return 0;
  // Over the last second of sending that has its answers.
  const auto newest = m_answered.rbegin()->first;
  const auto from = std::max(newest - k_window, *m_first_sent);
  const auto accepted =
      std::count_if(m_answered.lower_bound(from), m_answered.end(), [](const auto& answer) { return answer.second; });
  return static_cast<double>(accepted) / std::max(0.05, seconds(newest - from));
}

void RateLimiter::on_throttled(Clock::time_point sent, Clock::time_point now)
{
  m_last_throttle = now;
  m_probe_step = k_probe_step;
  m_learning = true;
  if (!m_mark) {
    // The first 429: pace below what the answers so far show (over a second
    // at least: the server's initial burst is in it) until every request sent
    // before it has its answer (first_estimate), and two 429s measure the rate.
    m_mark = sent;
    m_first_pending = true;
    m_throttles.push_back(sent);
    first_estimate(now);
    m_tokens = 0;
    return;
  }
  // Counted again from this one when it is the latest (the pairs hold what came before).
  if (sent > *std::max_element(m_throttles.begin(), m_throttles.end())) m_since_throttle = 0;
  m_throttles.push_back(sent);
  if (m_throttles.size() > 64) m_throttles.erase(m_throttles.begin());
  if (sent < *m_mark + k_episode || m_pending) return; // the same empty bucket, or an interval already waiting
  // Too fast now: step back at once; the interval's count says by how much
  // once every request sent before this one has its answer.
  set_rate(m_rate * 0.9, now);
  m_tokens = 0;
  m_pending = sent;
}

void RateLimiter::first_estimate(Clock::time_point now)
{
  // What was accepted of what was sent over the second before the 429: the
  // pace that emptied the server's bucket. Not since the first request: a
  // slow start (the pages of a resolution on a slow machine) would make it
  // a fraction of the server's rate, climbed back at 15 % a second.
  const auto to = *m_mark;
  const auto from = std::max(m_first_sent.value_or(to), to - k_window);
  const auto accepted = std::count_if(m_answered.lower_bound(from), m_answered.lower_bound(to),
                                      [](const auto& answer) { return answer.second; });
  const double span = std::max(seconds(k_window), seconds(to - from));
  const double shown = accepted > 0 ? static_cast<double>(accepted) / span : k_floor;
  const double rate =
      m_configured > 0 && !m_estimates.empty() ? std::min(m_rate, shown * k_first_margin) : shown * k_first_margin;
  if (m_rate <= 0 || rate < m_rate || m_first_pending)
    set_rate(m_configured > 0 ? std::min(m_configured, rate) : rate, now);
  if (m_outstanding.empty() || *m_outstanding.begin() >= to) m_first_pending = false; // every answer counted
}

void RateLimiter::settle_pending(Clock::time_point now)
{
  if (m_first_pending && m_mark && (m_outstanding.empty() || *m_outstanding.begin() >= *m_mark)) first_estimate(now);
  if (!m_pending || !m_mark) return;
  if (!m_outstanding.empty() && *m_outstanding.begin() < *m_pending) return; // earlier answers still to come
  // Every pair of 429s at least a second apart up to this one (bucket empty
  // at both): what was accepted between them is a lower bound of the
  // server's rate (a lower one where the client sent slower and the
  // server's bucket overflowed meanwhile; exact where it kept sending
  // faster). The best pair is the estimate.
  double best = 0;
  bool trusted = false;
  const auto to = *m_pending;
  for (const auto from : m_throttles) {
    if (from >= to || to - from < k_episode) continue;
    const auto accepted = std::count_if(m_answered.upper_bound(from), m_answered.lower_bound(to),
                                        [](const auto& answer) { return answer.second; });
    const double estimate = static_cast<double>(accepted) / seconds(to - from);
    const bool long_enough = to - from >= k_trusted_span && accepted >= k_trusted_count;
    if (long_enough && estimate > best) {
      best = estimate;
      trusted = true;
    } else if (!trusted && estimate > best) {
      best = estimate;
    }
  }
  if (best > 0) {
    if (trusted) m_estimates.push_back(best);
    set_rate(trusted ? *trusted_estimate() * k_pace_margin : best * k_margin, now);
  }
  m_mark = m_pending;
  m_pending.reset();
}

RateLimiter::Clock::time_point RateLimiter::settled_until(Clock::time_point now) const
{
  // Every request sent before the oldest one still out has its answer.
  return m_outstanding.empty() ? now : *m_outstanding.begin();
}

void RateLimiter::observe(Clock::time_point now)
{
  if (!m_learning || m_rate <= 0 || m_answered.empty()) return;
  const auto to = settled_until(now);
  const auto latest = m_throttles.empty() ? to : *std::max_element(m_throttles.begin(), m_throttles.end());
  if (to - latest >= k_trusted_span && to - m_since_counted >= k_recount) {
    // Since the latest 429 the server's bucket started empty: what it took
    // since is at most its rate times the time (every answer sent before
    // `to` is in).
    m_since_counted = to;
    const auto from = latest;
    const auto accepted = std::count_if(m_answered.upper_bound(from), m_answered.lower_bound(to),
                                        [](const auto& answer) { return answer.second; });
    if (accepted >= k_trusted_count)
      m_since_throttle = std::max(m_since_throttle, static_cast<double>(accepted) / seconds(to - from));
  }
  const auto from = to - k_observed;
  if (m_throttles.empty() || m_throttles.back() >= from || !m_first_sent || *m_first_sent > from) return;
  const auto window = std::distance(m_answered.lower_bound(from), m_answered.lower_bound(to));
  const double rate = static_cast<double>(window) / seconds(k_observed);
  // Held back by this limiter over it (not by too few requests in flight).
  if (rate >= 0.9 * m_rate) m_observed = std::max(m_observed, rate);
}

void RateLimiter::on_accepted(Clock::time_point now)
{
  observe(now);
  if (m_rate <= 0 || !m_learning) return; // sending freely, or told a rate the server has not refused
  // Learning: a step up after a while without a 429, to find out whether
  // the server accepts more; each quiet spell doubles the step (a 429 sets
  // it back), so that a rate learned too low comes back up in seconds.
  if (now - m_last_change >= k_probe_gap && (!m_last_throttle || now - *m_last_throttle >= k_probe_gap)) {
    // Only when this rate is what holds the requests back: sent at it, a
    // quiet spell says the server takes it; sent slower (too few requests
    // in flight, nothing to send), it says nothing.
    // Counted over the last second of sending whose answers are all in: a
    // long round trip, or answers taken late, leave the latest sends
    // unanswered, and counting them as not sent would never probe.
    const auto to = settled_until(now);
    const auto sent_lately = std::distance(m_answered.lower_bound(to - k_probe_gap), m_answered.lower_bound(to));
    if (static_cast<double>(sent_lately) < 0.8 * m_rate * seconds(k_probe_gap)) return;
    if (!m_last_throttle || now - *m_last_throttle >= k_sustained) m_sustained = std::max(m_sustained, m_rate);
    if (m_configured > 0 && m_rate >= m_configured) return;
    // Until two 429s have measured the server, the rate is a guess below
    // it: climb fast. After, gently.
    const bool measured = !m_estimates.empty() || m_observed > 0;
    set_rate(m_rate * (measured ? m_probe_step : k_unmeasured_step), now);
    m_probe_step = std::min(k_probe_ceiling, 1 + (m_probe_step - 1) * 2);
  }
}

void RateLimiter::start_at(double rate, Clock::time_point now)
{
  if (rate <= 0) return;
  m_learning = true;
  set_rate(rate, now);
  m_tokens = std::min(m_tokens, m_burst);
}

std::optional<double> RateLimiter::trusted_estimate() const
{
  // The best of the last three interval estimates, each a lower bound of
  // the server's rate, or what it took over the last 20 s without a 429
  // while this limiter held the requests back (a bound too: over that long
  // its saved-up burst is a few percent of it), whichever is more.
  double best = std::max(m_observed, m_since_throttle);
  if (!m_estimates.empty()) {
    const auto from = m_estimates.size() > 3 ? m_estimates.end() - 3 : m_estimates.begin();
    best = std::max(best, *std::max_element(from, m_estimates.end()));
  }
  if (best <= 0) return std::nullopt;
  return best;
}

double RateLimiter::rate_to_store(double started_from) const
{
  if (const auto estimate = trusted_estimate()) return *estimate * k_store_margin;
  if (m_last_throttle) {
    // Refused, but not measured: keep what there was, never above what was refused.
    return started_from > 0 ? std::min(started_from, m_rate) : 0;
  }
  if (started_from > 0 && m_sustained > started_from) return started_from + (m_sustained - started_from) / 2;
  return started_from;
}

} // namespace fleetrun::runner
