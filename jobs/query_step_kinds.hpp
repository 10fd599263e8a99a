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
std::unique_ptr<StepKind> make_send_command_step(nlohmann::json params, plans::Delivery delivery);
std::unique_ptr<StepKind> make_export_step(nlohmann::json params, bool resend_unknown);
std::unique_ptr<StepKind> make_create_step(nlohmann::json params);

// The params with `query` set to the pinned ids, as one request body.
inline Request pinned_request(const char* path, nlohmann::json params, const std::vector<std::string>& ids)
{
  params["query"] = pinned_query(ids);
  return {"POST", path, params.dump()};
}

} // namespace fleetrun::jobs::detail
