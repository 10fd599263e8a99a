#pragma once
// What a patch step would change, counted over its devices: per field, per
// (before, after), the number of devices. Counted during resolution from the
// pages as they arrive, or from the state file afterwards.

#include "jobs/patch_step.hpp"
#include "plans/plan.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace fleetrun::runner {

struct PatchTally {
  std::int64_t devices = 0;
  // field -> (before, after) as JSON text -> devices
  std::map<std::string, std::map<std::pair<std::string, std::string>, std::int64_t>> changes;
  void add(const std::vector<jobs::FieldChange>& device_changes);
};
using PatchTallies = std::map<std::size_t, PatchTally>; // by step index

// A patch step's changes to one device, from its document. Of each document
// only the fields the patch reads are parsed: parsing all of it into a tree
// was most of a large preview's time.
class PatchChangeReader {
public:
  explicit PatchChangeReader(const plans::Step& step);

  // The document's fields the patch reads (into `fields`) and the changes.
  // `origin` says where the document came from, for the error; throws
  // std::runtime_error for a document that cannot be read.
  std::vector<jobs::FieldChange> changes(const std::string& id, const std::string& document, const char* origin,
                                         nlohmann::json& fields) const;

private:
  const nlohmann::json& m_params;
  std::set<std::string> m_read;
};

} // namespace fleetrun::runner
