#pragma once
// Resolves a plan query to its exact device list with GET requests only.
//
// With an advanced query (or none at all) it pages by id cursor: each page
// asks for {"$and": [query, {"id": {"$gt": <last id seen>}}]} sorted by id,
// so devices created or deleted meanwhile cannot shift the pages and make it
// miss or repeat one. Simple filters (glob, classes, tags, parent) cannot be
// combined with a query, so they page by offset, sorted by id.

#include "api/losant_client.hpp"
#include "plans/plan.hpp"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace fleetrun::jobs {

using DevicePage = std::vector<std::pair<std::string, std::string>>; // id, API document (JSON text)

// Fetches one page; the runner passes one that retries transient failures.
using FetchPage = std::function<api::ApiResult(const api::DeviceListParams&)>;

// Sends every page to `sink` in id order; returns the number of devices.
// `fetch` runs on a thread of its own, one page ahead of `sink`, which runs
// on the caller's; neither is called again after the other fails or throws.
std::expected<std::int64_t, api::ApiError> resolve_query(const plans::QuerySpec& spec, const FetchPage& fetch,
                                                         const std::function<void(DevicePage&&)>& sink,
                                                         int per_page = 1000);

// The parameters of the first request for a query: also how `drift` and
// `whole fleet` checks count devices.
api::DeviceListParams list_params(const plans::QuerySpec& spec);

} // namespace fleetrun::jobs
