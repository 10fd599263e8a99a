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
  std::string kept;          // with `keep` given: an object of just those members (their text as it was)
};

struct DevicePageIndex {
  std::optional<std::int64_t> total_count; // "totalCount", when present
  std::vector<DevicePageItem> items;
};

// The items of a page body; an error names what is malformed and its offset.
// With `keep`, each item's `kept` holds just the top-level members named
// there, read in the same pass.
std::expected<DevicePageIndex, std::string> index_device_page(std::string_view body,
                                                              const std::set<std::string>* keep = nullptr);

// The members of a JSON object named in `keys`, parsed, the others skipped
// over with the same single pass: how a preview reads the few fields of a
// stored device document a patch touches.
std::expected<nlohmann::json, std::string> read_members(std::string_view document, const std::set<std::string>& keys);

// The same members as the JSON text of an object holding only them, each
// value's text as the document had it: how a device list keeps of each
// document only what a later step reads.
std::expected<std::string, std::string> kept_members(std::string_view document, const std::set<std::string>& keys);

} // namespace fleetrun::api
