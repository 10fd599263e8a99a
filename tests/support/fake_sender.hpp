#pragma once
// A request port without sockets or real time, for unit tests of the
// coordinator (ninja's FakeCommandRunner is the model): every request is
// answered by a responder function, after a fixed virtual latency; waiting
// advances a fake clock instead of sleeping. A whole step, minutes of backoff
// and job polling included, runs in microseconds.

#include "machine/clock.hpp"
#include "runner/request_sender.hpp"
#include "sandbox/sandbox.hpp"

#include <deque>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <vector>

namespace fleetrun::testing {

class FakeClock final : public runner::Clock {
public:
  runner::SteadyTime now() const override;
  std::int64_t wall_ms() const override;
  void advance_to(runner::SteadyTime when);
  void advance(std::chrono::milliseconds by);

private:
  mutable std::mutex m_mutex;
  runner::SteadyTime m_now{std::chrono::hours(1000)};
  std::int64_t m_wall_start = 1'790'000'000'000;
};

using Responder = std::function<api::ApiResult(const api::RequestSpec&)>;

class FakeSender final : public runner::RequestSender {
public:
  FakeSender(FakeClock& clock, Responder responder, std::chrono::milliseconds latency = std::chrono::milliseconds(10),
             int capacity = 64);

  void submit(runner::Ticket ticket, api::RequestSpec request) override;
  std::optional<runner::Answer> wait(runner::SteadyTime until) override;
  int in_flight() const override;
  int capacity() const override { return m_capacity; }
  void stop(std::chrono::milliseconds) override {}

  struct Sent {
    api::RequestSpec request;
    runner::SteadyTime at;
  };
  std::vector<Sent> sent() const;
  // Requests sent whose method and path are these.
  std::size_t count(const std::string& method, const std::string& path) const;
  int max_in_flight() const { return m_max_in_flight; }
  void set_latency(std::chrono::milliseconds latency) { m_latency = latency; }

  // The hard cases of a real network: round trips spread by up to ±`jitter`
  // (answers then come back out of order), and answers taken only every
  // `clump` (heaps of them at once, late, as a busy machine takes them).
  // The transport's round trip (`elapsed`) stays the time on the wire.
  struct Delivery {
    std::chrono::milliseconds jitter{0};
    std::chrono::milliseconds clump{0};
    unsigned seed = 1;
  };
  void set_delivery(Delivery delivery);
  // While a responder runs: when the request being answered reaches the
  // server (half its round trip after it was sent), for a server whose
  // answer depends on time (a rate limit).
  runner::SteadyTime arriving() const { return m_arriving; }

private:
  struct Pending {
    runner::SteadyTime ready;
    runner::Answer answer;
  };
  FakeClock& m_clock;
  Responder m_responder;
  std::chrono::milliseconds m_latency;
  int m_capacity;
  mutable std::mutex m_mutex;
  std::deque<Pending> m_pending;
  std::vector<Sent> m_sent;
  int m_max_in_flight = 0;
  Delivery m_delivery;
  std::mt19937 m_random{1};
  runner::SteadyTime m_arriving{};
};

// Answers as `sandbox` does (the real sandbox service, in process).
Responder sandbox_responder(sandbox::Sandbox& sandbox);

// Answers for scripting.
api::ApiResult ok(int status, std::string body);
api::ApiResult http_error(int status, std::string body = R"({"type":"Error","message":"scripted"})",
                          std::optional<double> retry_after_s = std::nullopt);
api::ApiResult connection_lost(); // after the request was sent: it may have been applied
api::ApiResult not_sent();        // refused before the request left

} // namespace fleetrun::testing
