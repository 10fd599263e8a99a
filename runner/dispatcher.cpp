#include "runner/dispatcher.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

namespace fleetrun::runner {

Dispatcher::Dispatcher(RequestSender& sender, RateLimiter& limiter, const Clock& clock, int ceiling,
                       std::chrono::seconds max_retry_after, RunCounters& counters)
    : m_sender(sender), m_limiter(limiter), m_clock(clock), m_ceiling(std::max(1, ceiling)),
      m_max_retry_after(max_retry_after), m_counters(counters)
{
}

int Dispatcher::in_flight_limit() const
{
  const double rate = m_limiter.current_rate();
  const double seconds = std::chrono::duration<double>(m_round_trip).count();
  if (rate <= 0) {
    // The limit is not known yet: no more in flight than twice what the
    // answers so far show to be needed, so that the burst that finds the
    // limit (every request in flight then is refused) stays small.
    const double accepted = m_limiter.accepted_rate(m_clock.now());
    const int needed = static_cast<int>(std::ceil(accepted * seconds * 1.5)) + 4;
    return std::clamp(std::min(needed, m_slow_start), 1, m_ceiling);
  }
  // Known rate: what it needs over the time a request holds its slot, from
  // sending to its answer taken (the wire's round trip and any wait for the
  // coordinator to take it).
  const double cycle = std::max(seconds, std::chrono::duration<double>(m_cycle).count());
  const int needed = static_cast<int>(std::ceil(rate * cycle * 1.5)) + 1;
  return std::clamp(needed, 1, m_ceiling);
}

bool Dispatcher::try_take(SteadyTime now, SteadyTime& retry_at)
{
  if (in_flight() >= in_flight_limit()) return false; // retry_at unchanged: when an answer comes
  SteadyTime::duration wait{};
  if (m_limiter.try_acquire(now, wait)) return true;
  retry_at = now + wait;
  return false;
}

Ticket Dispatcher::send(api::RequestSpec request)
{
  const Ticket ticket = ++m_last_ticket;
  const auto now = m_clock.now();
  m_sent_at.emplace(ticket, now);
  m_limiter.on_sent(now);
  ++m_counters.requests;
  ++m_counters.timeline[m_clock.wall_ms() / 1000].requests;
  m_sender.submit(ticket, std::move(request));
  return ticket;
}

void Dispatcher::abandon(Ticket ticket)
{
  const auto sent = m_sent_at.find(ticket);
  if (sent == m_sent_at.end()) return;
  m_limiter.forget_sent(sent->second); // its answer will not be counted: no estimate waits for it
  m_sent_at.erase(sent);
}

std::optional<Answer> Dispatcher::wait(SteadyTime until)
{
  for (;;) {
    auto answer = m_sender.wait(until);
    if (!answer) return std::nullopt;
    const auto sent = m_sent_at.find(answer->ticket);
    if (sent == m_sent_at.end()) continue; // abandoned earlier (a cancelled wait): not ours any more
    const auto now = m_clock.now();
    const SteadyTime sent_at = sent->second;
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(now - sent_at);
    m_sent_at.erase(sent);
    m_cycle = m_cycle.count() == 0 ? took : (m_cycle * 7 + took) / 8;
    // The round trip is the request's time on the wire, as the transport
    // timed it, when known: an answer that waited for this thread to take it
    // (a busy coordinator) would otherwise read as a slow server and call for
    // more requests in flight, which only make the wait longer.
    if (answer->result && answer->result->elapsed.count() > 0) took = std::min(took, answer->result->elapsed);
    // Smoothed like TCP's: an eighth of each new sample.
    m_round_trip = m_round_trip.count() == 0 ? took : (m_round_trip * 7 + took) / 8;
    count(answer->result, sent_at, now);
    return answer;
  }
}

void Dispatcher::count(const api::ApiResult& result, SteadyTime sent, SteadyTime now)
{
  const bool throttled = !result && result.error().status == 429;
  const double before = m_limiter.current_rate();
  m_limiter.on_answer(sent, now, throttled);
  if (m_limiter.current_rate() != before) {
    spdlog::debug("{}: pacing at {:.2f} requests/s (was {:.2f}; {:.1f}/s accepted over the last second)",
                  throttled ? "429" : "answer", m_limiter.current_rate(), before, m_limiter.accepted_rate(now));
  }
  if (result) {
    m_throttled_since.reset();
    if (!m_rate_found && m_limiter.current_rate() <= 0) m_slow_start = std::min(m_ceiling, m_slow_start + 1);
    return;
  }
  const api::ApiError& error = result.error();
  count_failure(m_counters, error);
  auto& second = m_counters.timeline[m_clock.wall_ms() / 1000];
  ++(error.status == 429 ? second.throttled : second.failed);
  if (error.status == 429) {
    m_rate_found = true;
    if (!m_throttled_since) m_throttled_since = now;
  }
  // A Retry-After holds back every request for the token, whatever answer it came with.
  if (error.retry_after_s && *error.retry_after_s <= static_cast<double>(m_max_retry_after.count())) {
    m_limiter.hold_until(now + std::chrono::milliseconds(static_cast<std::int64_t>(*error.retry_after_s * 1000)));
  }
}

std::optional<std::string> Dispatcher::throttled_too_long() const
{
  if (!m_throttled_since || m_clock.now() - *m_throttled_since <= m_max_retry_after) return std::nullopt;
  return "the API has answered every request with 429 (too many requests) for more than " +
         std::to_string(m_max_retry_after.count()) +
         " s (--max-retry-after); stopping: `fleetrun resume` continues later";
}

} // namespace fleetrun::runner
