// delete: soft-deletes devices, their ids pinned into the query. Repeating it
// is harmless (already deleted devices are not matched again), so an unknown
// outcome is re-sent.
#include "jobs/query_step_kinds.hpp"

namespace fleetrun::jobs::detail {

namespace {

class DeleteStep final : public StepKind {
public:
  explicit DeleteStep(nlohmann::json params) : m_params(std::move(params)) {}
  int max_batch_size() const override { return k_max_pinned_ids; }
  Request build(const std::vector<std::string>& ids, const BatchContext&) const override
  {
    return pinned_request("/devices/delete", m_params, ids);
  }
  OnUnknown on_unknown() const override { return OnUnknown::resend; }

private:
  nlohmann::json m_params;
};

} // namespace

std::unique_ptr<StepKind> make_delete_step(nlohmann::json params)
{
  return std::make_unique<DeleteStep>(std::move(params));
}

} // namespace fleetrun::jobs::detail
