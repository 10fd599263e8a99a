// The command line itself: help that shows true defaults, and exit codes that
// mean what docs/CLI.md says whatever layer the failure comes from.
#include "tests/support/required_tool.hpp"
#include "tests/support/sandbox_process.hpp"
#include "tests/support/schema_1_file.hpp"
#include "tests/support/wait_until.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sqlite3.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>
#include <sys/wait.h>
#include <thread>

using nlohmann::json;
using namespace fleetrun::testing;

namespace {

const char* k_plan = R"(version: 1
queries:
  gateways: {query: {deviceClass: gateway}}
steps:
  - {id: tag, action: patch, query: gateways, updateFields: {description: x}}
)";

void sql(const std::filesystem::path& file, const std::string& statement)
{
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK);
  char* error = nullptr;
  const int rc = sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &error);
  INFO((error ? error : ""));
  sqlite3_free(error);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

} // namespace

TEST_CASE("--help shows each option's true default, never a sentinel", "[cli]")
{
  const auto help = run_fleetrun({"apply", "--help"});
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.out, !Catch::Contains("=-1"));
  CHECK_THAT(help.out, Catch::Contains("--concurrency"));
  CHECK_THAT(help.out, Catch::Contains("=64"));
  CHECK_THAT(help.out, Catch::Contains("--max-attempts"));
  CHECK_THAT(help.out, Catch::Contains("=8"));
  CHECK_THAT(help.out, Catch::Contains("https://api.losant.com"));
  CHECK_THAT(help.out, Catch::Contains("LOSANT_API_TOKEN"));
}

TEST_CASE("a bad flag value or an unknown command is a usage error (2)", "[cli]")
{
  CHECK(run_fleetrun({"apply", "x.yaml", "--concurrency", "0"}).exit_code == 2);
  CHECK(run_fleetrun({"apply", "x.yaml", "--rate", "-3"}).exit_code == 2);
  CHECK(run_fleetrun({"frobnicate"}).exit_code == 2);
}

TEST_CASE("a state file that fails under a running command exits 4, not 5", "[cli]")
{
  SandboxProcess sandbox({"--devices", "50"});
  TempDir dir;
  write_file(dir / "plan.yaml", k_plan);
  const auto state = dir / "plan.fleetrun.db";
  REQUIRE(run_fleetrun({"plan", (dir / "plan.yaml").string()}, sandbox_env(sandbox)).exit_code == 0);
  // A state file damaged the way a careless edit or a bad copy would: a column gone.
  sql(state, "ALTER TABLE runs DROP COLUMN plan_path");
  const auto status = run_fleetrun({"status", "--state", state.string()});
  CHECK(status.exit_code == 4);
  CHECK_THAT(status.err, Catch::Contains("plan_path"));
  CHECK_THAT(status.err, Catch::Contains("plan.fleetrun.db"));
  const auto apply = run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes"}, sandbox_env(sandbox));
  CHECK(apply.exit_code == 4);
}

TEST_CASE("apply, status and the report speak in words, not JSON", "[cli]")
{
  SandboxProcess sandbox({"--devices", "300"});
  TempDir dir;
  write_file(dir / "plan.yaml", k_plan);
  const auto state = (dir / "s.db").string();
  const auto apply =
      run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes", "--state", state}, sandbox_env(sandbox));
  REQUIRE(apply.exit_code == 0);
  const auto gateways = sandbox.admin_get("/_sandbox/devices");
  std::int64_t expected = 0;
  for (const auto& device : gateways) expected += device["deviceClass"] == "gateway" ? 1 : 0;
  REQUIRE(expected > 0);
  const auto status = run_fleetrun({"status", "--state", state});
  REQUIRE(status.exit_code == 0);
  INFO(apply.out << apply.err << status.out);
  // The step's counts and the run's requests, as a person reads them.
  CHECK_THAT(status.out, Catch::Contains("done: " + std::to_string(expected) + " updated"));
  CHECK_THAT(status.out, Catch::Contains("; " + std::to_string(expected) + " updated"));
  CHECK_THAT(status.out, Catch::Matches("[\\s\\S]*requests: [0-9,]+ requests \\([0-9,]+ for batches, [0-9,]+ for "
                                        "resolution\\)[\\s\\S]*"));
  for (const auto& text : {apply.out, apply.err, status.out}) CHECK_THAT(text, !Catch::Contains("{\""));
  const auto report = run_fleetrun({"report", "--state", state});
  REQUIRE(report.exit_code == 0);
  CHECK_THAT(report.out, Catch::Contains("| requests for batches | "));
  CHECK_THAT(report.out, !Catch::Contains("{\""));
}

