#pragma once
// The client-side rate limit: a token bucket that also learns.
//
// Told a rate (--rate, options.rate), it keeps to it. A 429 means the server
// is stricter than that: from then on the told rate is only a ceiling and
// the limiter learns, as below.
//
// Not told (the usual case: Losant documents no limit), it sends freely (the
// dispatcher's in-flight limit grows meanwhile) until the first 429, then
// learns the server's rate from its 429s:
//  - Every count is by the time a request was sent, never by when its
//    answer was taken: answers taken in clumps (a busy machine, a slow
//    coordinator) or out of order say nothing about the server's rate, the
//    times the requests left do.
//  - A 429 says the server's bucket was empty when that request arrived. Two
//    429s that far apart (at least half a second) say the server took, in
//    between, exactly what it refilled: its rate is the requests accepted
//    that were sent between them, over the time between. That estimate is
//    made once every request sent before the second 429 has its answer (a
//    late answer would be missing from the count), and it is what the
//    limiter paces at (95 % of it) and what a run stores.
//  - The first 429 has no earlier one: what was accepted over the second
//    before it includes the server's initial burst, so the limiter paces at
//    70 % of it for now and stores nothing it learned that way.
//  - From a 429 on (the server's bucket empty), the server accepts at most
//    its rate: what it accepted since, over the time since (a second at
//    least, 8 requests at least, every answer in), is a lower bound of its
//    rate whether or not another 429 follows. A run too short to meet the
//    limit twice stores that.
//  - After two seconds without a 429 it probes higher (2 %, then 4 %, 8 %,
//    ...): a limit raised meanwhile, or an estimate too low, is found again.
// Bare 429s and 429s with Retry-After are read alike; a Retry-After also
// holds back every request (hold_until).
//
// A run stores what it learned for the next run against the same API
// (rate_to_store): its latest trusted estimate; without one, the rate it
// sustained without a 429 when that is more than it started from (halfway
// toward it: a later run finds out), or the rate it started from.
// Not thread safe: the coordinator owns it.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <vector>

namespace fleetrun::runner {

class RateLimiter {
public:
  using Clock = std::chrono::steady_clock;

  // rate <= 0: not told; learn. burst <= 0: max(1, rate).
  RateLimiter(double rate, double burst, Clock::time_point now);

  // Takes a token if one is available now; otherwise returns how long until one is.
  bool try_acquire(Clock::time_point now, Clock::duration& wait);

  // A request left at `sent`.
  void on_sent(Clock::time_point sent);
  // The request sent at `sent` will have no answer counted (abandoned).
  void forget_sent(Clock::time_point sent);
  // The answer to the request sent at `sent` came at `now`: refused with a
  // 429 (`throttled`) or anything else (the server counted it).
  void on_answer(Clock::time_point sent, Clock::time_point now, bool throttled);
  // No token until `until`: a server's Retry-After holds back every request
  // made with the token, not only the one that was refused.
  void hold_until(Clock::time_point until);

  // Starts from a rate learned earlier (resume, or an earlier run), below the configured one.
  void start_at(double rate, Clock::time_point now);

  // Keeps `requests` tokens of a configured burst back for requests in
  // flight. The server counts a request when it arrives, the client when it
  // sends; while requests travel the server's bucket can fill up and overflow
  // before the client's, and a client bucket of the same size would then run
  // ahead of it and draw 429s. A client bucket smaller by the most requests
  // that can be in flight never does (at the same rate).
  void allow_in_flight(int requests);

  double current_rate() const { return m_rate; } // 0: not known yet (sending freely)
  double configured_rate() const { return m_configured; }
  // Requests the server accepted per second, by the time they were sent,
  // over the last second of sending (or the time since the first send, when shorter).
  double accepted_rate(Clock::time_point now) const;
  // The server's rate as estimated between two 429s (the latest), or a lower
  // bound of it since the latest 429, or over 20 s held back; the most of these.
  std::optional<double> trusted_estimate() const;
  // What a run stores for the next one, given the rate it started from (0: none).
  double rate_to_store(double started_from) const;

private:
  void refill(Clock::time_point now);
  void set_rate(double rate, Clock::time_point now);
  void on_throttled(Clock::time_point sent, Clock::time_point now);
  void on_accepted(Clock::time_point now);
  void settle_pending(Clock::time_point now);
  void first_estimate(Clock::time_point now);
  void forget_before(Clock::time_point sent);
  void observe(Clock::time_point now);
  Clock::time_point settled_until(Clock::time_point now) const;

  double m_configured;
  double m_rate;
  double m_burst;       // the bucket's size now
  double m_burst_limit; // its size at most: the configured burst less the in-flight allowance
  double m_configured_burst;
  double m_tokens;
  Clock::time_point m_last;
  Clock::time_point m_last_change{}; // when the rate last changed
  Clock::time_point m_hold{};        // no tokens before this
  double m_probe_step = 1.02;        // the next step up while learning
  bool m_learning = false;           // a 429 was seen: the rate is the server's, not the configured one
  bool m_first_pending = false;      // the first 429's estimate awaits answers sent before it

  std::optional<Clock::time_point> m_first_sent;
  std::multiset<Clock::time_point> m_outstanding;    // send times of requests not answered yet
  std::multimap<Clock::time_point, bool> m_answered; // send time -> accepted, over the last minute
  std::optional<Clock::time_point> m_mark;           // send time of the 429 an interval starts at
  std::optional<Clock::time_point> m_pending;        // a later 429 whose interval awaits earlier answers
  std::vector<double> m_estimates;                   // trusted estimates, oldest first
  std::vector<Clock::time_point> m_throttles;        // send times of the latest 429s
  std::optional<Clock::time_point> m_last_throttle;  // when the last 429 came
  double m_sustained = 0;                            // the highest rate held for 5 s without a 429
  double m_observed = 0;                             // the most taken over 20 s without a 429
  double m_since_throttle = 0;                       // accepted since the latest 429 (a lower bound), per s
  Clock::time_point m_since_counted{};               // up to where it was last counted
};

} // namespace fleetrun::runner
