#pragma once
// Time values as the Losant API writes them: ISO 8601 UTC strings with
// milliseconds (`2026-11-27T03:34:13.123Z`) or epoch milliseconds.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fleetrun::losant {

// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]]` with `Z` or `±HH:MM`
// (no zone means UTC). Returns epoch milliseconds, or nullopt if malformed.
std::optional<std::int64_t> parse_iso8601_ms(std::string_view text) noexcept;

// Formats epoch milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
std::string format_iso8601_ms(std::int64_t epoch_ms);

// Milliseconds since the epoch, now (system clock).
std::int64_t now_epoch_ms() noexcept;

} // namespace fleetrun::losant
