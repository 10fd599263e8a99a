#pragma once
// The request port: the one seam between the coordinator, which decides what
// to send and when, and whatever sends it. The coordinator hands a request
// over with a ticket and later takes the answer back by that ticket; it never
// waits inside a request. `WorkerPool` (worker_pool.hpp) sends over HTTP with
// a bounded pool of threads; tests use a scripted fake (ninja's
// CommandRunner / FakeCommandRunner is the model).

#include "api/endpoints.hpp"
#include "api/losant_client.hpp"
#include "runner/machine_names.hpp"

#include <atomic>
#include <cstdint>
#include <optional>

namespace fleetrun::runner {

using Ticket = std::uint64_t;

struct Answer {
  Ticket ticket = 0;
  api::ApiResult result;
};

class RequestSender {
public:
  virtual ~RequestSender() = default;
  // Starts sending `request`; never blocks. The caller keeps in_flight()
  // below capacity().
  virtual void submit(Ticket ticket, api::RequestSpec request) = 0;
  // The next answer, or nullopt when `until` passes first.
  virtual std::optional<Answer> wait(SteadyTime until) = 0;
  virtual int in_flight() const = 0;
  virtual int capacity() const = 0;
  // No new requests; waits up to `drain` for those in flight (their answers
  // are dropped). Requests still running after that are abandoned.
  virtual void stop(std::chrono::milliseconds drain) = 0;
};

// Sends one request and waits for its answer (resolution and guard checks,
// which need each answer before the next request). Thread safe when the
// sender is and nothing else waits on it meanwhile. With `stop`, gives up
// waiting within 100 ms of it being set (a cancelled error; the answer, if
// it comes, is dropped): only for requests that change nothing.
api::ApiResult call(RequestSender& sender, const Clock& clock, api::RequestSpec request,
                    const std::atomic<bool>* stop = nullptr);

} // namespace fleetrun::runner
