// export: device metadata for pinned ids, mailed or called back. Repeating it
// sends a second export, so an unknown outcome is reported unless the plan
// says `on_unknown: resend`.
#include "jobs/query_step_kinds.hpp"

namespace fleetrun::jobs::detail {

namespace {

class ExportStep final : public StepKind {
public:
  ExportStep(nlohmann::json params, bool resend_unknown) : m_params(std::move(params)), m_resend(resend_unknown) {}
  int max_batch_size() const override { return k_max_pinned_ids; }
  Request build(const std::vector<std::string>& ids, const BatchContext&) const override
  {
    return pinned_request("/devices/export", m_params, ids);
  }
  nlohmann::json outcome(const nlohmann::json& body, std::size_t items) const override
  {
    nlohmann::json counts = StepKind::outcome(body, items);
    if (!counts.contains("exported")) counts["exported"] = items;
    return counts;
  }
  OnUnknown on_unknown() const override { return m_resend ? OnUnknown::resend : OnUnknown::report; }

private:
  nlohmann::json m_params;
  bool m_resend;
};

} // namespace

std::unique_ptr<StepKind> make_export_step(nlohmann::json params, bool resend_unknown)
{
  return std::make_unique<ExportStep>(std::move(params), resend_unknown);
}

} // namespace fleetrun::jobs::detail
