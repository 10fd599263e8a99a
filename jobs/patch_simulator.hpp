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
//    `$pull`). Losant lets a device hold a tag key more than once and does not
//    document what set or remove does then: another reading (the key
//    collapses to one tag) is as consistent with its docs. A device whose
//    result depends on that reading is marked `uncertain`.
//  - tags and attributes keep their order: a set changes in place, a new tag
//    or attribute is appended, a rename renames in place.
//  - a remove on an attribute the device does not have does nothing (remove
//    attribute, attributeTag, attributeDescription); a set on it fails the
//    device (attributeTag, attributeDescription, attributeContentType,
//    attributeName: a rename repeated on resume "fails harmlessly", RESUME.md).
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

// What the patch did to the identity of the device's attributes, for its
// change list: attributes removed (by their names before the patch) and
// renamed (in the device's order, from the name before the patch to the name
// after it). Empty when updateFields replaced the list: then a name is all
// that ties an attribute before to one after.
struct PatchTrace {
  std::vector<std::string> removed;
  std::vector<std::pair<std::string, std::string>> renames;
};

struct SimulatedPatch {
  nlohmann::json after; // the device's document after the patch (unchanged when failed)
  PatchResult result = PatchResult::skipped;
  std::string failure;   // why it failed
  std::string uncertain; // why the result rests on a reading the API's docs do not settle (empty: it does not)
  PatchTrace trace;
  std::vector<FieldChange> changes; // document_changes(device, after, trace): empty when skipped or failed
};

// `device`: the document as the API returns it (at least the fields the patch
// touches); `patch`: the step's Losant fields (updateFields, updateOperations).
SimulatedPatch simulate_patch(const nlohmann::json& device, const nlohmann::json& patch);

// The changes that take one device from `before` to `after`, as a list to
// read in order (patch_step.hpp, ChangeOp): top-level fields first (by name),
// then tags (removed, changed in place, added at the end in their order),
// then attributes (renamed, removed, changed in place part by part, added at
// the end). Each entry names the field as it is at that point: after a
// rename, the new name. A tag is `tags.<key>` (its value), an attribute
// `attributes.<name>` (its dataType) and its parts
// `attributes.<name>.description|contentType|tags.<key>|other`. Where no
// such list can say it (tags reordered, a tag key held more than once,
// attributes reordered), the whole list is one `replace` entry. `trace`
// (from simulate_patch) tells renames from an attribute removed and another added.
std::vector<FieldChange> document_changes(const nlohmann::json& before, const nlohmann::json& after,
                                          const PatchTrace& trace = {});

// Whether two documents are the same device state for the fields of a
// patch, the order of tags and attributes included; `lastUpdated` and
// `updatedAt`-like bookkeeping ignored.
bool same_state(const nlohmann::json& a, const nlohmann::json& b);

} // namespace fleetrun::jobs
