#include "runner/request_sender.hpp"

#include <atomic>

namespace fleetrun::runner {

api::ApiResult call(RequestSender& sender, const Clock& clock, api::RequestSpec request, const std::atomic<bool>* stop)
{
  static std::atomic<Ticket> next{Ticket{1} << 62U}; // apart from the coordinator's tickets
  const Ticket ticket = next++;
  sender.submit(ticket, std::move(request));
  for (;;) {
    if (stop != nullptr && stop->load()) return std::unexpected(api::cancelled_error());
    auto answer = sender.wait(clock.now() + std::chrono::milliseconds(stop != nullptr ? 100 : 600'000));
    if (answer && answer->ticket == ticket) return std::move(answer->result);
  }
}

} // namespace fleetrun::runner
