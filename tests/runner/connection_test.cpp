// Opening an API connection: what is checked before any request, and how the
// errors say what to fix.
#include "runner/connection.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

using namespace fleetrun::runner;
using namespace fleetrun::machine;
using fleetrun::testing::TempDir;

namespace {

ConnectionSettings with_token_file(const TempDir& dir, const std::string& token = "t0k3n")
{
  std::ofstream(dir / "token") << token << "\n";
  ConnectionSettings settings;
  settings.api_url = "http://127.0.0.1:1";
  settings.application_id = "5f1a2b3c4d5e6f7a8b9c0d1e";
  settings.token_file = (dir / "token").string();
  return settings;
}

} // namespace

TEST_CASE("a connection needs an application id of 24 hex characters", "[connection]")
{
  TempDir dir;
  auto settings = with_token_file(dir);
  settings.application_id.clear();
  const auto missing = ApiConnection::open(settings);
  REQUIRE_FALSE(missing.has_value());
  CHECK_THAT(missing.error(), Catch::Contains("--application") && Catch::Contains("LOSANT_APPLICATION_ID"));
  settings.application_id = "my-app";
  const auto malformed = ApiConnection::open(settings);
  REQUIRE_FALSE(malformed.has_value());
  CHECK_THAT(malformed.error(), Catch::Contains("\"my-app\""));
}

TEST_CASE("the token comes from its file or variable, and its absence says where it was looked for", "[connection]")
{
  TempDir dir;
  auto settings = with_token_file(dir);
  const auto opened = ApiConnection::open(settings);
  REQUIRE(opened.has_value());
  CHECK((*opened)->client().application_id() == "5f1a2b3c4d5e6f7a8b9c0d1e");

  settings.token_file.clear();
  settings.token_env = "FLEETRUN_TEST_NO_SUCH_TOKEN";
  ::unsetenv("FLEETRUN_TEST_NO_SUCH_TOKEN");
  const auto no_token = ApiConnection::open(settings);
  REQUIRE_FALSE(no_token.has_value());
  CHECK_THAT(no_token.error(), Catch::Contains("FLEETRUN_TEST_NO_SUCH_TOKEN"));
}

TEST_CASE("a URL that is not http or https is refused before any request", "[connection]")
{
  TempDir dir;
  auto settings = with_token_file(dir);
  settings.api_url = "ftp://api.example.com";
  const auto refused = ApiConnection::open(settings);
  REQUIRE_FALSE(refused.has_value());
  CHECK_THAT(refused.error(), Catch::Contains("http:// or https://"));
}

TEST_CASE("a clone talks to the same API as its prototype", "[connection]")
{
  TempDir dir;
  const auto opened = ApiConnection::open(with_token_file(dir));
  REQUIRE(opened.has_value());
  const auto clone = (*opened)->clone();
  CHECK(clone->options().api_url == (*opened)->options().api_url);
  CHECK(clone->client().application_id() == (*opened)->client().application_id());
}
