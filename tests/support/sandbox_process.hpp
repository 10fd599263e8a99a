#pragma once
// Runs the real `fleetrun` binary as a child process: a sandbox on a free
// loopback port for integration tests, or a one-shot command whose output
// and exit code are captured.

#include "tests/support/temp_dir.hpp"

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <sys/types.h>
#include <vector>

namespace fleetrun::testing {

inline constexpr const char* k_sandbox_token = "sandbox-token";
inline constexpr const char* k_sandbox_application = "5f1a2b3c4d5e6f7a8b9c0d1e";

class SandboxProcess {
public:
  // Starts `fleetrun sandbox --port 0 <args>` and waits until it listens.
  explicit SandboxProcess(std::vector<std::string> args = {});
  ~SandboxProcess();
  SandboxProcess(const SandboxProcess&) = delete;
  SandboxProcess& operator=(const SandboxProcess&) = delete;

  int port() const { return m_port; }
  pid_t pid() const { return m_pid; }
  std::string url() const;
  const TempDir& dir() const { return m_dir; }

  // Admin view over HTTP (no token needed).
  nlohmann::json admin_get(const std::string& path) const;
  nlohmann::json admin_post(const std::string& path, const std::string& body) const;

private:
  TempDir m_dir;
  pid_t m_pid = -1;
  int m_port = 0;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  long peak_rss_kib = 0; // the process's maximum resident set size
};

// The sandbox's fleet with every timestamp left out: devices (deleted or
// not), their fields, tags, attribute names, data-point counts per attribute,
// and commands by name and payload. Two runs that did the same work compare equal.
nlohmann::json comparable_fleet(const SandboxProcess& sandbox);

// Writes `text` to `path`.
void write_file(const std::filesystem::path& path, const std::string& text);

// Runs `fleetrun <args>` with extra environment variables (NAME=value).
CommandResult run_fleetrun(const std::vector<std::string>& args, const std::vector<std::string>& env = {});

// `fleetrun <args>` running in the background, for tests that signal or kill it.
class FleetrunProcess {
public:
  FleetrunProcess(const std::vector<std::string>& args, const std::vector<std::string>& env);
  ~FleetrunProcess();
  FleetrunProcess(const FleetrunProcess&) = delete;
  FleetrunProcess& operator=(const FleetrunProcess&) = delete;
  void signal(int signal_number);
  CommandResult wait(); // exit code (128+signal when killed) and output
  int pid() const { return m_pid; }
  // Whether the process has ended (not reaped: wait() still reports it), and
  // what it has written to stderr so far, for a test that waits on it.
  bool ended() const;
  std::string err_so_far() const;

private:
  TempDir m_dir;
  int m_pid = -1;
  bool m_waited = false;
};

// The environment that points fleetrun at a sandbox.
std::vector<std::string> sandbox_env(const SandboxProcess& sandbox);

// A plain HTTP request to the sandbox; returns status and body.
std::pair<int, std::string> http_request(int port, const std::string& method, const std::string& target,
                                         const std::string& body = "", bool with_token = true);

} // namespace fleetrun::testing
