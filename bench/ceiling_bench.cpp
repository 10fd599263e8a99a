// How close a run comes to the rate-limit ceiling: a plan that resolves and
// patches every device of the application, then sends them a command,
// against a sandbox limited to R requests/second.
//
//   build/bench/ceiling_bench [devices=100000] [rates="20,100"] [repetitions=3]
//
// Per rate, medians over the repetitions: requests issued vs. the fewest the
// API's limits allow, achieved request rate / R, wall time / (minimum / R),
// 429s received. Bulk calls are kept synchronous (job threshold above the
// batch size) so that job polling does not blur the request count.
#include "tests/support/sandbox_process.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

using namespace fleetrun::testing;
using nlohmann::json;

namespace {

double median(std::vector<double> values)
{
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

} // namespace

int main(int argc, char** argv)
{
  const int devices = argc > 1 ? std::stoi(argv[1]) : 100'000;
  std::vector<double> rates;
  std::stringstream rate_list(argc > 2 ? argv[2] : "20,100");
  for (std::string r; std::getline(rate_list, r, ',');) rates.push_back(std::stod(r));
  const int repetitions = argc > 3 ? std::stoi(argv[3]) : 3;

  TempDir dir;
  write_file(dir / "plan.yaml", R"(version: 1
queries:
  everything: {query: {}}
steps:
  - {id: tag, action: patch, query: everything, allow_whole_fleet: true, updateFields: {description: ceiling}}
  - {id: ping, action: send_command, query: everything, allow_whole_fleet: true, name: ping}
)");
  // Resolution pages of 1000 (the last one known from totalCount), then patch
  // and command by 1000 deviceIds.
  const int pages = (devices + 999) / 1000;
  const int batches = (devices + 999) / 1000;
  const int minimum = pages + 2 * batches;
  std::printf("devices %d, minimum requests %d (%d resolution pages + %d patch + %d command)\n", devices, minimum,
              pages, batches, batches);

  for (const double rate : rates) {
    std::vector<double> requests, achieved, wall_ratio, throttled, walls;
    for (int rep = 0; rep < repetitions; ++rep) {
      const std::string r = std::to_string(static_cast<int>(rate));
      SandboxProcess sandbox(
          {"--devices", std::to_string(devices), "--rate", r, "--burst", r, "--job-threshold", "100000"});
      const auto started = std::chrono::steady_clock::now();
      const auto result = run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes", "--state",
                                        (dir / ("run-" + r + "-" + std::to_string(rep) + ".db")).string(), "--rate", r,
                                        "--burst", r, "--concurrency", "4", "--output", "json", "--log-level", "warn"},
                                       sandbox_env(sandbox));
      const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (result.exit_code != 0) {
        std::cerr << "apply failed (exit " << result.exit_code << "): " << result.err << "\n";
        return 1;
      }
      const json stats = sandbox.admin_get("/_sandbox/stats")["totals"];
      const double sent = stats.value("requests", 0.0);
      requests.push_back(sent);
      walls.push_back(wall);
      achieved.push_back(sent / wall / rate);
      wall_ratio.push_back(wall / (minimum / rate));
      throttled.push_back(stats.value("rateLimited", 0.0));
    }
    // The bucket starts full: R requests need no wait, so no client can
    // finish before (minimum - R) / R. Shown next to the issue's ideal.
    const double bound = (minimum - rate) / rate;
    std::printf("R=%-4.0f requests %.0f (minimum %d, x%.3f)  achieved rate %.3f R  wall %.2f s = %.3f x ideal "
                "(minimum/R), %.3f x the bound with a full bucket ((minimum-R)/R)  429s %.0f\n",
                rate, median(requests), minimum, median(requests) / minimum, median(achieved), median(walls),
                median(wall_ratio), median(walls) / bound, median(throttled));
  }
  return 0;
}
