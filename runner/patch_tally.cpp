#include "runner/patch_tally.hpp"

#include "api/device_page.hpp"

#include <stdexcept>

namespace fleetrun::runner {

void PatchTally::add(const std::vector<jobs::FieldChange>& device_changes)
{
  ++devices;
  for (const auto& change : device_changes) ++changes[change.field][{change.before.dump(), change.after.dump()}];
}

PatchChangeReader::PatchChangeReader(const plans::Step& step)
    : m_params(step.params()), m_read(jobs::patch_fields_read(m_params))
{
}

std::vector<jobs::FieldChange> PatchChangeReader::changes(const std::string& id, const std::string& document,
                                                          const char* origin, nlohmann::json& fields) const
{
  auto members = api::read_members(document, m_read);
  if (!members) throw std::runtime_error("device " + id + " " + origin + ": " + members.error());
  fields = std::move(*members);
  return jobs::patch_changes(fields, m_params);
}

} // namespace fleetrun::runner