TEST_CASE("status on an older state file leaves it alone and names fleetrun migrate, which brings it up", "[cli]")
{
  TempDir dir;
  const auto state = dir / "old.fleetrun.db";
  sql(state, k_schema_1_file);
  const auto size_before = std::filesystem::file_size(state);
  for (const std::string command : {"status", "runs", "report"}) {
    const auto refused = run_fleetrun({command, "--state", state.string()});
    INFO(command << ": " << refused.err);
    CHECK(refused.exit_code == 4);
    CHECK_THAT(refused.err, Catch::Contains("`fleetrun migrate --state " + state.string()));
  }
  CHECK(std::filesystem::file_size(state) == size_before); // read-only: nothing written
  const auto migrated = run_fleetrun({"migrate", "--state", state.string()});
  INFO(migrated.err);
  REQUIRE(migrated.exit_code == 0);
  const auto status = run_fleetrun({"status", "--state", state.string(), "--run", "r-old"});
  INFO(status.err);
  CHECK(status.exit_code == 0);
  CHECK_THAT(status.out, Catch::Contains("run r-old (apply): completed"));
}

TEST_CASE("a state file that cannot be created names the file and --state", "[cli]")
{
  SandboxProcess sandbox({"--devices", "10"});
  TempDir dir;
  write_file(dir / "plan.yaml", k_plan);
  const auto result = run_fleetrun(
      {"plan", (dir / "plan.yaml").string(), "--state", (dir / "no/such/dir/x.db").string()}, sandbox_env(sandbox));
  CHECK(result.exit_code == 4);
  CHECK_THAT(result.err, Catch::Contains("x.db"));
  CHECK_THAT(result.err, Catch::Contains("--state"));
}

TEST_CASE("a TLS failure is exit 5 with a hint, and no hint to pass --insecure when it was passed", "[cli]")
{
  TempDir dir;
  const std::string cert = (dir / "cert.pem").string();
  const std::string key = (dir / "key.pem").string();
  REQUIRE(std::system(("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext "
                       "subjectAltName=IP:127.0.0.1 -keyout " +
                       key + " -out " + cert + " 2>/dev/null")
                          .c_str()) == 0);
  SandboxProcess sandbox({"--devices", "5", "--tls-cert", cert, "--tls-key", key});
  write_file(dir / "plan.yaml", k_plan);
  auto env = sandbox_env(sandbox);
  env[0] = "LOSANT_API_URL=https://127.0.0.1:" + std::to_string(sandbox.port());
  const auto refused = run_fleetrun({"plan", (dir / "plan.yaml").string()}, env);
  CHECK(refused.exit_code == 5);
  CHECK_THAT(refused.err, Catch::Contains("TLS failed"));
  CHECK_THAT(refused.err, Catch::Contains("--ca-file"));
  const auto trusted = run_fleetrun({"plan", (dir / "plan.yaml").string(), "--ca-file", cert}, env);
  CHECK(trusted.exit_code == 0);
  // Plain HTTP spoken to an HTTPS port: a connection that fails, exit 5.
  env[0] = "LOSANT_API_URL=http://127.0.0.1:" + std::to_string(sandbox.port());
  CHECK(run_fleetrun({"plan", (dir / "plan.yaml").string(), "--max-attempts", "1"}, env).exit_code == 5);
}

