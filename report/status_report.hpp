#pragma once
// `fleetrun status` for people: a run's steps, batches, jobs, problems,
// requests and latest events, in words (`--output json` prints
// `to_json(run_facts(...))` instead).

#include "report/run_facts.hpp"

#include <string>

namespace fleetrun::report {

std::string render_status(const RunFacts& facts);

} // namespace fleetrun::report
