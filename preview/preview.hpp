#pragma once
// The preview: what `plan` shows and saves, and what `apply` shows before it
// asks. Reads the state file only.

#include "plans/plan.hpp"
#include "state/state_store.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace fleetrun::preview {

// What `plan` shows and saves: queries with counts, per step its devices
// (less those an earlier step deletes), requests, a sample, and for a patch
// every field's before -> after with device counts and how many devices
// change, stay as they are or fail, all from the simulation of the whole
// plan (plan_simulation.hpp). Holds no per-device lists: see write_preview_json.
nlohmann::json preview_facts(const state::StateStore& store, const plans::Plan& plan, const std::string& snapshot_run);

// `plan --output json`: the facts, and per step every device id (and, for a
// patch, every device's changes), streamed from the state file to `out`.
void write_preview_json(std::ostream& out, const nlohmann::json& facts, const state::StateStore& store,
                        const plans::Plan& plan, const std::string& snapshot_run);

// Whether applying the preview would do anything at all: a device to change
// (a patch's skipped devices do not count), to command, export or create.
bool would_do_anything(const nlohmann::json& facts);

// The preview for people, ending with a totals line by action ("Plan: ...").
// Destructive steps (delete, remove_data) are marked; with `fleetDevices` in
// the facts (the application's device count, when the guards counted it), each
// step's share of the fleet is shown.
std::string render_preview(const nlohmann::json& facts);

// The totals line alone: "Plan: 2,537 devices deleted (1.3 % of 197,463), ...".
std::string preview_totals(const nlohmann::json& facts);

// What a person must type to confirm an apply: "yes", or, when the plan
// deletes, removes data from or commands more than 1,000 devices or 10 % of a
// known fleet, the number of those devices (so that a large destructive change
// is never confirmed by habit).
std::string confirmation_phrase(const nlohmann::json& facts);

} // namespace fleetrun::preview
