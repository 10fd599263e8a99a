// Real conditions (issue 11): an API whose rate limit fleetrun is told or
// must learn, with round trips of 0 to 500 ms (and jitter), side by side with
// a careful script using Losant's official client (four requests in flight).
// The job: patch every device, then send a command to every device.
//
//   build/bench/real_conditions_bench [devices=30000] [limits=5,20,100] [latencies=0,50,200,500] [repetitions=1]
//
// The fleet is `devices`, or limit x 3,000 devices where that is more (at
// 100/s, 300,000), so that every cell runs well beyond the server's first
// burst: with fewer requests than the burst, the "ideal" is three round trips
// and says more about process start-up than about pacing.
// Each run gets a fresh sandbox (its bucket full) and, for fleetrun, a fresh
// state file, so "not told" learns from scratch. The ideal is the physical
// limit: the server's bucket starts full (burst = rate), the rest of the
// minimum requests go at the rate, and each phase (resolution, patch,
// command) waits for one round trip at least:
//   ideal = max(0, minimum - burst) / rate + 3 x latency
// Printed per cell: wall / ideal, requests / minimum, 429s, and the official
// client's wall / ideal. Needs node and `npm ci` in tests/compat for the
// official client's column (skipped without).
#include "bench/bench_support.hpp"
#include "tests/support/sandbox_process.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

using namespace fleetrun::testing;
using namespace fleetrun::bench;
using nlohmann::json;

namespace {

const std::filesystem::path k_source_dir = FLEETRUN_SOURCE_DIR;

std::vector<int> numbers(const std::string& list)
{
  std::vector<int> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoi(item));
  return out;
}

struct Run {
  double wall_s = 0;
  double requests = 0; // API requests the sandbox counted
  double throttled = 0;
  bool ok = false;
};

std::vector<std::string> sandbox_args(long devices, int limit, int latency)
{
  return {"--devices",   std::to_string(devices),     "--rate",          std::to_string(limit),
          "--burst",     std::to_string(limit),       "--latency-ms",    std::to_string(latency),
          "--jitter-ms", std::to_string(latency / 5), "--job-threshold", "1000000000"};
}

Run measure_in(SandboxProcess& sandbox, const std::vector<std::string>& argv, std::vector<std::string> env,
               const std::filesystem::path& log)
{
  Run run;
  const Measured m = run_measured(argv, env, log);
  run.wall_s = m.wall_s;
  run.ok = m.exit_code == 0;
  if (!run.ok) std::cerr << argv[0] << " ... failed with exit " << m.exit_code << "; see " << log << "\n";
  const json totals = sandbox.admin_get("/_sandbox/stats")["totals"];
  run.requests = totals.value("requests", 0.0); // API requests only: admin reads are not counted
  run.throttled = totals.value("rateLimited", 0.0);
  return run;
}

} // namespace

int main(int argc, char** argv)
{
  const long devices = argc > 1 ? std::stol(argv[1]) : 30'000;
  const auto limits = numbers(argc > 2 ? argv[2] : "5,20,100");
  const auto latencies = numbers(argc > 3 ? argv[3] : "0,50,200,500");
  const int repetitions = argc > 4 ? std::stoi(argv[4]) : 1;
  const bool node = std::system("node --version > /dev/null 2>&1") == 0 &&
                    std::filesystem::exists(k_source_dir / "tests/compat/node_modules/losant-rest");
  TempDir dir;
  const auto log = dir / "bench.log";
  {
    std::ofstream plan(dir / "plan.yaml");
    plan << "version: 1\nqueries:\n  everything: {query: {}}\nsteps:\n"
            "  - {id: describe, action: patch, query: everything, allow_whole_fleet: true, "
            "updateFields: {description: bench}}\n"
            "  - {id: ping, action: send_command, query: everything, allow_whole_fleet: true, name: ping}\n";
  }
  std::printf("real conditions: patch every device, then a command to every device; medians of %d\n", repetitions);
  std::printf("%-6s %-8s | %-34s | %-34s | %s\n", "limit", "latency", "fleetrun told --rate", "fleetrun not told",
              "official client x4");
  for (const int limit : limits) {
    const long fleet = std::max(devices, static_cast<long>(limit) * 3000);
    const double minimum = 3 * static_cast<double>((fleet + 999) / 1000);
    std::printf("limit %d/s: %ld devices, minimum %.0f requests\n", limit, fleet, minimum);
    for (const int latency : latencies) {
      const double ideal =
          std::max(0.0, minimum - limit) / static_cast<double>(limit) + 3 * static_cast<double>(latency) / 1000.0;
      std::vector<double> told_wall, told_req, told_429, learn_wall, learn_req, learn_429, official_wall;
      for (int rep = 0; rep < repetitions; ++rep) {
        const std::string tag = std::to_string(limit) + "-" + std::to_string(latency) + "-" + std::to_string(rep);
        {
          SandboxProcess sandbox(sandbox_args(fleet, limit, latency));
          const Run run = measure_in(sandbox,
                                     {fleetrun_binary(), "apply", (dir / "plan.yaml").string(), "--yes", "--state",
                                      (dir / ("told-" + tag + ".db")).string(), "--rate", std::to_string(limit),
                                      "--burst", std::to_string(limit), "--log-level", "warn"},
                                     sandbox_env(sandbox), log);
          if (!run.ok) return 1;
          told_wall.push_back(run.wall_s);
          told_req.push_back(run.requests);
          told_429.push_back(run.throttled);
        }
        {
          SandboxProcess sandbox(sandbox_args(fleet, limit, latency));
          const Run run = measure_in(sandbox,
                                     {fleetrun_binary(), "apply", (dir / "plan.yaml").string(), "--yes", "--state",
                                      (dir / ("learn-" + tag + ".db")).string(), "--log-level", "warn"},
                                     sandbox_env(sandbox), log);
          if (!run.ok) return 1;
          learn_wall.push_back(run.wall_s);
          learn_req.push_back(run.requests);
          learn_429.push_back(run.throttled);
        }
        if (node) {
          SandboxProcess sandbox(sandbox_args(fleet, limit, latency));
          const Run run = measure_in(
              sandbox,
              {"node", (k_source_dir / "bench" / "official_client.js").string(), "concurrent", sandbox.url(), "bench"},
              sandbox_env(sandbox), log);
          if (!run.ok) return 1;
          official_wall.push_back(run.wall_s);
        }
      }
      const auto cell = [&](const std::vector<double>& wall, const std::vector<double>& requests,
                            const std::vector<double>& throttled) {
        char text[96];
        std::snprintf(text, sizeof text, "%5.2fx ideal, req %4.2fx, 429s %3.0f", median(wall) / ideal,
                      median(requests) / minimum, median(throttled));
        return std::string(text);
      };
      char official[64] = "-";
      if (!official_wall.empty())
        std::snprintf(official, sizeof official, "%5.2fx ideal", median(official_wall) / ideal);
      std::printf("%-6d %-8d | %-34s | %-34s | %s   (ideal %.2f s)\n", limit, latency,
                  cell(told_wall, told_req, told_429).c_str(), cell(learn_wall, learn_req, learn_429).c_str(), official,
                  ideal);
      std::fflush(stdout);
    }
  }
  return 0;
}
