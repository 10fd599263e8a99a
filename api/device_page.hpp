#pragma once
// Reads a `GET /devices` page without building a document tree: where each
// item's JSON text starts and ends, its `id`, and the page's `totalCount`.
//
// Query resolution stores every device's document as the API sent it; parsing
// a 1000-device page into a tree and printing each device again took about
// ten times longer than this single pass over the text (docs/PERFORMANCE.md).
// The pass checks the structure (strings, nesting, commas and colons,
// literals) but does not check numbers digit by digit.

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <expected>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace fleetrun::api {

struct DevicePageItem {
  std::string id;            // the device's top-level "id"
  std::string_view document; // the item's JSON text, a view into the page body
};

struct DevicePageIndex {
  std::optional<std::int64_t> total_count; // "totalCount", when present
  std::vector<DevicePageItem> items;
};

// The items of a page body; an error names what is malformed and its offset.
std::expected<DevicePageIndex, std::string> index_device_page(std::string_view body);

// The members of a JSON object named in `keys`, parsed, the others skipped
// over with the same single pass: how a preview reads the few fields of a
// stored device document a patch touches.
std::expected<nlohmann::json, std::string> read_members(std::string_view document, const std::set<std::string>& keys);

} // namespace fleetrun::api
