#pragma once
// Ends an answer that takes too long, from outside the thread reading it.
//
// A read timeout alone cannot stop a server that drips its answer: each byte
// arriving in time restarts it. So every request's socket is watched by one
// thread of the process, once a second, for two things:
//  - the request's deadline (the whole answer must arrive by then);
//  - a low-speed limit, as curl's --speed-limit/--speed-time: once the first
//    byte of the answer arrived, fewer than `low_speed.bytes_per_second` over
//    the last `low_speed.window` ends it. Bytes are counted by the kernel
//    (TCP_INFO's bytes received), so the head, the body and TLS records all
//    count, whatever the HTTP library buffers.
// Ending means shutting the socket down: the read blocked on it fails at
// once, and the owner learns why from disarm(). Thread safe.

#include <chrono>
#include <cstdint>

namespace fleetrun::api {

struct LowSpeedLimit {
  std::int64_t bytes_per_second = 0; // 0: no limit
  std::chrono::seconds window{0};
};

enum class WatchdogVerdict { in_time, deadline_passed, too_slow };

class AnswerWatchdog {
public:
  // Watches `fd` from now on; the owner keeps it open until it disarms.
  AnswerWatchdog(int fd, std::chrono::steady_clock::time_point deadline, LowSpeedLimit low_speed);
  ~AnswerWatchdog();
  AnswerWatchdog(const AnswerWatchdog&) = delete;
  AnswerWatchdog& operator=(const AnswerWatchdog&) = delete;

  // Stops watching; whether (and why) the socket was shut down before.
  WatchdogVerdict disarm();

private:
  std::uint64_t m_ticket;
  bool m_done = false;
  WatchdogVerdict m_verdict = WatchdogVerdict::in_time;
};

// Bytes the kernel has received on the TCP socket `fd` so far (-1 when it cannot tell).
std::int64_t tcp_bytes_received(int fd);

} // namespace fleetrun::api
