// Latency hiding: no rate limit, every request answered after 50 ms; how
// many devices per second a patch reaches with 1, 2, 4, 8 and 16 requests in
// flight.
//
//   build/bench/latency_bench [devices=20000] [concurrency="1,2,4,8,16"] [repetitions=3] [latency_ms=50]
//
// The patch goes out in batches of 100 devices (200 requests for 20,000) so
// that there are enough requests to keep 16 in flight. Devices per second is
// measured over the step alone (its start and finish events in the state
// file), not the resolution before it, which pages one request at a time.
#include "bench/bench_support.hpp"
#include "losant/time_format.hpp"
#include "tests/support/sandbox_process.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

using namespace fleetrun::testing;
using namespace fleetrun::bench;
using nlohmann::json;

int main(int argc, char** argv)
{
  const int devices = argc > 1 ? std::stoi(argv[1]) : 20'000;
  std::vector<int> levels;
  std::stringstream level_list(argc > 2 ? argv[2] : "1,2,4,8,16");
  for (std::string s; std::getline(level_list, s, ',');) levels.push_back(std::stoi(s));
  const int repetitions = argc > 3 ? std::stoi(argv[3]) : 3;
  const std::string latency = argc > 4 ? argv[4] : "50";

  TempDir dir;
  const auto plan = dir / "plan.yaml";
  write_patch_everything_plan(plan, "batch_size: 100, updateFields: {description: latency}");
  const auto log = dir / "fleetrun.log";
  std::printf("latency hiding: %d devices patched in batches of 100, sandbox latency %s ms, no rate limit, "
              "medians of %d\n",
              devices, latency.c_str(), repetitions);
  double single = 0;
  for (const int concurrency : levels) {
    std::vector<double> rates;
    for (int rep = 0; rep < repetitions; ++rep) {
      SandboxProcess sandbox(
          {"--devices", std::to_string(devices), "--latency-ms", latency, "--job-threshold", "1000000000"});
      const auto state = dir / ("run-" + std::to_string(concurrency) + "-" + std::to_string(rep) + ".db");
      const Measured m = run_measured({fleetrun_binary(), "apply", plan.string(), "--yes", "--state", state.string(),
                                       "--concurrency", std::to_string(concurrency), "--log-level", "warn"},
                                      sandbox_env(sandbox), log);
      if (m.exit_code != 0) {
        std::cerr << "apply failed with exit " << m.exit_code << "; see " << log << "\n";
        return 1;
      }
      const json facts = json::parse(run_fleetrun({"status", "--state", state.string(), "--output", "json"}).out);
      std::int64_t started = 0;
      std::int64_t finished = 0;
      for (const auto& event : facts["events"]) {
        const auto at = fleetrun::losant::parse_iso8601_ms(event["at"].get<std::string>()).value_or(0);
        if (event["kind"] == "step_started") started = at;
        if (event["kind"] == "step_finished") finished = at;
      }
      if (facts["steps"][0]["result"]["totals"].value("updated", 0) != devices || finished <= started) {
        std::cerr << "the step did not update every device\n";
        return 1;
      }
      rates.push_back(devices / (static_cast<double>(finished - started) / 1000.0));
    }
    const double rate = median(rates);
    if (single == 0) single = rate;
    std::printf("concurrency %-2d %8.0f devices/s  (x%.2f of concurrency %d; linear would be x%d)\n", concurrency, rate,
                rate / single, levels.front(), concurrency / levels.front());
    std::fflush(stdout);
  }
  return 0;
}
