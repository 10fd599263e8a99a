#pragma once
// Where fleetrun's log lines go and how they look: on stderr, and with
// --log-file also appended to a file; `text` lines carry an ISO-8601 UTC
// timestamp and the level, `json` lines are one object per line
// ({"time", "level", "message"}) for log collectors.

#include <string>

namespace fleetrun::cli {

struct LogOptions {
  std::string level = "info";
  std::string format = "text"; // text | json
  std::string file;            // empty: stderr only
};

// Installs the default logger. Throws UsageError when the file cannot be opened.
void install_logging(const LogOptions& options);

} // namespace fleetrun::cli
