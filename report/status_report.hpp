#pragma once
// `fleetrun status`: a run's steps, batches, jobs, problems and events, as
// facts (JSON) and for people. Reads the state file only; takes no lock.

#include "state/state_store.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace fleetrun::report {

nlohmann::json status_facts(const state::StateStore& store, const state::RunRecord& run);
std::string render_status(const nlohmann::json& facts);

} // namespace fleetrun::report
