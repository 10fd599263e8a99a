#pragma once
// What each bulk action does to one device. Pure functions over a Device, so
// the synchronous (200) path and the background job (202) path share them.

#include "sandbox/device.hpp"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>

namespace fleetrun::sandbox {

enum class PatchOutcome { updated, skipped, failed };

// Applies `updateFields` then `updateOperations` of a devicesPatch body. A
// device on which any operation cannot apply (adding an attribute it has,
// renaming one it lacks) is left unchanged and reported failed; one the patch
// does not change is skipped.
PatchOutcome apply_patch(Device& device, const nlohmann::json& patch, std::int64_t now_ms);

// Soft delete: sets deletedAt. False when already deleted.
bool apply_delete(Device& device, std::int64_t now_ms);
// Clears deletedAt. False when the device was not deleted.
bool apply_restore(Device& device);

struct RemoveDataSpec {
  std::int64_t start_ms = 1;
  std::int64_t end_ms = 0;
  std::optional<std::set<std::string>> attributes; // nullopt: every attribute
  bool keep_command_history = true;
};
// Resolves the API's relative times (0 = now, negative = before now).
RemoveDataSpec remove_data_spec(const nlohmann::json& body, std::int64_t now_ms);
// Removes the data points in range. True when anything was removed.
bool apply_remove_data(Device& device, const RemoveDataSpec& spec);

// Parses the `time` of a command body (number, ISO string or {"$date": ...}).
std::optional<std::int64_t> command_time_ms(const nlohmann::json& time);

} // namespace fleetrun::sandbox
