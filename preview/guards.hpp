#pragma once
// The checks between resolution and the first change: the plan's guards
// (expect min/max per query, the whole-fleet guard) and drift between a
// saved preview and the fleet now. They read the state file only.

#include "api/losant_client.hpp"
#include "plans/plan.hpp"
#include "state/state_store.hpp"

#include <nlohmann/json.hpp>

#include <expected>
#include <functional>
#include <string>
#include <vector>

namespace fleetrun::preview {

struct GuardViolation {
  std::string where; // "queries.stale.expect" or "steps[1] (retire)"
  std::string message;
};

// expect {min, max} per query, and the whole-fleet guard per changing step,
// over the device lists held by `snapshot_run`. `count_fleet` answers a
// `GET /devices?perPage=1` (its totalCount is the application's size); it is
// called at most once, and only when a changing step needs it.
std::expected<std::vector<GuardViolation>, api::ApiError>
check_guards(const state::StateStore& store, const plans::Plan& plan, const std::string& snapshot_run,
             const std::function<api::ApiResult()>& count_fleet);

// on_uncertain: abort, per patch step (the step's own setting, else the
// plan's options): a violation for each step the preview `facts` count
// uncertain devices for.
std::vector<GuardViolation> check_uncertain(const plans::Plan& plan, const nlohmann::json& facts);

// Devices added to or gone from each query's list between `preview_run` and
// `current_run`, with up to five ids each; empty when nothing drifted.
std::string describe_drift(const state::StateStore& store, const std::string& preview_run,
                           const std::string& current_run);

} // namespace fleetrun::preview
