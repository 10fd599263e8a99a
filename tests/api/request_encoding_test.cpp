#include "api/request_encoding.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace fleetrun::api;

TEST_CASE("url_encode leaves only unreserved characters", "[request_encoding]")
{
  CHECK(url_encode("abcXYZ019-._~") == "abcXYZ019-._~");
  CHECK(url_encode(R"({"name":"a b"})") == "%7B%22name%22%3A%22a%20b%22%7D");
  CHECK(url_encode("a+b&c=d/e?f#g[h]") == "a%2Bb%26c%3Dd%2Fe%3Ff%23g%5Bh%5D");
  CHECK(url_encode("\xc3\xa9") == "%C3%A9");
}

TEST_CASE("nested parameters flatten in bracket form", "[request_encoding]")
{
  QueryParams params;
  flatten_param("tagFilter", nlohmann::json::array({{{"key", "site"}, {"value", "north"}}, {{"key", "fw"}}}), params);
  CHECK(params ==
        QueryParams{{"tagFilter[0][key]", "site"}, {"tagFilter[0][value]", "north"}, {"tagFilter[1][key]", "fw"}});
  QueryParams scalars;
  flatten_param("n", 5, scalars);
  flatten_param("b", true, scalars);
  flatten_param("skip", nullptr, scalars);
  CHECK(scalars == QueryParams{{"n", "5"}, {"b", "true"}});
}

TEST_CASE("encode_query joins encoded pairs", "[request_encoding]")
{
  CHECK(encode_query({{"tagFilter[0][key]", "site"}, {"query", R"({"id":"x"})"}}) ==
        "tagFilter%5B0%5D%5Bkey%5D=site&query=%7B%22id%22%3A%22x%22%7D");
  CHECK(encode_query({}).empty());
}
