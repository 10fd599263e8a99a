#pragma once
// What a patch would change on one device, for the dry-run's before → after.

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

// The changes `params` (updateFields / updateOperations) make to `device`
// (its API document); fields left as they were are not listed.
std::vector<FieldChange> patch_changes(const nlohmann::json& device, const nlohmann::json& params);

// The top-level device fields patch_changes reads for these parameters (and
// "id" and "name", which a preview shows): a preview parses only these out
// of each stored document.
std::set<std::string> patch_fields_read(const nlohmann::json& params);

} // namespace fleetrun::jobs
