// Scale: a dry-run and an apply of a patch over every device of fleets of
// growing size (default 100,000 and 1,000,000), each against a fresh sandbox.
//
//   build/bench/scale_bench [sizes="100000,1000000"] [repetitions=3]
//
// Per size and command, medians over the repetitions: wall time, fleetrun's
// CPU time (user + system) next to the sandbox's over the same command, peak
// RSS of fleetrun (wait4's ru_maxrss, as /usr/bin/time -v reports it) and the
// state file's size. The dry-run runs twice, with text output and with JSON
// output (which lists every device and its changes). Checked: the JSON lists
// every device, the apply updated every device.
#include "bench/bench_support.hpp"
#include "tests/support/sandbox_process.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace fleetrun::testing;
using namespace fleetrun::bench;
using nlohmann::json;

namespace {

// Counts the strings in every "deviceIds" array of a JSON document.
struct IdCounter : nlohmann::json_sax<json> {
  long ids = 0;
  int depth = 0;
  int ids_depth = -1; // the depth of the deviceIds array being read, or -1
  bool next_is_ids = false;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override
  {
    if (ids_depth == depth) ++ids;
    return true;
  }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return ++depth > 0; }
  bool key(string_t& name) override
  {
    next_is_ids = name == "deviceIds";
    return true;
  }
  bool end_object() override { return --depth >= 0; }
  bool start_array(std::size_t) override
  {
    ++depth;
    if (next_is_ids) ids_depth = depth;
    next_is_ids = false;
    return true;
  }
  bool end_array() override
  {
    if (ids_depth == depth) ids_depth = -1;
    --depth;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }
};

} // namespace

int main(int argc, char** argv)
{
  std::vector<long> sizes;
  std::stringstream size_list(argc > 1 ? argv[1] : "100000,1000000");
  for (std::string s; std::getline(size_list, s, ',');) sizes.push_back(std::stol(s));
  const int repetitions = argc > 2 ? std::stoi(argv[2]) : 3;

  TempDir dir;
  const auto plan = dir / "plan.yaml";
  write_patch_everything_plan(plan, R"(updateFields: {description: "${DESCRIPTION}"})");
  std::printf("scale: patch every device; fleetrun --concurrency 4, sandbox unlimited; medians of %d\n", repetitions);
  for (const long devices : sizes) {
    std::map<std::string, std::map<std::string, std::vector<double>>> figures; // command -> figure -> values
    for (int rep = 0; rep < repetitions; ++rep) {
      SandboxProcess sandbox({"--devices", std::to_string(devices), "--job-threshold", "1000000000"});
      auto env = sandbox_env(sandbox);
      env.push_back("DESCRIPTION=scale run " + std::to_string(rep));
      const std::string tag = std::to_string(devices) + "-" + std::to_string(rep);
      for (const std::string variant : {"plan", "plan-json", "apply"}) {
        const std::string command = variant == "apply" ? "apply" : "plan";
        const auto state = dir / (variant + "-" + tag + ".db");
        std::vector<std::string> args = {fleetrun_binary(), command, plan.string(), "--state", state.string(),
                                         "--concurrency",   "4",     "--log-level", "warn"};
        if (command == "plan") args.erase(args.begin() + 5, args.begin() + 7); // plan sends GETs one at a time
        if (command == "apply") args.push_back("--yes");
        if (variant == "plan-json") args.insert(args.end(), {"--output", "json"});
        const double sandbox_before = process_cpu_seconds(sandbox.pid());
        const auto output = dir / (variant + ".out");
        const Measured m = run_measured(args, env, output);
        const double sandbox_cpu = process_cpu_seconds(sandbox.pid()) - sandbox_before;
        if (m.exit_code != 0) {
          std::cerr << command << " failed with exit " << m.exit_code << "; see " << output << "\n";
          return 1;
        }
        if (command == "apply") {
          const auto status = run_fleetrun({"status", "--state", state.string(), "--output", "json"});
          const json facts = json::parse(status.out);
          const auto updated = facts["steps"][0]["result"]["totals"].value("updated", 0L);
          if (updated != devices) {
            std::cerr << "apply updated " << updated << " of " << devices << " devices\n";
            return 1;
          }
        }
        if (variant == "plan-json") {
          // Every device id is in the output, streamed from the state file.
          // Counted with a SAX pass: a tree of it would swell this process,
          // and a forked child starts from its parent's peak RSS.
          std::ifstream in(output);
          IdCounter counter;
          if (!json::sax_parse(in, &counter) || counter.ids != devices) {
            std::cerr << "the JSON preview does not list every device (" << counter.ids << ")\n";
            return 1;
          }
        }
        std::filesystem::remove(output);
        auto& f = figures[variant];
        f["wall"].push_back(m.wall_s);
        f["cpu"].push_back(m.cpu_s());
        f["sandbox_cpu"].push_back(sandbox_cpu);
        f["rss"].push_back(m.peak_rss_mib);
        f["state"].push_back(state_file_mb(state));
        // Gigabytes of finished state files left in the page cache would make
        // the next run's writes wait for their writeback.
        for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(state.string() + suffix);
      }
    }
    for (const std::string variant : {"plan", "plan-json", "apply"}) {
      auto& f = figures[variant];
      const char* label = variant == "plan" ? "dry-run     " : variant == "plan-json" ? "dry-run json" : "apply       ";
      std::printf("devices %-8ld %s wall %6.1f s  fleetrun CPU %6.1f s  sandbox CPU %6.1f s  (fleetrun/sandbox %.2f)  "
                  "peak RSS %6.1f MiB  state file %6.0f MB\n",
                  devices, label, median(f["wall"]), median(f["cpu"]), median(f["sandbox_cpu"]),
                  median(f["cpu"]) / median(f["sandbox_cpu"]), median(f["rss"]), median(f["state"]));
    }
    std::fflush(stdout);
  }
  return 0;
}
