#pragma once
// Small helpers for text meant for people.

#include <cstdint>
#include <string>

namespace fleetrun::report {

// 1234567 -> "1,234,567".
std::string with_commas(std::int64_t n);

} // namespace fleetrun::report
