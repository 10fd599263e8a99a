#pragma once
// How the coordinator's requests leave and come back: through the rate
// limiter, never more in flight than the in-flight limit, every answer
// counted and timed.
//
// The in-flight limit adapts so that the rate limit, not the round trip,
// sets the pace. Until a rate is known (the first 429, or a rate told or
// learned earlier) it starts at 4 and grows by one per answer (a slow start),
// but never beyond twice what the answers so far need (accepted rate x round
// trip x 2, plus four): the burst that finds the limit, every request then
// in flight refused, stays small. Once a rate is known it is what that rate
// needs over the measured round trip (rate x round trip x 1.5, plus one). `--concurrency`
// is its ceiling. A Retry-After holds every request back (the limiter's
// hold), and 429s to every request for longer than the run may wait are
// reported (throttled_too_long). Not thread safe: the coordinator owns it.

#include "runner/machine_names.hpp"
#include "runner/rate_limiter.hpp"
#include "runner/request_sender.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace fleetrun::runner {

class Dispatcher {
public:
  Dispatcher(RequestSender& sender, RateLimiter& limiter, const Clock& clock, int ceiling,
             std::chrono::seconds max_retry_after, RunCounters& counters);

  // Whether one more request may leave now; if so, its rate token is taken.
  // Otherwise `retry_at` says when to ask again: a time, or (left as it was)
  // "when an answer frees a slot".
  bool try_take(SteadyTime now, SteadyTime& retry_at);
  // Sends a request after try_take; its ticket.
  Ticket send(api::RequestSpec request);
  // The next answer (counted, timed, fed to the limiter), or nothing when
  // `until` passes first.
  std::optional<Answer> wait(SteadyTime until);

  // Its answer, when it comes, is dropped; it no longer counts as in flight.
  void abandon(Ticket ticket);

  int in_flight() const { return static_cast<int>(m_sent_at.size()); }
  int in_flight_limit() const;
  std::chrono::milliseconds round_trip() const { return m_round_trip; }
  // When every answer for longer than the run may wait was a 429: why to stop.
  std::optional<std::string> throttled_too_long() const;

private:
  void count(const api::ApiResult& result, SteadyTime sent, SteadyTime now);

  RequestSender& m_sender;
  RateLimiter& m_limiter;
  const Clock& m_clock;
  int m_ceiling;
  std::chrono::seconds m_max_retry_after;
  RunCounters& m_counters;
  Ticket m_last_ticket = 0;
  std::map<Ticket, SteadyTime> m_sent_at;
  int m_slow_start = 4;                      // the limit until the first 429 (when the rate is not known)
  bool m_rate_found = false;                 // a 429 was seen, or the rate was told or learned before
  std::chrono::milliseconds m_round_trip{0}; // smoothed, on the wire
  std::chrono::milliseconds m_cycle{0};      // smoothed, from sending to the answer taken
  std::optional<SteadyTime> m_throttled_since;
};

} // namespace fleetrun::runner
