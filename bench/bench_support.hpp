#pragma once
// What the benchmarks share: running a program and measuring it the way
// `/usr/bin/time -v` does (wall clock, user and system CPU, peak resident
// set from wait4), the CPU a running process has used, medians.

#include <filesystem>
#include <string>
#include <sys/types.h>
#include <vector>

namespace fleetrun::bench {

struct Measured {
  int exit_code = -1;
  double wall_s = 0;
  double user_s = 0;
  double system_s = 0;
  double peak_rss_mib = 0; // ru_maxrss, what /usr/bin/time -v calls "Maximum resident set size"
  double cpu_s() const { return user_s + system_s; }
};

// Runs `argv` (argv[0] a path) with extra NAME=value environment entries,
// its output to `log` (appended), and waits for it.
Measured run_measured(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                      const std::filesystem::path& log);

// Starts `argv` the same way without waiting; returns its pid.
pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
            const std::filesystem::path& log);

// Waits for a process from spawn(); measured from `started_s` (steady clock seconds).
Measured wait_measured(pid_t pid, double started_s);

// User + system CPU seconds a live process has used so far (/proc/<pid>/stat).
double process_cpu_seconds(pid_t pid);

// Seconds on the steady clock, and milliseconds since the epoch.
double now_s();
long long wall_ms();

double median(std::vector<double> values);

// The fleetrun binary the benchmarks drive.
std::string fleetrun_binary();

// Writes a plan that patches every device of the application (query
// `everything`) to `path`; `step_fields` are more YAML fields of the step,
// e.g. "updateFields: {description: x}".
void write_patch_everything_plan(const std::filesystem::path& path, const std::string& step_fields);

// A file's size plus its SQLite -wal companion's, in MB (10^6 bytes).
double state_file_mb(const std::filesystem::path& path);

} // namespace fleetrun::bench
