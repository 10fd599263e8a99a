#pragma once
// The preview: what `plan` shows and saves, and what `apply` shows before it
// asks. Reads the state file only.

#include "runner/patch_tally.hpp"

#include "plans/plan.hpp"
#include "state/state_store.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace fleetrun::runner {

// What `plan` shows and saves: queries with counts, per step its devices,
// requests, a sample, and for a patch every field's before -> after with
// device counts. Holds no per-device lists: see write_preview_json.
// `tallies`: counted during the resolution of `snapshot_run` (resolve_queries).
nlohmann::json preview_facts(const state::StateStore& store, const plans::Plan& plan, const std::string& snapshot_run,
                             const PatchTallies* tallies = nullptr);

// A step's devices in their stored order; for a patch (with `with_changes`)
// each device's document (only the fields the patch reads) and its changes.
using DeviceVisitor = std::function<void(const std::string& id, const nlohmann::json* document,
                                         const std::vector<jobs::FieldChange>& changes)>;
void visit_step_devices(const state::StateStore& store, const std::string& snapshot_run, const plans::Step& step,
                        bool with_changes, const DeviceVisitor& visit);

// `plan --output json`: the facts, and per step every device id (and, for a
// patch, every device's changes), streamed from the state file to `out`.
void write_preview_json(std::ostream& out, const nlohmann::json& facts, const state::StateStore& store,
                        const plans::Plan& plan, const std::string& snapshot_run);

// The preview for people.
std::string render_preview(const nlohmann::json& facts);

} // namespace fleetrun::runner
