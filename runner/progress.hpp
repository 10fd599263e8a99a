#pragma once
// Live progress of a run: what the coordinator reports every few seconds, a
// snapshot of the step under way (report/progress_line.hpp words it).

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace fleetrun::runner {

struct ProgressSnapshot {
  std::string step_id;
  std::string action;
  int step_number = 0; // 1-based
  int step_count = 0;
  std::int64_t devices_total = 0;
  std::int64_t devices_finished = 0; // in batches that are done or failed
  std::int64_t devices_failed = 0;
  std::int64_t step_requests = 0; // requests sent since the step started (this invocation)
  std::int64_t throttled = 0;     // 429s, whole run
  std::int64_t retries = 0;       // whole run
  std::chrono::milliseconds step_elapsed{0};
  std::chrono::milliseconds run_elapsed{0};
  bool step_done = false;
};

using ProgressObserver = std::function<void(const ProgressSnapshot&)>;

} // namespace fleetrun::runner