TEST_CASE("a full disk under a running apply is exit 4, and resume finishes once there is room", "[cli]")
{
  SandboxProcess sandbox({"--devices", "3000", "--seed", "2"});
  TempDir dir;
  write_file(dir / "plan.yaml", R"(version: 1
queries: {all: {query: {name: {$ne: nobody}}}}
steps: [{id: t, action: patch, query: all, batch_size: 5, allow_whole_fleet: true, updateFields: {description: full}}]
)");
  // The shell limits the size of files fleetrun writes and ignores SIGXFSZ, so
  // a write past the limit fails with EFBIG, as on a full disk.
  std::string command = "ulimit -f 3000; trap '' XFSZ; exec " FLEETRUN_BINARY " apply " + (dir / "plan.yaml").string() +
                        " --yes --state " + (dir / "s.db").string() + " 2>" + (dir / "err").string();
  std::string env_prefix;
  for (const auto& variable : sandbox_env(sandbox)) env_prefix += variable + " ";
  const int status = std::system(("env " + env_prefix + "bash -c \"" + command + "\"").c_str());
  std::ifstream err_file(dir / "err");
  const std::string err((std::istreambuf_iterator<char>(err_file)), std::istreambuf_iterator<char>());
  INFO(err);
  CHECK(WEXITSTATUS(status) == 4);
  CHECK_THAT(err, Catch::Contains("s.db"));
  const auto resumed = run_fleetrun({"resume", "--state", (dir / "s.db").string()}, sandbox_env(sandbox));
  INFO(resumed.err);
  CHECK(resumed.exit_code == 0);
  for (const auto& device : sandbox.admin_get("/_sandbox/devices")) CHECK(device["description"] == "full");
}

namespace {

// `fleetrun <args>` on a pseudo-terminal (util-linux `script`), `typed` as what
// the person types; returns the exit code and everything shown on the terminal.
std::pair<int, std::string> on_terminal(const TempDir& dir, const std::vector<std::string>& args,
                                        const std::vector<std::string>& env, const std::string& typed)
{
  write_file(dir / "typed.txt", typed);
  std::string command = std::string(FLEETRUN_BINARY);
  for (const auto& arg : args) command += " '" + arg + "'";
  std::string line = "env";
  for (const auto& variable : env) line += " '" + variable + "'";
  line += " script -qec \"" + command + "\" /dev/null < '" + (dir / "typed.txt").string() + "' > '" +
          (dir / "terminal.txt").string() + "' 2>&1";
  const int status = std::system(line.c_str());
  std::ifstream in(dir / "terminal.txt");
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, std::string(std::istreambuf_iterator<char>(in), {})};
}

} // namespace

TEST_CASE("on a terminal, a large command run must be confirmed by typing its device count", "[cli]")
{
  if (!require_tool("script", "a pseudo-terminal to confirm on")) return;
  SandboxProcess sandbox({"--devices", "1500", "--job-threshold", "100000"});
  TempDir dir;
  write_file(dir / "plan.yaml", R"(version: 1
queries: {all: {query: {}}}
steps: [{id: ping, action: send_command, query: all, allow_whole_fleet: true, name: ping}]
)");
  const std::vector<std::string> apply = {"apply", (dir / "plan.yaml").string(), "--state", (dir / "s.db").string()};
  const auto [refused, shown] = on_terminal(dir, apply, sandbox_env(sandbox), "yes\n");
  INFO(shown);
  CHECK(refused == 3);
  CHECK_THAT(shown, Catch::Contains("Plan: 1,500 commands; 2 requests"));
  CHECK_THAT(shown, Catch::Contains("commands 1,500 devices. Type that number (1500) to apply:"));
  std::int64_t commanded = 0;
  for (const auto& device : sandbox.admin_get("/_sandbox/devices")) commanded += device["commands"].size();
  CHECK(commanded == 0);

  const auto [confirmed, shown_again] = on_terminal(dir, apply, sandbox_env(sandbox), "1,500\n");
  INFO(shown_again);
  CHECK(confirmed == 0);
  for (const auto& device : sandbox.admin_get("/_sandbox/devices")) commanded += device["commands"].size();
  CHECK(commanded == 1500);
}

