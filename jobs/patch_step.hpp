#pragma once
// A patch's field changes, and which fields of a document a patch reads.
// What a patch does to a device is jobs/patch_simulator.hpp.

#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

namespace fleetrun::jobs {

// How one entry of a device's change list changes the document. The list is
// in the order the entries apply: read one after another from the device as
// it was, they give the device as it will be, the order of its tags and
// attributes included (docs/PLAN-FORMAT.md, "How a patch is previewed").
enum class ChangeOp {
  set,     // the field (or the tag or attribute part) takes `after`, in place
  add,     // a tag or attribute not there before, appended at the end of its list
  remove,  // it goes
  rename,  // the attribute named `before` is named `after`, where it stands
  replace, // the whole list (`tags`, `attributes`) is `after`
};
const char* to_string(ChangeOp op);

struct FieldChange {
  std::string field; // "tags.fw", "description", "attributes.temp.description", ... named as at that point
  nlohmann::json before;
  nlohmann::json after; // null: removed
  ChangeOp op = ChangeOp::set;
};

// The top-level device fields a patch with these parameters reads (and
// "id" and "name", which a preview shows): a preview parses only these out
// of each stored document.
std::set<std::string> patch_fields_read(const nlohmann::json& params);

} // namespace fleetrun::jobs
