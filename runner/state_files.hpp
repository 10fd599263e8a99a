#pragma once
// Where a command finds its state file.

#include "state/state_store.hpp"

#include <expected>
#include <memory>
#include <optional>
#include <string>

namespace fleetrun::runner {

// `plan.yaml` -> `plan.fleetrun.db` beside it.
std::string default_state_path(const std::string& plan_path);

// --state FILE when given, else the only `*.fleetrun.db` in the current
// folder. The error says what was found and how to choose.
std::expected<std::string, std::string> find_state_file(const std::optional<std::string>& given);

// Opens an existing state file for status, runs and resume; the error is
// the message, naming the file and the --state flag.
std::expected<std::unique_ptr<state::StateStore>, std::string> open_existing_state(const std::string& path);

} // namespace fleetrun::runner
