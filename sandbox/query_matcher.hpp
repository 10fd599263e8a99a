#pragma once
// The advanced device query language, evaluated against sandbox devices.
//
// Semantics (documented in docs/SANDBOX.md): top-level keys and `$and` entries
// must all hold, `$or` needs one, `$nor` none. Multi-valued fields
// (`ancestorId`, `attributeName`) match when any value matches a positive
// operator and when no value matches `$ne`/`$nin`. Dates compare as epoch
// milliseconds whether written as ISO strings or numbers. `$ci` makes every
// string comparison of its field case-insensitive. A tag condition matches
// when one tag satisfies both its key and its value condition; `null` means
// any key or any value.

#include "sandbox/device.hpp"

#include <nlohmann/json_fwd.hpp>

#include <expected>
#include <memory>
#include <string>
#include <vector>

namespace fleetrun::sandbox {

class QueryNode;

// The simple filters of `GET /devices`, which the advanced `query` overrides.
struct SimpleFilters {
  std::string filter_field; // only "name" is accepted
  std::string filter;       // glob: * and ?, case-insensitive
  std::vector<std::string> device_classes;
  std::vector<std::pair<std::string, std::string>> tag_filter; // empty key or value: any
  std::optional<std::string> parent_id;
};

// A compiled query. Immutable after compile, so matches() is thread safe.
class DeviceQuery {
public:
  // Compiles a query already checked against advancedDeviceQuery.json; returns
  // a message for structures the schema lets through but that mean nothing.
  static std::expected<DeviceQuery, std::string> compile(const nlohmann::json& query);
  static DeviceQuery from_filters(const SimpleFilters& filters);
  static DeviceQuery match_all();

  bool matches(const Device& device) const;

  DeviceQuery(DeviceQuery&&) noexcept;
  DeviceQuery& operator=(DeviceQuery&&) noexcept;
  ~DeviceQuery();

private:
  explicit DeviceQuery(std::unique_ptr<QueryNode> root);
  std::unique_ptr<QueryNode> m_root;
};

// Case-insensitive glob match with `*` and `?` (the `filter` parameter).
bool glob_matches(std::string_view pattern, std::string_view text);

} // namespace fleetrun::sandbox
