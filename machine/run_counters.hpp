#pragma once
// What a run's requests met, for the run report: every request fleetrun
// sends for a run is counted here, query resolution included.

#include "api/api_error.hpp"

#include <cstdint>
#include <map>

namespace fleetrun::machine {

// Requests, 429s and other failed answers in one second of wall time.
struct TimelineBucket {
  std::int64_t requests = 0;
  std::int64_t throttled = 0;
  std::int64_t failed = 0;
};

struct RunCounters {
  std::int64_t requests = 0;                // all of them; by purpose below
  std::int64_t resolution_requests = 0;     // device pages, the fleet count
  std::int64_t batch_requests = 0;          // the batches' own requests (retries included)
  std::int64_t job_poll_requests = 0;       // job logs read, by id or by listing
  std::int64_t reconciliation_requests = 0; // command histories and created-device lookups
  std::int64_t retries = 0;
  std::int64_t throttled = 0;     // 429 answers
  std::int64_t server_errors = 0; // 5xx answers
  std::int64_t network_errors = 0;
  std::int64_t timeouts = 0;
  std::int64_t reconciled_devices = 0;
  std::int64_t jobs_followed = 0;
  std::map<std::int64_t, TimelineBucket> timeline; // by second since the Unix epoch (the report's chart)
};

// Counts one failed answer by its kind.
inline void count_failure(RunCounters& counters, const api::ApiError& error)
{
  if (error.status == 429)
    ++counters.throttled;
  else if (error.status >= 500)
    ++counters.server_errors;
  else if (error.kind == api::ErrorKind::timeout)
    ++counters.timeouts;
  else if (error.status == 0)
    ++counters.network_errors;
}

} // namespace fleetrun::machine
