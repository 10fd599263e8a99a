#include "runner/resolution.hpp"

#include <spdlog/spdlog.h>

#include <set>

namespace fleetrun::runner {

std::expected<void, api::ApiError> resolve_queries(const plans::Plan& plan, const std::string& run_id,
                                                   const jobs::FetchPage& fetch, DeviceListSink& sink,
                                                   PatchTallies* tallies)
{
  std::set<std::string> used;
  for (const auto& step : plan.steps) {
    if (!step.query.empty()) used.insert(step.query);
  }
  for (const auto& spec : plan.queries) {
    if (!used.contains(spec.name)) continue;
    sink.begin_list(run_id, spec);
    // The patch steps over this query: their changes are counted as pages
    // arrive, while the next page is being fetched.
    std::vector<std::pair<PatchTally*, PatchChangeReader>> counted;
    for (std::size_t i = 0; tallies != nullptr && i < plan.steps.size(); ++i) {
      const auto& step = plan.steps[i];
      if (step.query != spec.name || step.action != plans::ActionKind::patch) continue;
      (*tallies)[i] = PatchTally{};
      counted.emplace_back(&(*tallies)[i], PatchChangeReader(step));
    }
    const auto total = jobs::resolve_query(spec, fetch, [&](jobs::DevicePage&& page) {
      sink.append_page(run_id, spec, page);
      nlohmann::json fields;
      for (auto& [tally, reader] : counted) {
        for (const auto& [id, document] : page) tally->add(reader.changes(id, document, "from the API", fields));
      }
    });
    if (!total) return std::unexpected(total.error());
    sink.end_list(run_id, spec, total->total, total->complete);
    if (total->complete) {
      spdlog::info("query {}: {} devices", spec.name, total->total);
    } else {
      spdlog::warn("query {}: more than its expect.max of {} devices; stopped reading at {}", spec.name,
                   *spec.expect_max, total->total);
    }
  }
  return {};
}

} // namespace fleetrun::runner
