#include "bench/bench_support.hpp"

#include <algorithm>
#include <chrono>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fleetrun::bench {

double now_s()
{
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

long long wall_ms()
{
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::filesystem::path& log)
{
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    for (const auto& entry : env) putenv(const_cast<char*>(entry.c_str()));
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
      close(fd);
    }
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

Measured wait_measured(pid_t pid, double started_s)
{
  int status = 0;
  rusage usage{};
  wait4(pid, &status, 0, &usage);
  Measured m;
  m.wall_s = now_s() - started_s;
  m.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  m.user_s = static_cast<double>(usage.ru_utime.tv_sec) + static_cast<double>(usage.ru_utime.tv_usec) / 1e6;
  m.system_s = static_cast<double>(usage.ru_stime.tv_sec) + static_cast<double>(usage.ru_stime.tv_usec) / 1e6;
  m.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0; // kilobytes on Linux
  return m;
}

Measured run_measured(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                      const std::filesystem::path& log)
{
  const double started = now_s();
  return wait_measured(spawn(argv, env, log), started);
}

double process_cpu_seconds(pid_t pid)
{
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start after the last ')'.
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::vector<std::string> values;
  for (std::string field; fields >> field;) values.push_back(field);
  if (values.size() < 13) return 0;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return (std::stod(values[11]) + std::stod(values[12])) / ticks; // utime, stime (fields 14 and 15)
}

double median(std::vector<double> values)
{
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

std::string fleetrun_binary()
{
  return FLEETRUN_BINARY;
}

void write_patch_everything_plan(const std::filesystem::path& path, const std::string& step_fields)
{
  std::ofstream out(path);
  out << "version: 1\n"
         "queries:\n"
         "  everything: {query: {}}\n"
         "steps:\n"
         "  - {id: describe, action: patch, query: everything, allow_whole_fleet: true, "
      << step_fields << "}\n";
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

double state_file_mb(const std::filesystem::path& path)
{
  double bytes = 0;
  for (const auto& file : {path, std::filesystem::path(path.string() + "-wal")}) {
    std::error_code error;
    const auto size = std::filesystem::file_size(file, error);
    if (!error) bytes += static_cast<double>(size);
  }
  return bytes / 1e6;
}

} // namespace fleetrun::bench
