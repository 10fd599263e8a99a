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
  double learned = 0; // the rate the run stored for the next one
  bool ok = false;
};

std::vector<std::string> sandbox_args(long devices, int limit, int latency, bool bare)
{
  std::vector<std::string> args = {
      "--devices",   std::to_string(devices),     "--rate",          std::to_string(limit),
      "--burst",     std::to_string(limit),       "--latency-ms",    std::to_string(latency),
      "--jitter-ms", std::to_string(latency / 5), "--job-threshold", "1000000000"};
  if (bare) args.push_back("--bare-429");
  return args;
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

// The rate a run stored for the next (status --output json: learnedRate).
double learned_rate(const std::filesystem::path& state, const std::vector<std::string>& env)
{
  const CommandResult status = run_fleetrun({"status", "--state", state.string(), "--output", "json"}, env);
  if (status.exit_code != 0) return 0;
  const json facts = json::parse(status.out, nullptr, false);
  return facts.is_object() ? facts.value("learnedRate", 0.0) : 0.0;
}

} // namespace

int main(int argc, char** argv)
{
  const long devices = argc > 1 ? std::stol(argv[1]) : 30'000;
  const auto limits = numbers(argc > 2 ? argv[2] : "5,20,100");
  const auto latencies = numbers(argc > 3 ? argv[3] : "0,50,200,500");
  const int repetitions = argc > 4 ? std::stoi(argv[4]) : 1;
  const std::string kinds = argc > 5 ? argv[5] : "retry-after,bare";
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
  std::printf("cells: wall / ideal, requests / minimum, 429s; 'learned' is the rate the run stored, / the limit\n");
  for (const bool bare : {false, true}) {
    if (kinds.find(bare ? "bare" : "retry-after") == std::string::npos) continue;
    std::printf("== 429s %s\n", bare ? "bare (no Retry-After)" : "with Retry-After");
    std::printf("%-6s %-8s | %-30s | %-44s | %-30s | %s\n", "limit", "latency", "told --rate", "not told",
                "told twice the limit", "official client x4");
    for (const int limit : limits) {
      const long fleet = std::max(devices, static_cast<long>(limit) * 3000);
      const double minimum = 3 * static_cast<double>((fleet + 999) / 1000);
      std::printf("limit %d/s: %ld devices, minimum %.0f requests\n", limit, fleet, minimum);
      for (const int latency : latencies) {
        const double ideal =
            std::max(0.0, minimum - limit) / static_cast<double>(limit) + 3 * static_cast<double>(latency) / 1000.0;
        struct Column {
          std::vector<double> wall, requests, throttled, learned;
        };
        Column told, learn, wrong;
        std::vector<double> official_wall;
        for (int rep = 0; rep < repetitions; ++rep) {
          const std::string tag = std::to_string(limit) + "-" + std::to_string(latency) + "-" + std::to_string(rep) +
                                  (bare ? "-bare" : "-ra");
          const auto fleetrun_run = [&](Column& column, const std::string& name, std::vector<std::string> extra) {
            SandboxProcess sandbox(sandbox_args(fleet, limit, latency, bare));
            const auto state = dir / (name + "-" + tag + ".db");
            std::vector<std::string> command = {fleetrun_binary(), "apply",   (dir / "plan.yaml").string(),
                                                "--yes",           "--state", state.string(),
                                                "--log-level",     "warn"};
            command.insert(command.end(), extra.begin(), extra.end());
            Run run = measure_in(sandbox, command, sandbox_env(sandbox), log);
            if (!run.ok) return false;
            column.wall.push_back(run.wall_s);
            column.requests.push_back(run.requests);
            column.throttled.push_back(run.throttled);
            column.learned.push_back(learned_rate(state, sandbox_env(sandbox)));
            return true;
          };
          const std::string rate = std::to_string(limit);
          const std::string twice = std::to_string(2 * limit);
          if (!fleetrun_run(told, "told", {"--rate", rate, "--burst", rate})) return 1;
          if (!fleetrun_run(learn, "learn", {})) return 1;
          if (!fleetrun_run(wrong, "wrong", {"--rate", twice, "--burst", twice})) return 1;
          if (node) {
            SandboxProcess sandbox(sandbox_args(fleet, limit, latency, bare));
            const Run run = measure_in(sandbox,
                                       {"node", (k_source_dir / "bench" / "official_client.js").string(), "concurrent",
                                        sandbox.url(), "bench"},
                                       sandbox_env(sandbox), log);
            if (!run.ok) return 1;
            official_wall.push_back(run.wall_s);
          }
        }
        const auto cell = [&](const Column& column, bool with_learned) {
          char text[128];
          const int written =
              std::snprintf(text, sizeof text, "%5.2fx, req %4.2fx, 429s %3.0f", median(column.wall) / ideal,
                            median(column.requests) / minimum, median(column.throttled));
          if (with_learned && written > 0) {
            std::snprintf(text + written, sizeof text - static_cast<std::size_t>(written), ", learned %4.2fx",
                          median(column.learned) / limit);
          }
          return std::string(text);
        };
        char official[64] = "-";
        if (!official_wall.empty())
          std::snprintf(official, sizeof official, "%5.2fx ideal", median(official_wall) / ideal);
        std::printf("%-6d %-8d | %-30s | %-44s | %-30s | %s   (ideal %.2f s)\n", limit, latency,
                    cell(told, false).c_str(), cell(learn, true).c_str(), cell(wrong, true).c_str(), official, ideal);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
