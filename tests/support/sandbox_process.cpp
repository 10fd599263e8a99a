#include "tests/support/sandbox_process.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <spawn.h>
#include <stdexcept>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace fleetrun::testing {

namespace {

std::vector<char*> as_argv(std::vector<std::string>& strings)
{
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

std::vector<std::string> environment_with(const std::vector<std::string>& extra)
{
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const auto name = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& x : extra) overridden = overridden || x.substr(0, x.find('=')) == name;
    if (!overridden) env.push_back(entry);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::string read_file(const std::filesystem::path& path)
{
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

} // namespace

SandboxProcess::SandboxProcess(std::vector<std::string> args)
{
  const auto port_file = m_dir / "port";
  std::vector<std::string> argv = {FLEETRUN_BINARY, "sandbox", "--port", "0", "--port-file", port_file.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  // tests/compat/request_bodies_test.js sets this to collect every request
  // body the tests make fleetrun send, and validates them with ajv.
  if (const char* body_log_dir = std::getenv("FLEETRUN_TEST_BODY_LOG_DIR");
      body_log_dir != nullptr && *body_log_dir != '\0') {
    const bool has_log = std::find(args.begin(), args.end(), "--request-log") != args.end();
    if (!has_log) {
      argv.insert(argv.end(),
                  {"--request-log",
                   (std::filesystem::path(body_log_dir) / (m_dir.path().filename().string() + ".jsonl")).string(),
                   "--log-bodies"});
    }
  }
  auto c_argv = as_argv(argv);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log = (m_dir / "sandbox.out").string();
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (posix_spawn(&m_pid, c_argv[0], &actions, nullptr, c_argv.data(), environ) != 0) {
    throw std::runtime_error("cannot start " FLEETRUN_BINARY);
  }
  posix_spawn_file_actions_destroy(&actions);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(port_file)) {
      m_port = std::stoi(read_file(port_file));
      return;
    }
    int status = 0;
    if (waitpid(m_pid, &status, WNOHANG) == m_pid) {
      m_pid = -1;
      throw std::runtime_error("sandbox exited at start: " + read_file(m_dir / "sandbox.out"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  throw std::runtime_error("sandbox did not start within 60 s");
}

SandboxProcess::~SandboxProcess()
{
  if (m_pid > 0) {
    kill(m_pid, SIGTERM);
    int status = 0;
    waitpid(m_pid, &status, 0);
  }
}

std::string SandboxProcess::url() const
{
  return "http://127.0.0.1:" + std::to_string(m_port);
}

nlohmann::json SandboxProcess::admin_get(const std::string& path) const
{
  const auto [status, body] = http_request(m_port, "GET", path, "", false);
  if (status != 200) throw std::runtime_error("admin GET " + path + " -> " + std::to_string(status) + " " + body);
  return nlohmann::json::parse(body);
}

nlohmann::json SandboxProcess::admin_post(const std::string& path, const std::string& body_text) const
{
  const auto [status, body] = http_request(m_port, "POST", path, body_text, false);
  if (status != 200) throw std::runtime_error("admin POST " + path + " -> " + std::to_string(status) + " " + body);
  return nlohmann::json::parse(body);
}

void write_file(const std::filesystem::path& path, const std::string& text)
{
  std::ofstream out(path, std::ios::binary);
  out << text;
}

namespace {

pid_t spawn_fleetrun(const std::vector<std::string>& args, const std::vector<std::string>& env, const TempDir& dir)
{
  std::vector<std::string> argv = {FLEETRUN_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  auto c_argv = as_argv(argv);
  auto env_strings = environment_with(env);
  auto c_env = as_argv(env_strings);
  const std::string out_path = (dir / "out").string();
  const std::string err_path = (dir / "err").string();
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  if (posix_spawn(&pid, c_argv[0], &actions, nullptr, c_argv.data(), c_env.data()) != 0) {
    throw std::runtime_error("cannot start " FLEETRUN_BINARY);
  }
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

CommandResult collect(pid_t pid, const TempDir& dir)
{
  int status = 0;
  struct rusage usage {};
  wait4(pid, &status, 0, &usage);
  CommandResult result;
  result.peak_rss_kib = usage.ru_maxrss;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = read_file(dir / "out");
  result.err = read_file(dir / "err");
  return result;
}

} // namespace

FleetrunProcess::FleetrunProcess(const std::vector<std::string>& args, const std::vector<std::string>& env)
    : m_pid(spawn_fleetrun(args, env, m_dir))
{
}

FleetrunProcess::~FleetrunProcess()
{
  if (!m_waited) {
    kill(m_pid, SIGKILL);
    int status = 0;
    waitpid(m_pid, &status, 0);
  }
}

void FleetrunProcess::signal(int signal_number)
{
  kill(m_pid, signal_number);
}

bool FleetrunProcess::ended() const
{
  siginfo_t info{};
  return waitid(P_PID, static_cast<id_t>(m_pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == m_pid;
}

std::string FleetrunProcess::err_so_far() const
{
  return read_file(m_dir / "err");
}

CommandResult FleetrunProcess::wait()
{
  m_waited = true;
  return collect(m_pid, m_dir);
}

CommandResult run_fleetrun(const std::vector<std::string>& args, const std::vector<std::string>& env)
{
  TempDir dir;
  return collect(spawn_fleetrun(args, env, dir), dir);
}

nlohmann::json comparable_fleet(const SandboxProcess& sandbox)
{
  nlohmann::json out = nlohmann::json::array();
  for (const auto& device : sandbox.admin_get("/_sandbox/devices")) {
    nlohmann::json tags = nlohmann::json::array();
    for (const auto& tag : device["tags"]) {
      // The marker tag's value is the run id, different in every run.
      tags.push_back(tag["key"] == "fleetrun_run" ? nlohmann::json{{"key", "fleetrun_run"}} : tag);
    }
    std::sort(tags.begin(), tags.end());
    nlohmann::json attributes = nlohmann::json::array();
    for (const auto& attribute : device["attributes"]) attributes.push_back(attribute);
    nlohmann::json commands = nlohmann::json::array();
    for (const auto& command : device["commands"]) {
      commands.push_back({{"name", command["name"]}, {"payload", command.value("payload", nlohmann::json())}});
    }
    out.push_back({{"name", device["name"]},
                   {"description", device["description"]},
                   {"deviceClass", device["deviceClass"]},
                   {"deleted", device.contains("deletedAt")},
                   {"tags", tags},
                   {"attributes", attributes},
                   {"data", device["dataPointsByAttribute"]},
                   {"commands", commands}});
  }
  // Created devices get new ids in each run: compare by content, in name order.
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a["name"] < b["name"]; });
  return out;
}

std::vector<std::string> sandbox_env(const SandboxProcess& sandbox)
{
  return {"LOSANT_API_URL=" + sandbox.url(), std::string("LOSANT_API_TOKEN=") + k_sandbox_token,
          std::string("LOSANT_APPLICATION_ID=") + k_sandbox_application};
}

std::pair<int, std::string> http_request(int port, const std::string& method, const std::string& target,
                                         const std::string& body, bool with_token)
{
  // A deliberately plain client (one request per connection) so the tests of
  // the sandbox do not depend on fleetrun's own client.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    throw std::runtime_error("cannot connect to the sandbox");
  }
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (with_token) request += std::string("Authorization: Bearer ") + k_sandbox_token + "\r\n";
  if (!body.empty()) request += "Content-Type: application/json\r\n";
  request += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  for (std::size_t sent = 0; sent < request.size();) {
    const auto n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  std::string response;
  char buffer[65536];
  for (ssize_t n; (n = recv(fd, buffer, sizeof buffer, 0)) > 0;) response.append(buffer, static_cast<std::size_t>(n));
  close(fd);
  if (response.empty()) return {0, ""}; // connection dropped without an answer
  const int status = std::stoi(response.substr(response.find(' ') + 1, 3));
  const auto header_end = response.find("\r\n\r\n");
  return {status, header_end == std::string::npos ? "" : response.substr(header_end + 4)};
}

} // namespace fleetrun::testing
