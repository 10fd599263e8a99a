#pragma once
// Reading what a server sent, defensively: an API answer may be anything
// (HTML from a proxy, a dripped or endless body, JSON nested a hundred
// thousand deep, numbers that are not finite, bytes that are not UTF-8).
// These helpers never throw.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace fleetrun::api {

// JSON answers nest no deeper than this; deeper ones are refused before any
// parser (or printer) recurses into them.
inline constexpr int k_max_answer_depth = 64;

// Whether the JSON text's arrays and objects nest at most `max_depth` levels
// (strings are skipped; the text need not be valid JSON).
bool json_depth_within(std::string_view text, int max_depth = k_max_answer_depth);

// At most `max_bytes` of `text` for a message: valid UTF-8, control
// characters as spaces, "…" when cut, "(an empty answer)" when empty.
std::string excerpt(std::string_view text, std::size_t max_bytes = 200);

// Retry-After as delta-seconds or an HTTP date, in seconds from `now`;
// nothing for a value that is neither, negative or not finite. Values are
// capped at a week (the caller decides what is too long to wait).
std::optional<double> parse_retry_after(std::string_view value,
                                        std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

} // namespace fleetrun::api
