// remove_data: removes data points in a time range, ids pinned into the
// query. The second time there is nothing left to remove, so an unknown
// outcome is re-sent.
#include "jobs/query_step_kinds.hpp"

namespace fleetrun::jobs::detail {

namespace {

class RemoveDataStep final : public StepKind {
public:
  explicit RemoveDataStep(nlohmann::json params) : m_params(std::move(params)) {}
  int max_batch_size() const override { return k_max_pinned_ids; }
  Request build(const std::vector<std::string>& ids, const BatchContext&) const override
  {
    return pinned_request("/devices/removeData", m_params, ids);
  }
  OnUnknown on_unknown() const override { return OnUnknown::resend; }

private:
  nlohmann::json m_params;
};

} // namespace

std::unique_ptr<StepKind> make_remove_data_step(nlohmann::json params)
{
  return std::make_unique<RemoveDataStep>(std::move(params));
}

} // namespace fleetrun::jobs::detail
