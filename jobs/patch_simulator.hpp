#pragma once
// Losant's bulk patch (PATCH /devices) applied to one device's document, as
// the API documentation and the official devicesPatch schema describe it:
// first `updateFields`, then each of `updateOperations` in order. Pure; the
// preview runs every patch step of a plan through it, step after step.
//
// This is fleetrun's own reading of the documentation, written apart from
// the sandbox's (sandbox/actions.cpp): the two are compared device for
// device by tests/integration/preview_fidelity_test.cpp. Where the
// documentation is silent, the assumption is written here and in
// docs/PLAN-FORMAT.md ("How a patch is previewed"):
//  - updateFields replace whole fields: `tags` and `attributes` replace the
//    device's lists entirely; `parentId: null` clears the parent.
//  - set tag K: the first tag with key K takes the value (or {K, value} is
//    appended); other tags with key K stay, as a MongoDB positional update
//    (`tags.$.value`) would leave them; remove tag K removes every tag K (a
//    `$pull`). Devices with a repeated tag key are the one place where this
//    reading could differ from Losant's; tags compare as a multiset.
//  - an operation on an attribute the device does not have does nothing
//    (set/remove attributeTag, attributeDescription, attributeContentType,
//    attributeName, remove attribute).
//  - add attribute (and attributeSystem) of a name the device already has,
//    and renaming an attribute to a name it already has, fail the device:
//    the API counts it `failed` and changes nothing on it (a device's update
//    is all or nothing).
//  - remove description leaves "" and remove parentId leaves null, as the
//    API shows a device without them.
//  - a device whose document would not change is `skipped`.

#include "jobs/patch_step.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace fleetrun::jobs {

enum class PatchResult { updated, skipped, failed };
const char* to_string(PatchResult result);

struct SimulatedPatch {
  nlohmann::json after; // the device's document after the patch (unchanged when failed)
  PatchResult result = PatchResult::skipped;
  std::string failure; // why it failed
};

// `device`: the document as the API returns it (at least the fields the patch
// touches); `patch`: the step's Losant fields (updateFields, updateOperations).
SimulatedPatch simulate_patch(const nlohmann::json& device, const nlohmann::json& patch);

// The differences between two documents of one device, named the way people
// look at them: a top-level field by its name; a tag by `tags.<key>` (its value,
// or the list of values when the key appears more than once, null when absent);
// an attribute by `attributes.<name>` (its dataType, null when absent) and its
// parts by `attributes.<name>.description|contentType|tags.<key>`.
std::vector<FieldChange> document_changes(const nlohmann::json& before, const nlohmann::json& after);

// Whether two documents are the same device state for the fields of a
// patch: tags compared as a multiset, everything else exactly; `lastUpdated`
// and `updatedAt`-like bookkeeping ignored.
bool same_state(const nlohmann::json& a, const nlohmann::json& b);

} // namespace fleetrun::jobs
