// `fleetrun devices`: the real binary against the real sandbox.
#include "tests/support/sandbox_process.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using nlohmann::json;
using namespace fleetrun::testing;

TEST_CASE("devices lists what an advanced query matches, paging through everything", "[devices_command]")
{
  SandboxProcess sandbox({"--devices", "2500"});
  const auto result =
      run_fleetrun({"devices", "--query", R"({"tags":{"site":"north"}})", "--output", "json", "--per-page", "300"},
                   sandbox_env(sandbox));
  REQUIRE(result.exit_code == 0);
  const json out = json::parse(result.out);
  std::size_t expected = 0;
  for (const auto& device : sandbox.admin_get("/_sandbox/devices")) {
    for (const auto& tag : device["tags"]) expected += tag["key"] == "site" && tag["value"] == "north" ? 1 : 0;
  }
  CHECK(out["totalCount"] == expected);
  CHECK(out["items"].size() == expected);
  const auto stats = sandbox.admin_get("/_sandbox/stats");
  CHECK(stats["requests"]["GET /applications/{applicationId}/devices 200"] == (expected + 299) / 300);
}

TEST_CASE("devices prints a line per device and a summary", "[devices_command]")
{
  SandboxProcess sandbox({"--devices", "40"});
  const auto result = run_fleetrun({"devices", "--device-class", "gateway", "--limit", "2"}, sandbox_env(sandbox));
  REQUIRE(result.exit_code == 0);
  CHECK(result.out.find("-gw-") != std::string::npos);
  CHECK(result.out.find("matching devices shown") != std::string::npos);
}

TEST_CASE("an invalid query is refused before any request is sent", "[devices_command]")
{
  SandboxProcess sandbox({"--devices", "3"});
  const auto result =
      run_fleetrun({"devices", "--query", R"({"tags":{"$tagKey":"a"},"nmae":"x"})"}, sandbox_env(sandbox));
  CHECK(result.exit_code == 2);
  CHECK(result.err.find(R"(nmae: unknown field "nmae" (did you mean "name"?))") != std::string::npos);
  CHECK(sandbox.admin_get("/_sandbox/stats")["requests"].empty());
}

TEST_CASE("a missing token or application is a usage error that says what to set", "[devices_command]")
{
  SandboxProcess sandbox;
  auto env = sandbox_env(sandbox);
  env[1] = "LOSANT_API_TOKEN=";
  const auto no_token = run_fleetrun({"devices"}, env);
  CHECK(no_token.exit_code == 2);
  CHECK(no_token.err.find("set LOSANT_API_TOKEN or pass --token-file") != std::string::npos);
  const auto bad_app = run_fleetrun({"devices", "--application", "xyz"}, sandbox_env(sandbox));
  CHECK(bad_app.exit_code == 2);
  CHECK(bad_app.err.find("not a 24-character hexadecimal id") != std::string::npos);
}

TEST_CASE("a wrong token is an API error and the token is not printed", "[devices_command]")
{
  SandboxProcess sandbox;
  auto env = sandbox_env(sandbox);
  env[1] = "LOSANT_API_TOKEN=wrong-secret-token";
  const auto result = run_fleetrun({"devices", "--log-level", "debug"}, env);
  CHECK(result.exit_code == 5);
  CHECK(result.err.find("HTTP 401 Unauthorized") != std::string::npos);
  CHECK(result.err.find("wrong-secret-token") == std::string::npos);
  CHECK(result.out.find("wrong-secret-token") == std::string::npos);
}