TEST_CASE("a mistyped command is named with the command meant", "[cli]")
{
  const auto typo = run_fleetrun({"--log-level", "warn", "aply", "plan.yaml"});
  CHECK(typo.exit_code == 2);
  CHECK_THAT(typo.err, Catch::Contains("unknown command \"aply\" (did you mean \"apply\"?)"));
  const auto nonsense = run_fleetrun({"zzzzzz"});
  CHECK(nonsense.exit_code == 2);
  CHECK_THAT(nonsense.err, Catch::Contains("unknown command \"zzzzzz\";") && !Catch::Contains("did you mean"));
}

TEST_CASE("a refused token is exit 5 naming where the token came from and what it was used for", "[cli]")
{
  SandboxProcess sandbox({"--devices", "10"});
  TempDir dir;
  write_file(dir / "plan.yaml", "version: 1\nqueries: {q: {query: {deviceClass: gateway}}}\nsteps: [{id: d, action: "
                                "patch, query: q, updateFields: {description: a}}]\n");
  auto env = sandbox_env(sandbox);
  env.push_back("OTHER_TOKEN=not-the-right-one");
  const auto result = run_fleetrun({"plan", (dir / "plan.yaml").string(), "--token-env", "OTHER_TOKEN"}, env);
  CHECK(result.exit_code == 5);
  CHECK_THAT(result.err, Catch::Contains("HTTP 401") && Catch::Contains("check the token in $OTHER_TOKEN") &&
                             Catch::Contains("at " + sandbox.url() + " (from $LOSANT_API_URL)"));
  CHECK_THAT(result.err, !Catch::Contains("not-the-right-one"));
}

