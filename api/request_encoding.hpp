#pragma once
// Query strings as the official Losant clients write them: an object-valued
// `query` parameter travels as one URL-encoded JSON text; other nested values
// are flattened in bracket form (`tagFilter[0][key]=site`).

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fleetrun::api {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// Percent-encodes everything but the unreserved characters of RFC 3986.
std::string url_encode(std::string_view text);

// Flattens a JSON value under `name` in bracket form, appending to `out`.
// Scalars become their text (strings unquoted); null is omitted.
void flatten_param(const std::string& name, const nlohmann::json& value, QueryParams& out);

// `a=1&b=2`, each name and value percent-encoded.
std::string encode_query(const QueryParams& params);

} // namespace fleetrun::api
