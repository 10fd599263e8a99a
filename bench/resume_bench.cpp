// Resume cost: a patch of 1,000,000 devices is killed (SIGKILL) half way
// through its batches; how long `fleetrun resume` takes from its start to its
// first new request reaching the API.
//
//   build/bench/resume_bench [devices=1000000] [repetitions=3]
//
// The first new request is read from the sandbox's request log: the first
// PATCH that arrived (logged time less its handling time) after resume was
// started. Also shown: how long the rest of the run took, and that it
// finished with every device patched.
#include "bench/bench_support.hpp"
#include "losant/time_format.hpp"
#include "tests/support/sandbox_process.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

using namespace fleetrun::testing;
using namespace fleetrun::bench;
using nlohmann::json;

namespace {

// Arrival time (ms since the epoch) of the first PATCH logged at or after `since_ms`.
std::optional<double> first_patch_since(const std::filesystem::path& request_log, long long since_ms)
{
  std::ifstream in(request_log);
  for (std::string line; std::getline(in, line);) {
    const json entry = json::parse(line, nullptr, false);
    if (entry.is_discarded() || entry.value("method", "") != "PATCH") continue;
    const auto logged = fleetrun::losant::parse_iso8601_ms(entry.value("time", ""));
    if (!logged) continue;
    const double arrived = static_cast<double>(*logged) - entry.value("ms", 0.0);
    if (arrived >= static_cast<double>(since_ms) - 1) return arrived;
  }
  return std::nullopt;
}

} // namespace

int main(int argc, char** argv)
{
  const long devices = argc > 1 ? std::stol(argv[1]) : 1'000'000;
  const int repetitions = argc > 2 ? std::stoi(argv[2]) : 3;
  const long batches = (devices + 999) / 1000;

  TempDir dir;
  const auto plan = dir / "plan.yaml";
  write_patch_everything_plan(plan, "updateFields: {description: resumed}");
  const auto log = dir / "fleetrun.log";
  std::printf("resume cost: %ld devices, patch in %ld batches, killed after %ld; medians of %d\n", devices, batches,
              batches / 2, repetitions);
  std::vector<double> first_request_ms, rest_s, killed_at;
  for (int rep = 0; rep < repetitions; ++rep) {
    const auto request_log = dir / ("requests-" + std::to_string(rep) + ".jsonl");
    SandboxProcess sandbox(
        {"--devices", std::to_string(devices), "--job-threshold", "1000000000", "--request-log", request_log.string()});
    const auto env = sandbox_env(sandbox);
    const auto state = dir / ("run-" + std::to_string(rep) + ".db");
    const pid_t apply = spawn({fleetrun_binary(), "apply", plan.string(), "--yes", "--state", state.string(),
                               "--concurrency", "4", "--log-level", "warn"},
                              env, log);
    const std::string patches = "PATCH /applications/{applicationId}/devices 200";
    double done = 0;
    while (done < static_cast<double>(batches / 2)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      done = sandbox.admin_get("/_sandbox/stats")["requests"].value(patches, 0.0);
    }
    kill(apply, SIGKILL);
    wait_measured(apply, now_s());
    killed_at.push_back(done);

    const long long resume_started_ms = wall_ms();
    const Measured resumed =
        run_measured({fleetrun_binary(), "resume", "--state", state.string(), "--log-level", "warn"}, env, log);
    if (resumed.exit_code != 0) {
      std::cerr << "resume failed with exit " << resumed.exit_code << "; see " << log << "\n";
      return 1;
    }
    const auto first = first_patch_since(request_log, resume_started_ms);
    const json facts = json::parse(run_fleetrun({"status", "--state", state.string(), "--output", "json"}).out);
    const auto& step = facts["steps"][0];
    if (!first || step["status"] != "done" || step["devicesByState"].value("done", 0L) != devices) {
      std::cerr << "the resumed run did not finish every device: " << step.dump() << "\n";
      return 1;
    }
    first_request_ms.push_back(*first - static_cast<double>(resume_started_ms));
    rest_s.push_back(resumed.wall_s);
  }
  std::printf("killed after %.0f of %ld batches had been answered\n", median(killed_at), batches);
  std::printf("resume start to first new request: %.0f ms\n", median(first_request_ms));
  std::printf("resume start to the end of the run: %.1f s\n", median(rest_s));
  return 0;
}
