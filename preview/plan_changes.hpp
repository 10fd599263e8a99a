#pragma once
// What changed between the plan a run (or a preview) was made of and the plan
// now: the lines of the file that differ, and the ${VAR}s whose values differ
// (by name only: runs keep a SHA-256 of each value, never the value).

#include "plans/plan.hpp"
#include "state/state_store.hpp"

#include <string>

namespace fleetrun::preview {

// Several lines: "  line 12: -    delaySeconds: 5" / "+    delaySeconds: 10",
// "  ${SITE} has another value"; empty when nothing differs.
std::string describe_plan_change(const state::RunRecord& earlier, const plans::Plan& now);

} // namespace fleetrun::preview
