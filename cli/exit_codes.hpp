#pragma once
// fleetrun's exit codes; documented in README.md and docs/CLI.md.

namespace fleetrun::cli {

enum ExitCode : int {
  k_exit_ok = 0,            // everything asked for was done
  k_exit_partial = 1,       // the run finished but some batches failed
  k_exit_usage = 2,         // invalid plan, flags or arguments; nothing was changed
  k_exit_guard = 3,         // a guard refused the run (expect, blast radius, drift); nothing was changed
  k_exit_state = 4,         // the state file is missing, corrupt, foreign, newer or locked
  k_exit_api = 5,           // the API could not be used (auth, unreachable, TLS) and nothing more could be done
  k_exit_internal = 70,     // a bug in fleetrun (an unexpected exception); the state file is consistent
  k_exit_busy = 75,         // apply --scheduled: another fleetrun is applying a run of this state file now
  k_exit_interrupted = 130, // stopped by SIGINT/SIGTERM; `fleetrun resume` continues
};

} // namespace fleetrun::cli