TEST_CASE("log lines carry a UTC timestamp, --log-format json writes one object per line, --log-file a copy", "[cli]")
{
  SandboxProcess sandbox({"--devices", "10"});
  TempDir dir;
  write_file(dir / "plan.yaml", "version: 1\nqueries: {q: {query: {deviceClass: gateway}}}\nsteps: [{id: d, action: "
                                "patch, query: q, updateFields: {description: a}}]\n");
  const auto text = run_fleetrun({"plan", (dir / "plan.yaml").string()}, sandbox_env(sandbox));
  REQUIRE(text.exit_code == 0);
  CHECK(std::regex_search(text.err, std::regex(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z .*info.*: query q: )")));

  const std::string log_file = (dir / "fleetrun.log").string();
  const auto json_run = run_fleetrun(
      {"--log-format", "json", "--log-file", log_file, "plan", (dir / "plan.yaml").string()}, sandbox_env(sandbox));
  REQUIRE(json_run.exit_code == 0);
  std::istringstream lines(json_run.err);
  int objects = 0;
  for (std::string line; std::getline(lines, line);) {
    const json entry = json::parse(line);
    CHECK(entry["level"].is_string());
    CHECK(entry["time"].get<std::string>().ends_with("Z"));
    ++objects;
  }
  CHECK(objects >= 1);
  std::ifstream copy(log_file);
  const std::string copied((std::istreambuf_iterator<char>(copy)), {});
  CHECK(copied == json_run.err);

  const auto unwritable =
      run_fleetrun({"--log-file", "/nonexistent/dir/x.log", "validate", (dir / "plan.yaml").string()});
  CHECK(unwritable.exit_code == 2);
  CHECK_THAT(unwritable.err, Catch::Contains("--log-file /nonexistent/dir/x.log"));
}

TEST_CASE("progress: log lines every few seconds when piped, a live line on a terminal, none with never", "[cli]")
{
  SandboxProcess sandbox({"--devices", "400", "--latency-ms", "300", "--job-threshold", "100000"});
  TempDir dir;
  write_file(dir / "plan.yaml", R"(version: 1
queries: {all: {query: {}}}
steps: [{id: tag, action: patch, query: all, allow_whole_fleet: true, batch_size: 10,
         updateFields: {description: progress}}]
)");
  // 40 batches, one at a time at 300 ms: about 12 s, so at least two lines 5 s apart.
  const auto piped = run_fleetrun(
      {"apply", (dir / "plan.yaml").string(), "--yes", "--concurrency", "1", "--state", (dir / "a.db").string()},
      sandbox_env(sandbox));
  INFO(piped.err);
  REQUIRE(piped.exit_code == 0);
  const std::regex line(R"(\dZ .*info.*: step 1/1 tag \(patch\): [\d,]+/400 devices)");
  const auto lines = std::distance(std::sregex_iterator(piped.err.begin(), piped.err.end(), line), {});
  CHECK(lines >= 3); // two on the way, one at the end
  CHECK_THAT(piped.err, Catch::Contains("400/400 devices 100.0 %") && Catch::Contains("step finished"));
  CHECK_THAT(piped.err, Catch::Contains("ETA "));
  CHECK_THAT(piped.err, !Catch::Contains("\033[K"));

  const auto quiet = run_fleetrun(
      {"apply", (dir / "plan.yaml").string(), "--yes", "--progress", "never", "--state", (dir / "b.db").string()},
      sandbox_env(sandbox));
  REQUIRE(quiet.exit_code == 0);
  CHECK_THAT(quiet.err, !Catch::Contains("step 1/1 tag (patch):"));

  if (require_tool("script", "progress drawn on a terminal")) {
    const auto [code, shown] = on_terminal(
        dir, {"apply", (dir / "plan.yaml").string(), "--yes", "--concurrency", "2", "--state", (dir / "c.db").string()},
        sandbox_env(sandbox), "");
    INFO(shown);
    CHECK(code == 0);
    CHECK_THAT(shown, Catch::Contains("\r\033[Kstep 1/1 tag (patch): 400/400 devices 100.0 %"));
  }
}

TEST_CASE("prune removes finished runs, keeps unfinished ones and the previews kept runs read, and gives space back",
          "[cli]")
{
  SandboxProcess sandbox({"--devices", "3000", "--latency-ms", "20"});
  TempDir dir;
  write_file(dir / "plan.yaml", R"(version: 1
queries: {all: {query: {}}}
steps: [{id: tag, action: patch, query: all, allow_whole_fleet: true, batch_size: 50,
         updateFields: {description: pruned}}]
)");
  const std::string state_file = (dir / "s.db").string();
  const auto preview_run = [&] {
    const auto result = run_fleetrun({"plan", (dir / "plan.yaml").string(), "--state", state_file, "--output", "json"},
                                     sandbox_env(sandbox));
    REQUIRE(result.exit_code == 0);
    return json::parse(result.out)["run"].get<std::string>();
  };
  const std::string p1 = preview_run();
  const std::string p2 = preview_run();
  const std::string p3 = preview_run();
  REQUIRE(run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes", "--state", state_file, "--from-preview", p2},
                       sandbox_env(sandbox))
              .exit_code == 0);
  {
    FleetrunProcess killed(
        {"apply", (dir / "plan.yaml").string(), "--yes", "--state", state_file, "--concurrency", "1"},
        sandbox_env(sandbox));
    // Killed once it has started sending: an unfinished run, older than none of what prune keeps.
    wait_until(
        [&] {
          const auto status = run_fleetrun({"status", "--state", state_file, "--output", "json"});
          return status.exit_code == 0 && json::parse(status.out)["run"] != p2 &&
                 json::parse(status.out)["status"] == "running" && !json::parse(status.out)["steps"].empty();
        },
        "the killed apply to record its steps");
    killed.signal(SIGKILL);
    killed.wait();
  }
  const auto ids = [&] {
    std::set<std::string> out;
    for (const auto& run : json::parse(run_fleetrun({"runs", "--state", state_file, "--output", "json"}).out))
      out.insert(run["run"].get<std::string>());
    return out;
  };
  REQUIRE(ids().size() == 5);
  const auto dry = run_fleetrun({"prune", "--state", state_file, "--keep", "1", "--dry-run"});
  INFO(dry.out << dry.err);
  CHECK(dry.exit_code == 0);
  CHECK_THAT(dry.out, Catch::Contains("would remove " + p1) && Catch::Contains("would remove " + p3));
  CHECK(ids().size() == 5);

  const auto size_before = std::filesystem::file_size(state_file);
  const auto pruned = run_fleetrun({"prune", "--state", state_file, "--keep", "1"});
  INFO(pruned.out << pruned.err);
  CHECK(pruned.exit_code == 0);
  const auto left = ids();
  // Newest first: the killed apply (kept: the newest, and unfinished), the completed apply, p3, p2,
  // p1. The killed apply reads its own lists, so p2 goes with the completed apply that read it.
  CHECK(left.size() == 1);
  CHECK_FALSE(left.contains(p1));
  CHECK_FALSE(left.contains(p2));
  CHECK_FALSE(left.contains(p3));
  CHECK(std::filesystem::file_size(state_file) < size_before);
  const auto status = json::parse(run_fleetrun({"status", "--state", state_file, "--output", "json"}).out);
  CHECK(status["status"] == "running");
  CHECK(run_fleetrun({"resume", "--state", state_file}, sandbox_env(sandbox)).exit_code == 0);

  CHECK(run_fleetrun({"prune", "--state", state_file, "--before", "2026-13-01"}).exit_code == 2);
  CHECK(run_fleetrun({"prune", "--state", state_file}).exit_code == 2);
}

TEST_CASE("prune --keep 0 keeps an unfinished run that is older than a finished one", "[cli]")
{
  // Where "keep the newest" cannot be what keeps it: the killed run is the older one.
  SandboxProcess sandbox({"--devices", "3000", "--latency-ms", "20"});
  TempDir dir;
  write_file(dir / "plan.yaml", R"(version: 1
queries: {all: {query: {}}}
steps: [{id: tag, action: patch, query: all, allow_whole_fleet: true, batch_size: 50,
         updateFields: {description: pruned}}]
)");
  const std::string state_file = (dir / "s.db").string();
  std::string killed_id;
  {
    FleetrunProcess killed(
        {"apply", (dir / "plan.yaml").string(), "--yes", "--state", state_file, "--concurrency", "1"},
        sandbox_env(sandbox));
    wait_until(
        [&] {
          const auto status = run_fleetrun({"status", "--state", state_file, "--output", "json"});
          if (status.exit_code != 0 || json::parse(status.out)["steps"].empty()) return false;
          killed_id = json::parse(status.out)["run"].get<std::string>();
          return true;
        },
        "the apply to record its steps");
    killed.signal(SIGKILL);
    killed.wait();
  }
  const auto finished =
      run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes", "--state", state_file, "--output", "json"},
                   sandbox_env(sandbox));
  INFO(finished.err);
  REQUIRE(finished.exit_code == 0);
  const std::string finished_id = json::parse(finished.out)["run"];
  const auto pruned = run_fleetrun({"prune", "--state", state_file, "--keep", "0"});
  INFO(pruned.out << pruned.err);
  REQUIRE(pruned.exit_code == 0);
  const json runs = json::parse(run_fleetrun({"runs", "--state", state_file, "--output", "json"}).out);
  REQUIRE(runs.size() == 1);
  CHECK(runs[0]["run"] == killed_id);
  CHECK(runs[0]["status"] == "running");
  CHECK(run_fleetrun({"status", "--state", state_file, "--run", finished_id}).exit_code == 4); // gone
  CHECK(run_fleetrun({"resume", "--state", state_file, "--run", killed_id}, sandbox_env(sandbox)).exit_code == 0);
}

