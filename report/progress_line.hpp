#pragma once
// A run's progress as people read it: one line per snapshot of the step
// under way (runner/progress.hpp), on a terminal rewritten in place.

#include "runner/progress.hpp"

#include <chrono>
#include <string>

namespace fleetrun::report {

// "step 2/4 ping (send_command): 12,000/27,760 devices 43.2 %, 18.4 req/s, 3 x 429, 1 retry, elapsed 1m05s, ETA 1m25s"
std::string progress_line(const runner::ProgressSnapshot& snapshot);

// "59s", "1m05s", "2h03m".
std::string duration_text(std::chrono::milliseconds duration);

} // namespace fleetrun::report
