// restore: brings soft-deleted devices back, ids pinned into the query.
// Repeating it is harmless, so an unknown outcome is re-sent.
#include "jobs/query_step_kinds.hpp"

namespace fleetrun::jobs::detail {

std::unique_ptr<StepKind> make_restore_step(nlohmann::json params)
{
  return std::make_unique<PinnedQueryStep>(
      std::move(params), [](std::string body) { return api::endpoints::restore_devices(std::move(body)); },
      OnUnknown::resend);
}

} // namespace fleetrun::jobs::detail
