// remove_data: removes data points in a time range, ids pinned into the
// query. The second time there is nothing left to remove, so an unknown
// outcome is re-sent.
#include "jobs/query_step_kinds.hpp"

namespace fleetrun::jobs::detail {

std::unique_ptr<StepKind> make_remove_data_step(nlohmann::json params)
{
  return std::make_unique<PinnedQueryStep>(
      std::move(params), [](std::string body) { return api::endpoints::remove_data(std::move(body)); },
      OnUnknown::resend);
}

} // namespace fleetrun::jobs::detail
