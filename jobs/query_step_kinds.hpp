#pragma once
// Internal to jobs/: the constructors of each step kind, and a helper for
// kinds whose endpoint takes a pinned-id query.

#include "jobs/step_kind.hpp"

#include <nlohmann/json.hpp>

namespace fleetrun::jobs::detail {

std::unique_ptr<StepKind> make_delete_step(nlohmann::json params);
std::unique_ptr<StepKind> make_restore_step(nlohmann::json params);
std::unique_ptr<StepKind> make_patch_step(nlohmann::json params);
std::unique_ptr<StepKind> make_remove_data_step(nlohmann::json params);
std::unique_ptr<StepKind> make_send_command_step(nlohmann::json params, plans::CommandDelivery delivery);
std::unique_ptr<StepKind> make_export_step(nlohmann::json params, bool resend_unknown);
std::unique_ptr<StepKind> make_create_step(nlohmann::json params);

// The kinds whose endpoint takes only a query: the batch's ids pinned into
// it (up to 10,000 a request), next to the step's own Losant fields.
class PinnedQueryStep : public StepKind {
public:
  using Endpoint = api::RequestSpec (*)(std::string body);
  PinnedQueryStep(nlohmann::json params, Endpoint endpoint, OnUnknown on_unknown)
      : m_params(std::move(params)), m_endpoint(endpoint), m_on_unknown(on_unknown)
  {
  }
  int max_batch_size() const override { return k_max_pinned_ids; }
  Request build(const std::vector<std::string>& ids, const BatchContext&) const override
  {
    nlohmann::json body = m_params;
    body["query"] = pinned_query(ids);
    return m_endpoint(body.dump());
  }
  OnUnknown on_unknown() const override { return m_on_unknown; }

private:
  nlohmann::json m_params;
  Endpoint m_endpoint;
  OnUnknown m_on_unknown;
};

} // namespace fleetrun::jobs::detail