TEST_CASE("prune keeps the preview that a kept apply was made from", "[cli]")
{
  SandboxProcess sandbox({"--devices", "200"});
  TempDir dir;
  write_file(dir / "plan.yaml", R"(version: 1
queries: {all: {query: {}}}
steps: [{id: tag, action: patch, query: all, allow_whole_fleet: true, updateFields: {description: kept}}]
)");
  const std::string state_file = (dir / "s.db").string();
  const auto preview = run_fleetrun({"plan", (dir / "plan.yaml").string(), "--state", state_file, "--output", "json"},
                                    sandbox_env(sandbox));
  REQUIRE(preview.exit_code == 0);
  const std::string p = json::parse(preview.out)["run"];
  REQUIRE(run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes", "--state", state_file, "--from-preview", p},
                       sandbox_env(sandbox))
              .exit_code == 0);
  const auto pruned = run_fleetrun({"prune", "--state", state_file, "--keep", "1"});
  INFO(pruned.out << pruned.err);
  CHECK(pruned.exit_code == 0);
  const auto runs = json::parse(run_fleetrun({"runs", "--state", state_file, "--output", "json"}).out);
  CHECK(runs.size() == 2); // the apply, and the preview whose device lists it read
}

namespace {

// A CSV text (RFC 4180, as the report writes it) as rows of fields.
std::vector<std::vector<std::string>> parse_csv(const std::string& text)
{
  std::vector<std::vector<std::string>> rows(1, std::vector<std::string>(1));
  bool quoted = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        rows.back().back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        rows.back().back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().emplace_back();
    } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
      rows.emplace_back(1);
      ++i;
    } else {
      rows.back().back() += c;
    }
  }
  if (rows.back().size() == 1 && rows.back()[0].empty()) rows.pop_back();
  return rows;
}

} // namespace

