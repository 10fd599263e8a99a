#include "api/answer_watchdog.hpp"

// linux/tcp.h has TCP_INFO's byte counters (glibc's netinet/tcp.h does not);
// it clashes with netinet/tcp.h, which Poco's headers pull in: this file
// stays free of Poco.
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace fleetrun::api {

using std::chrono::steady_clock;

std::int64_t tcp_bytes_received(int fd)
{
  tcp_info info{};
  socklen_t size = sizeof(info);
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) return -1;
  // Older kernels fill less of the struct; then the counter is not there.
  if (size < offsetof(tcp_info, tcpi_bytes_received) + sizeof(info.tcpi_bytes_received)) return -1;
  return static_cast<std::int64_t>(info.tcpi_bytes_received);
}

namespace {

class Watchdog {
public:
  static Watchdog& instance()
  {
    // Never destroyed: its thread waits on it until the process ends.
    static Watchdog* const watchdog = new Watchdog;
    return *watchdog;
  }

  std::uint64_t arm(int fd, steady_clock::time_point deadline, LowSpeedLimit low_speed)
  {
    Entry entry{fd, deadline, low_speed, tcp_bytes_received(fd), {}, WatchdogVerdict::in_time};
    std::lock_guard lock(m_mutex);
    const std::uint64_t ticket = ++m_last;
    m_armed.emplace(ticket, std::move(entry));
    m_wake.notify_all();
    return ticket;
  }

  WatchdogVerdict disarm(std::uint64_t ticket)
  {
    std::lock_guard lock(m_mutex);
    const auto it = m_armed.find(ticket);
    if (it == m_armed.end()) return WatchdogVerdict::in_time;
    const WatchdogVerdict verdict = it->second.verdict;
    m_armed.erase(it);
    return verdict;
  }

private:
  struct Sample {
    steady_clock::time_point at;
    std::int64_t bytes;
  };
  struct Entry {
    int fd;
    steady_clock::time_point deadline;
    LowSpeedLimit low_speed;
    std::int64_t baseline; // bytes received before the answer (a kept-alive connection's earlier answers)
    std::deque<Sample> samples;
    WatchdogVerdict verdict;
  };

  Watchdog()
  {
    std::thread([this] { run(); }).detach(); // lives as long as the process
  }

  // Once the answer has begun: too few bytes over the last window?
  static bool too_slow(Entry& entry, steady_clock::time_point now)
  {
    if (entry.low_speed.bytes_per_second <= 0 || entry.low_speed.window.count() <= 0 || entry.baseline < 0)
      return false;
    const std::int64_t bytes = tcp_bytes_received(entry.fd);
    if (bytes < 0 || bytes <= entry.baseline) return false; // not begun: the read timeout's business
    entry.samples.push_back({now, bytes});
    const auto window_start = now - entry.low_speed.window;
    while (entry.samples.size() >= 2 && entry.samples[1].at <= window_start) entry.samples.pop_front();
    const Sample& oldest = entry.samples.front();
    if (oldest.at > window_start) return false; // not a whole window yet
    const double seconds = std::chrono::duration<double>(now - oldest.at).count();
    return static_cast<double>(bytes - oldest.bytes) < static_cast<double>(entry.low_speed.bytes_per_second) * seconds;
  }

  [[noreturn]] void run()
  {
    std::unique_lock lock(m_mutex);
    for (;;) {
      const auto now = steady_clock::now();
      auto next = now + std::chrono::seconds(1);
      for (auto& [ticket, entry] : m_armed) {
        if (entry.verdict != WatchdogVerdict::in_time) continue;
        if (entry.deadline <= now) {
          entry.verdict = WatchdogVerdict::deadline_passed;
        } else if (too_slow(entry, now)) {
          entry.verdict = WatchdogVerdict::too_slow;
        } else {
          next = std::min(next, entry.deadline);
          continue;
        }
        ::shutdown(entry.fd, SHUT_RDWR); // the owner still holds the fd open: it disarms first
      }
      m_wake.wait_until(lock, next);
    }
  }

  std::mutex m_mutex;
  std::condition_variable m_wake;
  std::map<std::uint64_t, Entry> m_armed;
  std::uint64_t m_last = 0;
};

} // namespace

AnswerWatchdog::AnswerWatchdog(int fd, steady_clock::time_point deadline, LowSpeedLimit low_speed)
    : m_ticket(Watchdog::instance().arm(fd, deadline, low_speed))
{
}

AnswerWatchdog::~AnswerWatchdog()
{
  disarm();
}

WatchdogVerdict AnswerWatchdog::disarm()
{
  if (m_done) return m_verdict;
  m_done = true;
  m_verdict = Watchdog::instance().disarm(m_ticket);
  return m_verdict;
}

} // namespace fleetrun::api
