#pragma once
// A preview's change list for one device (`fieldChanges`/`deviceChanges`
// entries: field, op, before, after) read as docs/PLAN-FORMAT.md says, written
// apart from fleetrun's simulator: each entry applied in order to the device
// as it was. Tests compare the result with the simulator's and with the
// device the API shows after apply, the order of tags and attributes included.

#include <nlohmann/json.hpp>

namespace fleetrun::testing {

nlohmann::json apply_change_list(nlohmann::json device, const nlohmann::json& changes);

} // namespace fleetrun::testing
