#pragma once
// Where a command finds its state file, and how it opens it: read-only for
// the commands that only read, for a journal (writing) for the others.

#include "state/run_journal.hpp"
#include "state/state_store.hpp"

#include <expected>
#include <memory>
#include <optional>
#include <string>

namespace fleetrun::cli {

// `plan.yaml` -> `plan.fleetrun.db` beside it.
std::string default_state_path(const std::string& plan_path);

// --state FILE when given, else the only `*.fleetrun.db` in the current
// folder. The error says what was found and how to choose.
std::expected<std::string, std::string> find_state_file(const std::optional<std::string>& given);

// Opens an existing state file for writing (resume, prune, migrate), bringing
// an older schema up to date; the error is the message, naming the file.
std::expected<std::unique_ptr<state::StateStore>, std::string> open_existing_state(const std::string& path);

// The state file --state names (or the only one here), opened read-only:
// status, runs and report never write it. Throws UsageError / StateFailure.
std::unique_ptr<state::StateStore> open_state_to_read(const std::optional<std::string>& given, std::string& path);

// The run named, or the newest.
state::RunRecord chosen_run(const state::StateStore& store, const std::string& state_path, const std::string& id);

} // namespace fleetrun::cli
