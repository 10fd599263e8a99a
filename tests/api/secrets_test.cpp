#include "api/secrets.hpp"

#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

using namespace fleetrun::api;

TEST_CASE("the token comes from the environment", "[secrets]")
{
  setenv("FLEETRUN_TEST_TOKEN", "  abc123 \n", 1);
  const auto token = load_token("FLEETRUN_TEST_TOKEN", "");
  REQUIRE(token.has_value());
  CHECK(token->reveal() == "abc123");
  unsetenv("FLEETRUN_TEST_TOKEN");
  const auto missing = load_token("FLEETRUN_TEST_TOKEN", "");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error() == "no API token: set FLEETRUN_TEST_TOKEN or pass --token-file FILE");
}

TEST_CASE("a token file wins over the environment", "[secrets]")
{
  fleetrun::testing::TempDir dir;
  std::ofstream(dir / "token") << "from-file\n";
  setenv("FLEETRUN_TEST_TOKEN", "from-env", 1);
  CHECK(load_token("FLEETRUN_TEST_TOKEN", (dir / "token").string())->reveal() == "from-file");
  CHECK_FALSE(load_token("FLEETRUN_TEST_TOKEN", (dir / "missing").string()).has_value());
  unsetenv("FLEETRUN_TEST_TOKEN");
}

TEST_CASE("redact removes the token and any bearer credential", "[secrets]")
{
  const Secret secret("s3cr3t-token");
  CHECK(redact("token s3cr3t-token here, again s3cr3t-token", secret) == "token [REDACTED] here, again [REDACTED]");
  CHECK(redact("Authorization: Bearer other-token\n", secret) == "Authorization: Bearer [REDACTED]\n");
  CHECK(redact("nothing to hide", secret) == "nothing to hide");
}

TEST_CASE("a token with a control character is refused: it would split the header", "[secrets]")
{
  for (const char* hostile : {"abc\r\nX-Evil: 1", "abc\ndef",
                              "a\x01"
                              "b",
                              "tab\there"}) {
    setenv("FLEETRUN_TEST_TOKEN", hostile, 1);
    const auto token = load_token("FLEETRUN_TEST_TOKEN", "");
    REQUIRE_FALSE(token.has_value());
    CHECK_THAT(token.error(), Catch::Contains("control character"));
    CHECK_THAT(token.error(), !Catch::Contains("abc"));
  }
  unsetenv("FLEETRUN_TEST_TOKEN");
  fleetrun::testing::TempDir dir;
  std::ofstream(dir / "token") << "one\x7Ftwo\n";
  CHECK_FALSE(load_token("FLEETRUN_TEST_TOKEN", (dir / "token").string()).has_value());
}
