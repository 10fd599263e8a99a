#include "report/status_report.hpp"

#include "losant/time_format.hpp"
#include "text/text_format.hpp"

#include <cstdio>
#include <sstream>

namespace fleetrun::report {

using text::with_commas;

std::string render_status(const RunFacts& facts)
{
  std::ostringstream out;
  out << "run " << facts.run << " (" << facts.kind << "): " << facts.status << "\n";
  out << "  plan " << facts.plan << ", application " << facts.application << " at " << facts.api_url << "\n";
  if (!facts.from_preview.empty()) out << "  devices from preview " << facts.from_preview << "\n";
  if (facts.learned_rate > 0) {
    char rate[64];
    std::snprintf(rate, sizeof rate, "%.1f", facts.learned_rate);
    out << "  rate limit learned: " << rate << " requests/s (later runs against this API start there)\n";
  }
  if (facts.lock) {
    out << "  lock held by pid " << facts.lock->pid << " on " << facts.lock->host
        << (facts.lock->alive ? " (running)" : " (gone)") << "\n";
  }
  for (const auto& step : facts.steps) {
    out << "  " << step.index << ". " << step.id << " " << step.action << ": " << step.status << ", "
        << with_commas(step.devices) << " devices";
    if (!step.batches.empty()) {
      out << "; batches:";
      for (const auto& [name, count] : step.batches) out << " " << name << " " << count;
    }
    if (!step.totals.empty()) out << "; " << text::counts_in_words(nlohmann::json(step.totals));
    out << "\n";
    for (const auto& job : step.jobs)
      out << "       batch " << job.batch << ": job " << job.job_id << " " << job.job_status << " " << job.progress
          << "\n";
    for (const auto& problem : step.problems)
      out << "       batch " << problem.batch << " " << problem.status << ": " << problem.error << "\n";
  }
  if (facts.counters.is_object()) out << "  requests: " << text::counters_in_words(facts.counters) << "\n";
  const auto& events = facts.events;
  const std::size_t first = events.size() > 8 ? events.size() - 8 : 0;
  if (!events.empty()) out << "  events" << (first > 0 ? " (last 8)" : "") << ":\n";
  for (std::size_t i = first; i < events.size(); ++i) {
    out << "    " << losant::format_iso8601_ms(events[i].at_ms) << " " << events[i].kind << ": " << events[i].message
        << "\n";
  }
  return out.str();
}

} // namespace fleetrun::report
