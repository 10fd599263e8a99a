// The command line itself: help that shows true defaults, and exit codes that
// mean what docs/CLI.md says whatever layer the failure comes from.
#include "tests/support/sandbox_process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sqlite3.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sys/wait.h>

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
