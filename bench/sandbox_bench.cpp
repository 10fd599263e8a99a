// How the sandbox holds a large fleet: start-up (generation) time, memory,
// and the latency of 1000-device query pages over real HTTP with keep-alive.
//
//   build/bench/sandbox_bench [devices=1000000] [repetitions=7]
//
// Prints one line per figure: name, median (and min/max) over the repetitions.
#include "api/losant_client.hpp"
#include "tests/support/sandbox_process.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <unistd.h>
#include <vector>

using namespace fleetrun;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point start)
{
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Peak and current resident memory of a process, in MiB, from /proc.
std::pair<double, double> memory_mib(int pid)
{
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  double rss = 0, peak = 0;
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) rss = std::stod(line.substr(6)) / 1024.0;
    if (line.starts_with("VmHWM:")) peak = std::stod(line.substr(6)) / 1024.0;
  }
  return {rss, peak};
}

int sandbox_pid(int port)
{
  // The sandbox is the process listening on our port; find it via /proc/net/tcp is overkill:
  // the test helper started it as a child of ours, so scan our children.
  std::ifstream children("/proc/self/task/" + std::to_string(getpid()) + "/children");
  int pid = 0;
  children >> pid;
  (void)port;
  return pid;
}

void report(const std::string& name, std::vector<double> samples, const char* unit)
{
  std::sort(samples.begin(), samples.end());
  std::printf("%-58s median %9.2f %s  (min %.2f, max %.2f, n=%zu)\n", name.c_str(), samples[samples.size() / 2], unit,
              samples.front(), samples.back(), samples.size());
}

std::vector<double> time_runs(int repetitions, const std::function<void()>& body)
{
  std::vector<double> samples;
  for (int i = 0; i < repetitions; ++i) {
    const auto start = Clock::now();
    body();
    samples.push_back(ms_since(start));
  }
  return samples;
}

void require_ok(const api::ApiResult& result, const char* what)
{
  if (!result) {
    std::cerr << what << ": " << result.error().describe() << "\n";
    std::exit(1);
  }
}

} // namespace

int main(int argc, char** argv)
{
  const std::size_t devices = argc > 1 ? std::stoul(argv[1]) : 1'000'000;
  const int repetitions = argc > 2 ? std::stoi(argv[2]) : 7;

  const auto start = Clock::now();
  testing::SandboxProcess sandbox(
      {"--devices", std::to_string(devices), "--job-threshold", "100000", "--threads", "4"});
  const double startup_ms = ms_since(start);
  const int pid = sandbox_pid(sandbox.port());
  const auto [rss, peak] = memory_mib(pid);
  std::printf("sandbox devices                                            %zu\n", devices);
  std::printf("sandbox start-up incl. generating the fleet                %9.0f ms\n", startup_ms);
  std::printf(
      "sandbox resident memory after start-up                     %9.0f MiB (peak %.0f MiB, %.0f bytes/device)\n", rss,
      peak, rss * 1024 * 1024 / static_cast<double>(std::max<std::size_t>(devices, 1)));

  api::TransportOptions options;
  options.base_url = sandbox.url();
  auto transport = api::make_poco_transport(options);
  api::LosantClient client(
      *transport, {"http://sandbox", testing::k_sandbox_application, api::Secret(testing::k_sandbox_token), "^1.29.3"});

  api::DeviceListParams all;
  all.sort_field = "id";
  all.per_page = 1000;
  // The first request of a query scans the fleet; later pages come from the
  // sandbox's result cache until the fleet changes.
  int query_number = 0;
  report("first 1000-device page, match-all, sorted by id (cold)",
         time_runs(repetitions,
                   [&] {
                     auto params = all;
                     // A distinct query text each run defeats the cache: every match-all is cold.
                     params.query_json =
                         R"({"name":{"$ne":"no-such-device-)" + std::to_string(query_number++) + R"("}})";
                     require_ok(client.get_devices(params), "cold page");
                   }),
         "ms");
  int page = 0;
  report("further 1000-device pages of the same query (cached)",
         time_runs(repetitions * 3,
                   [&] {
                     auto params = all;
                     params.page = ++page;
                     require_ok(client.get_devices(params), "warm page");
                   }),
         "ms");
  report(
      "selective query: site=north gateways on fw 1.x (cold)",
      time_runs(
          repetitions,
          [&] {
            auto params = all;
            params.query_json =
                R"({"deviceClass":"gateway","tags":{"site":"north","fw":{"$in":["1.2.0","1.3.1"]}},"name":{"$ne":")" +
                std::to_string(query_number++) + R"("}})";
            require_ok(client.get_devices(params), "selective");
          }),
      "ms");
  report("first page sorted by name (cold: full sort)",
         time_runs(repetitions,
                   [&] {
                     auto params = all;
                     params.sort_field = "name";
                     params.query_json = R"({"name":{"$ne":")" + std::to_string(query_number++) + R"("}})";
                     require_ok(client.get_devices(params), "by name");
                   }),
         "ms");
  const json first = json::parse(client.get_devices(all)->body);
  const std::string one_id = first["items"][0]["id"];
  report("GET one device", time_runs(repetitions * 10, [&] { require_ok(client.get_device(one_id), "one device"); }),
         "ms");
  json ids = json::array();
  for (const auto& device : first["items"]) ids.push_back(device["id"]);
  int version = 0;
  report("PATCH 1000 devices by deviceIds (200, applied inline)",
         time_runs(repetitions,
                   [&] {
                     require_ok(client.patch_devices(
                                    {{"deviceIds", ids},
                                     {"updateOperations",
                                      {{{"operation", "set"},
                                        {"target", "tag"},
                                        {"value", {{"key", "bench"}, {"value", std::to_string(version++)}}}}}}}),
                                "patch");
                   }),
         "ms");
  const auto [rss_after, peak_after] = memory_mib(pid);
  std::printf("sandbox resident memory at the end                         %9.0f MiB (peak %.0f MiB)\n", rss_after,
              peak_after);
  return 0;
}
