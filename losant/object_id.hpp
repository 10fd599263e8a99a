#pragma once
// Losant object ids: 24 hexadecimal characters (`^[A-Fa-f\d]{24}$`).

#include <string>
#include <string_view>

namespace fleetrun::losant {

bool is_object_id(std::string_view text) noexcept;

// Lower-cases an id so that ids compare and sort the way the API sorts them.
std::string normalize_object_id(std::string_view id);

} // namespace fleetrun::losant