TEST_CASE("report: Markdown, CSV with every device outcome, JSON with the devices not done", "[cli]")
{
  SandboxProcess sandbox({"--devices", "400", "--job-threshold", "0", "--job-duration-ms", "20", "--job-fail-rate",
                          "0.5", "--fault-seed", "3"});
  TempDir dir;
  write_file(dir / "plan.yaml", R"(version: 1
queries: {q: {query: {deviceClass: {$ne: gateway}}}}
steps: [{id: mark, action: patch, query: q, batch_size: 20, updateFields: {description: "reported, \"quoted\""}}]
)");
  const std::string state_file = (dir / "s.db").string();
  const auto applied = run_fleetrun({"apply", (dir / "plan.yaml").string(), "--yes", "--state", state_file,
                                     "--max-failure-percent", "100", "--output", "json"},
                                    sandbox_env(sandbox));
  INFO(applied.err);
  REQUIRE(applied.exit_code == 1);
  const json status = json::parse(applied.out);
  const auto devices = status["steps"][0]["devices"].get<std::int64_t>();
  const auto failed = status["steps"][0]["devicesByState"].value("failed", std::int64_t{0});
  REQUIRE(failed > 0);
  REQUIRE(failed < devices);

  const std::string csv_file = (dir / "report.csv").string();
  REQUIRE(run_fleetrun({"report", "--state", state_file, "--format", "csv", "-o", csv_file}).exit_code == 0);
  std::ifstream in(csv_file, std::ios::binary);
  const auto rows = parse_csv(std::string(std::istreambuf_iterator<char>(in), {}));
  REQUIRE(static_cast<std::int64_t>(rows.size()) == devices + 1);
  CHECK(rows[0] ==
        std::vector<std::string>{"step", "action", "batch", "device", "outcome", "http_status", "job_id", "reason"});
  std::int64_t failed_rows = 0;
  std::set<std::string> ids;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    REQUIRE(rows[i].size() == 8);
    ids.insert(rows[i][3]);
    if (rows[i][4] == "failed") {
      ++failed_rows;
      CHECK_FALSE(rows[i][7].empty());
    } else {
      CHECK(rows[i][4] == "done");
    }
  }
  CHECK(failed_rows == failed);
  CHECK(static_cast<std::int64_t>(ids.size()) == devices);

  const auto json_report = run_fleetrun({"report", "--state", state_file, "--format", "json"});
  REQUIRE(json_report.exit_code == 0);
  CHECK(static_cast<std::int64_t>(json::parse(json_report.out)["devicesNotDone"].size()) == failed);

  const auto markdown = run_fleetrun({"report", "--state", state_file});
  REQUIRE(markdown.exit_code == 0);
  CHECK_THAT(markdown.out, Catch::StartsWith("# fleetrun run " + status["run"].get<std::string>() + ": failed"));
  CHECK_THAT(markdown.out,
             Catch::Contains("| 1 | mark | patch | " + std::to_string(devices) + " | " +
                             std::to_string(devices - failed) + " | " + std::to_string(failed) + " | 0 |"));
  CHECK_THAT(markdown.out, Catch::Contains("## Devices not done") && Catch::Contains("| mark | "));

  CHECK(run_fleetrun({"report", "--state", state_file, "-o", (dir / "no/such/folder.md").string()}).exit_code == 2);
  CHECK_FALSE(std::filesystem::exists(dir / "no/such/folder.md.part"));
}

