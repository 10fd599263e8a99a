#pragma once
// The coordinator: the one loop that owns an apply run. Reading it top to
// bottom explains the resume protocol (docs/STATE.md):
//
//   for each step, in order:
//     plan its batches once (one transaction), or load them when resuming;
//     sort every batch by its recorded state: planned / retry_wait -> ready,
//       enqueued -> poll its job, sending / unknown -> what the step kind says
//       (re-send, reconcile, or report), done / failed -> nothing;
//     loop: fill free worker slots from the ready queue as the rate limit
//       allows, committing each batch's intent before its request leaves;
//       wait for one completion; commit its outcome; schedule what follows
//       (retry after a backoff, poll a job, reconcile, or nothing);
//     the step ends when every batch is final.
//
// Only this loop writes the state file. Workers only send requests.

#include "runner/backoff.hpp"
#include "runner/connection.hpp"
#include "runner/rate_limiter.hpp"
#include "runner/run_counters.hpp"

#include "plans/plan.hpp"
#include "state/state_store.hpp"

#include <atomic>
#include <chrono>
#include <string>

namespace fleetrun::runner {

struct ExecutionOptions {
  int concurrency = 4; // requests in flight at most
  double rate = 0;     // requests/second; 0: unlimited until throttled
  double burst = 0;    // 0: same as rate
  BackoffPolicy backoff;
  int retry_budget = 500;                           // retries per invocation, all batches together
  bool keep_going = false;                          // run later steps after a step with failures
  double max_failure_percent = 10;                  // of a step's devices; above it the run is aborted
  std::chrono::milliseconds drain_deadline{30'000}; // after a stop signal, wait this long for requests in flight
  std::chrono::milliseconds job_poll_max{5'000};
};

enum class RunOutcome { completed, failed, interrupted, auth_failed, state_mismatch };

struct RunResult {
  RunOutcome outcome = RunOutcome::completed;
  std::string message;
  RunCounters counters;
};

// Runs (or resumes) the apply run `run_id` of `store` to its end, a failure
// that stops it, or a stop request. `connection` is cloned per worker.
// `before`: what the requests of this invocation met before it (resolution).
RunResult execute_run(state::StateStore& store, const plans::Plan& plan, const std::string& run_id,
                      const ApiConnection& connection, const ExecutionOptions& options,
                      const std::atomic<bool>& stop_requested, RateLimiter& limiter, const RunCounters& before = {});

} // namespace fleetrun::runner
