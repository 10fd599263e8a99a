#pragma once
// `notify:` in a plan: one POST of Slack-compatible JSON ({"text": ...}) to a
// webhook whose URL is read from an environment variable, when an apply run
// finishes, fails or is paused. Best effort: a notification that cannot be
// sent is a warning (naming the variable, never the URL, which often carries
// a secret), never a different exit code.

#include "plans/plan.hpp"
#include "plans/plan_parser.hpp"

#include "report/run_facts.hpp"

#include <string>

namespace fleetrun::cli {

// The outcome a notification is about: "finished", "failed" or "paused".
std::string notification_text(const std::string& outcome, const report::RunFacts& facts);

// Sends it when the plan asks for this outcome. Returns what happened, for the log.
void send_notification(const plans::Plan& plan, const plans::Environment& env, const std::string& outcome,
                       const report::RunFacts& facts);

} // namespace fleetrun::cli
