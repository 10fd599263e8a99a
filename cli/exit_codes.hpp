#pragma once
// fleetrun's exit codes; documented in README.md, docs/CLI.md and fleetrun(1)
// (made from k_exit_meanings below).

#include <array>
#include <utility>

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

// What each code means to the person who reads it (the man page's EXIT STATUS).
inline constexpr std::array<std::pair<ExitCode, const char*>, 9> k_exit_meanings = {{
    {k_exit_ok, "success (for plan: the preview passed its guards)"},
    {k_exit_partial, "the run finished but some batches failed or have an unknown outcome; `fleetrun status` and "
                     "`fleetrun report` say which"},
    {k_exit_usage, "invalid plan, flags, arguments or query, or no confirmation possible; nothing was changed"},
    {k_exit_guard, "a guard refused (expect, whole fleet, drift with on_drift: abort, not confirmed); nothing was "
                   "changed"},
    {k_exit_state, "state problem: a missing, corrupt, foreign or newer state file; the plan changed since the run "
                   "or preview; the run is locked by a live process"},
    {k_exit_api, "the API could not be used: a wrong token (401/403), unreachable, a TLS failure, answers that are "
                 "not the API's, or it asked to wait longer than --max-retry-after; the message names the request"},
    {k_exit_internal, "a bug in fleetrun (an unexpected exception); the state file is consistent and `fleetrun "
                      "resume` continues"},
    {k_exit_busy, "apply --scheduled: another fleetrun is applying a run of this state file now; nothing was done"},
    {k_exit_interrupted, "interrupted by SIGINT or SIGTERM; `fleetrun resume` continues"},
}};

} // namespace fleetrun::cli
