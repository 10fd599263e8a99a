// export: device metadata for pinned ids, mailed or called back. Repeating it
// sends a second export, so an unknown outcome is reported unless the plan
// says `on_unknown: resend`.
#include "jobs/query_step_kinds.hpp"

namespace fleetrun::jobs::detail {

namespace {

class ExportStep final : public PinnedQueryStep {
public:
  ExportStep(nlohmann::json params, bool resend_unknown)
      : PinnedQueryStep(
            std::move(params), [](std::string body) { return api::endpoints::export_devices(std::move(body)); },
            resend_unknown ? OnUnknown::resend : OnUnknown::report)
  {
  }
  nlohmann::json outcome(const nlohmann::json& body, std::size_t items) const override
  {
    // A 200 says only {"success": true}: every device of the batch was exported.
    nlohmann::json counts = StepKind::outcome(body, items);
    if (!counts.contains("exported")) counts["exported"] = items;
    return counts;
  }
};

} // namespace

std::unique_ptr<StepKind> make_export_step(nlohmann::json params, bool resend_unknown)
{
  return std::make_unique<ExportStep>(std::move(params), resend_unknown);
}

} // namespace fleetrun::jobs::detail
