#pragma once
// A patch's field changes, and which fields of a document a patch reads.
// What a patch does to a device is jobs/patch_simulator.hpp.

#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

namespace fleetrun::jobs {

struct FieldChange {
  std::string field; // "tags.fw", "description", "attributes.temp.description", ...
  nlohmann::json before;
  nlohmann::json after; // null: removed
};

// The top-level device fields a patch with these parameters reads (and
// "id" and "name", which a preview shows): a preview parses only these out
// of each stored document.
std::set<std::string> patch_fields_read(const nlohmann::json& params);

} // namespace fleetrun::jobs