TEST_CASE("the bash completion completes commands and each command's options", "[cli]")
{
  TempDir dir;
  const auto script = run_fleetrun({"completion", "bash"});
  REQUIRE(script.exit_code == 0);
  write_file(dir / "completion.bash", script.out);
  const auto complete = [&](const std::string& words, int index) {
    const std::string line = "bash -c 'source \"" + (dir / "completion.bash").string() + "\"; COMP_WORDS=(" + words +
                             "); COMP_CWORD=" + std::to_string(index) + "; _fleetrun; echo \"${COMPREPLY[*]}\"' > \"" +
                             (dir / "out.txt").string() + "\"";
    REQUIRE(std::system(line.c_str()) == 0);
    std::ifstream in(dir / "out.txt");
    std::string out;
    std::getline(in, out);
    return out;
  };
  CHECK(complete("fleetrun ap", 1) == "apply");
  CHECK(complete("fleetrun pr", 1) == "prune");
  CHECK(complete("fleetrun apply --fr", 2) == "--from-preview");
  CHECK(complete("fleetrun --log-level warn report --for", 4) == "--format");
  CHECK(run_fleetrun({"completion", "fish"}).exit_code == 2);
  const auto zsh = run_fleetrun({"completion", "zsh"});
  CHECK_THAT(zsh.out, Catch::StartsWith("#compdef fleetrun") && Catch::Contains("complete -o filenames -F _fleetrun"));
}

TEST_CASE("report --format html: one self-contained page whose timeline adds up to the run's counters", "[cli]")
{
  SandboxProcess sandbox({"--devices", "3000", "--rate", "30", "--fault-5xx", "0.15", "--fault-seed", "5"});
  TempDir dir;
  // A plan whose file name needs escaping in HTML.
  write_file(dir / "a&b.yaml", R"(version: 1
queries: {all: {query: {}}}
steps: [{id: mark, action: patch, query: all, allow_whole_fleet: true, batch_size: 25,
         updateFields: {description: charted}}]
)");
  const std::string state_file = (dir / "s.db").string();
  const auto applied = run_fleetrun(
      {"apply", (dir / "a&b.yaml").string(), "--yes", "--state", state_file, "--output", "json"}, sandbox_env(sandbox));
  INFO(applied.err);
  REQUIRE(applied.exit_code == 0);
  const json status = json::parse(applied.out);
  const json& counters = status["summary"]["counters"];
  const json& timeline = status["summary"]["timeline"];
  std::int64_t requests = 0;
  std::int64_t throttled = 0;
  std::int64_t failed = 0;
  for (const auto& bucket : timeline["buckets"]) {
    requests += bucket[1].get<std::int64_t>();
    throttled += bucket[2].get<std::int64_t>();
    failed += bucket[3].get<std::int64_t>();
  }
  CHECK(requests == counters["requests"].get<std::int64_t>());
  CHECK(throttled == counters["throttled429"].get<std::int64_t>());
  CHECK(failed == counters["serverErrors5xx"].get<std::int64_t>() + counters["networkErrors"].get<std::int64_t>() +
                      counters["timeouts"].get<std::int64_t>());
  REQUIRE(throttled > 0);
  REQUIRE(failed > 0);

  const std::string html_file = (dir / "report.html").string();
  REQUIRE(run_fleetrun({"report", "--state", state_file, "--format", "html", "-o", html_file}).exit_code == 0);
  std::ifstream in(html_file);
  const std::string html((std::istreambuf_iterator<char>(in)), {});
  CHECK_THAT(html, Catch::StartsWith("<!DOCTYPE html>") && Catch::EndsWith("</html>\n"));
  CHECK_THAT(html, !Catch::Contains("<script") && !Catch::Contains("src=") && !Catch::Contains("href="));
  CHECK_THAT(html, Catch::Contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  CHECK_THAT(html, Catch::Contains("class=\"requests\"") && Catch::Contains("class=\"throttled\"") &&
                       Catch::Contains("class=\"failed\""));
  CHECK_THAT(html, Catch::Contains("step mark: 3000 devices in 120 batches"));
  CHECK_THAT(html, Catch::Contains("a&amp;b.yaml") && !Catch::Contains("a&b.yaml"));
}
