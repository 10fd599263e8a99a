#pragma once
// The exceptions that end a command, each with its exit code
// (exit_codes.hpp). Low layers return std::expected; these are for setup
// and fatal errors, thrown where a command gives up and caught once, in
// run_cli. A state file that fails under a running command throws
// state::StateFailure (exit 4).

#include <stdexcept>

namespace fleetrun::cli {

// Invalid flags, arguments or plan: nothing was changed (exit 2).
class UsageError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// A guard, drift or an earlier refusal says no: nothing was changed (exit 3).
class GuardRefusal : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// The API cannot be used: auth, network, TLS, answers fleetrun cannot read (exit 5).
class ApiUnusable : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// apply --scheduled found another fleetrun applying a run of the same state
// file: this invocation does nothing (exit 75, EX_TEMPFAIL: try at the next time).
class Busy : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

} // namespace fleetrun::cli
