#pragma once
// The client-side rate limit: a token bucket of `rate` requests per second
// and `burst` tokens, which also learns. A 429 halves the rate (down to a
// floor); each later success adds back a little until the configured rate is
// reached again (additive increase, multiplicative decrease). Without a
// configured rate it sends freely until the first 429, then starts from the
// rate it was achieving. Not thread safe: the coordinator owns it.

#include <chrono>
#include <deque>
#include <optional>

namespace fleetrun::runner {

class RateLimiter {
public:
  using Clock = std::chrono::steady_clock;

  // rate <= 0: unlimited until throttled. burst <= 0: max(1, rate).
  RateLimiter(double rate, double burst, Clock::time_point now);

  // Takes a token if one is available now; otherwise returns how long until one is.
  bool try_acquire(Clock::time_point now, Clock::duration& wait);

  void on_throttled(Clock::time_point now);
  // No token until `until`: a server's Retry-After holds back every request
  // made with the token, not only the one that was refused.
  void hold_until(Clock::time_point until);
  void on_success(Clock::time_point now);

  // Starts from a rate learned earlier (resume), below the configured one.
  void start_at(double rate, Clock::time_point now);

  // Keeps `requests` tokens of the burst back for requests in flight. The
  // server counts a request when it arrives, the client when it sends; while
  // requests travel the server's bucket can fill up and overflow before the
  // client's, and a client bucket of the same size would then run ahead of
  // it and draw 429s. A client bucket smaller by the most requests that can
  // be in flight never does (at the same rate).
  void allow_in_flight(int requests);

  double current_rate() const { return m_rate; } // 0: unlimited
  double configured_rate() const { return m_configured; }

private:
  void refill(Clock::time_point now);
  double m_configured;
  double m_rate;
  double m_burst;       // the bucket's size now (smaller after 429s)
  double m_burst_limit; // its size at most: the configured burst less the in-flight allowance
  double m_configured_burst;
  double m_tokens;
  Clock::time_point m_last;
  std::optional<Clock::time_point> m_last_decrease; // none yet
  Clock::time_point m_hold{};                       // no tokens before this
  std::deque<Clock::time_point> m_recent;           // send times over the last two seconds, while unlimited
};

} // namespace fleetrun::runner
