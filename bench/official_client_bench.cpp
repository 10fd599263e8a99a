// Against the official client: the same patch of every device done three
// ways against the same sandbox and rate limit, side by side in each
// repetition, each on a fresh sandbox:
//   fleetrun apply (which also previews and records every batch in SQLite),
//   bench/official_client.js batched    (losant-rest, pages, then PATCH by 1000 deviceIds),
//   bench/official_client.js per-device (losant-rest, pages, then one PATCH per device).
//
//   build/bench/official_client_bench [devices=100000] [rate=100] [per_device_devices=5000] [repetitions=3]
//
// The per-device way needs one request per device, so it runs on a smaller
// fleet (per_device_devices), against which fleetrun runs as well. Figures:
// wall times and their ratios (medians). Needs node and `npm ci` in tests/compat.
#include "bench/bench_support.hpp"
#include "tests/support/sandbox_process.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

using namespace fleetrun::testing;
using namespace fleetrun::bench;
using nlohmann::json;

namespace {

const std::filesystem::path k_source_dir = FLEETRUN_SOURCE_DIR;

struct Contest {
  std::vector<double> fleetrun, official;         // wall seconds
  std::vector<double> fleetrun_cpu, official_cpu; // user + system seconds
};

// One side by side: fleetrun, then the official client in `mode`, each on a fresh sandbox.
bool run_pair(long devices, const std::string& rate, const std::string& mode, int rep, const TempDir& dir,
              Contest& contest)
{
  const auto log = dir / "bench.log";
  const std::vector<std::string> sandbox_args = {"--devices", std::to_string(devices), "--rate",    rate, "--burst",
                                                 rate,        "--job-threshold",       "1000000000"};
  const std::string description = mode + " " + std::to_string(rep);
  {
    SandboxProcess sandbox(sandbox_args);
    auto env = sandbox_env(sandbox);
    env.push_back("DESCRIPTION=" + description);
    const auto state = dir / ("fleetrun-" + mode + "-" + std::to_string(rep) + ".db");
    const Measured m =
        run_measured({fleetrun_binary(), "apply", (dir / "plan.yaml").string(), "--yes", "--state", state.string(),
                      "--rate", rate, "--burst", rate, "--concurrency", "4", "--log-level", "warn"},
                     env, log);
    if (m.exit_code != 0) {
      std::cerr << "fleetrun failed with exit " << m.exit_code << "; see " << log << "\n";
      return false;
    }
    contest.fleetrun.push_back(m.wall_s);
    contest.fleetrun_cpu.push_back(m.cpu_s());
  }
  {
    SandboxProcess sandbox(sandbox_args);
    const Measured m = run_measured(
        {"node", (k_source_dir / "bench" / "official_client.js").string(), mode, sandbox.url(), description},
        sandbox_env(sandbox), log);
    if (m.exit_code != 0) {
      std::cerr << "the official client script failed with exit " << m.exit_code << "; see " << log << "\n";
      return false;
    }
    // The script's work is checked in the sandbox: every device carries the description.
    const auto stats = sandbox.admin_get("/_sandbox/stats")["requests"];
    const std::string route = mode == "batched" ? "PATCH /applications/{applicationId}/devices 200"
                                                : "PATCH /applications/{applicationId}/devices/{id} 200";
    const double expected = mode == "batched" ? static_cast<double>((devices + 999) / 1000) : devices;
    if (stats.value(route, 0.0) != expected) {
      std::cerr << "the official client sent " << stats.value(route, 0.0) << " " << route << ", expected " << expected
                << "\n";
      return false;
    }
    contest.official.push_back(m.wall_s);
    contest.official_cpu.push_back(m.cpu_s());
  }
  return true;
}

} // namespace

int main(int argc, char** argv)
{
  const long devices = argc > 1 ? std::stol(argv[1]) : 100'000;
  const std::string rate = argc > 2 ? argv[2] : "100";
  const long small = argc > 3 ? std::stol(argv[3]) : 5'000;
  const int repetitions = argc > 4 ? std::stoi(argv[4]) : 3;
  if (!std::filesystem::exists(k_source_dir / "tests" / "compat" / "node_modules" / "losant-rest")) {
    std::cerr << "losant-rest is not installed: run `npm ci --prefix tests/compat` first\n";
    return 2;
  }
  TempDir dir;
  write_patch_everything_plan(dir / "plan.yaml", R"(updateFields: {description: "${DESCRIPTION}"})");
  std::printf(
      "against the official client: patch every device, sandbox limited to %s req/s (burst %s), medians of %d\n",
      rate.c_str(), rate.c_str(), repetitions);
  Contest batched, per_device;
  for (int rep = 0; rep < repetitions; ++rep) {
    if (!run_pair(devices, rate, "batched", rep, dir, batched)) return 1;
    if (!run_pair(small, rate, "per-device", rep, dir, per_device)) return 1;
  }
  std::printf("%ld devices: fleetrun %.2f s, losant-rest batched script %.2f s: fleetrun takes %.2f x the script's "
              "time (CPU: fleetrun %.2f s, script %.2f s)\n",
              devices, median(batched.fleetrun), median(batched.official),
              median(batched.fleetrun) / median(batched.official), median(batched.fleetrun_cpu),
              median(batched.official_cpu));
  std::printf("%ld devices: fleetrun %.2f s, losant-rest per-device script %.2f s: the script takes %.0f x fleetrun's "
              "time (CPU: fleetrun %.2f s, script %.2f s)\n",
              small, median(per_device.fleetrun), median(per_device.official),
              median(per_device.official) / median(per_device.fleetrun), median(per_device.fleetrun_cpu),
              median(per_device.official_cpu));
  return 0;
}
