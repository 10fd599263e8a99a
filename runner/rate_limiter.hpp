#pragma once
// The client-side rate limit: a token bucket that also learns.
//
// Told a rate (--rate, options.rate), it keeps to it; a 429 means the server
// is stricter than that, and it slows down to what the server accepted, then
// creeps back towards the rate it was told.
//
// Not told (the usual case: Losant documents no limit), it sends freely (the
// coordinator's in-flight limit grows slowly meanwhile) until the first 429,
// then paces at 95 % of what the server accepted over the last second, and
// probes higher every two seconds without a 429 (2 %, then 4 %, 8 %, ...). Each later 429
// steps down to 95 % of what the server took since the 429 before (its
// bucket was empty then and is empty now: what it took between is its rate),
// at most once a second. The rate
// it arrives at is saved with the run, and a later run against the same API
// starts from it.
//
// A Retry-After holds back every request (hold_until). Not thread safe: the
// coordinator owns it.

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>

namespace fleetrun::runner {

class RateLimiter {
public:
  using Clock = std::chrono::steady_clock;

  // rate <= 0: not told; learn. burst <= 0: max(1, rate).
  RateLimiter(double rate, double burst, Clock::time_point now);

  // Takes a token if one is available now; otherwise returns how long until one is.
  bool try_acquire(Clock::time_point now, Clock::duration& wait);

  void on_throttled(Clock::time_point now);
  void on_success(Clock::time_point now);
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
  // Answers that were not 429 over the last second, per second.
  double accepted_rate(Clock::time_point now) const;

private:
  void refill(Clock::time_point now);
  void set_rate(double rate, Clock::time_point now);
  void forget_before(Clock::time_point now) const;

  double m_configured;
  double m_rate;
  double m_burst;       // the bucket's size now
  double m_burst_limit; // its size at most: the configured burst less the in-flight allowance
  double m_configured_burst;
  double m_tokens;
  Clock::time_point m_last;
  Clock::time_point m_last_change{};                 // when the rate last went down (or up, learning)
  std::optional<Clock::time_point> m_last_decrease;  // none yet
  Clock::time_point m_hold{};                        // no tokens before this
  mutable std::deque<Clock::time_point> m_successes; // over the last second
  std::int64_t m_taken_since_throttle = 0;           // answers that were not 429 since the last step down
  std::optional<Clock::time_point> m_first_success;
  double m_probe_step = 1.02; // the next step up while learning
};

} // namespace fleetrun::runner
