// The command line itself: help that shows true defaults, and exit codes that
// mean what docs/CLI.md says whatever layer the failure comes from.
#include "tests/support/sandbox_process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <sqlite3.h>

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
  CHECK_THAT(help.out, Catch::Contains("=4"));
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
