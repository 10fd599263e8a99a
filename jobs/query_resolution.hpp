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

// No query resolves to more devices than this (a server that keeps sending
// pages is stopped here at the latest).
inline constexpr std::int64_t k_max_devices_per_query = 10'000'000;

struct Resolved {
  std::int64_t total = 0;
  // False when reading stopped early because the query matched more than its
  // expect.max: the list holds expect.max + 1 devices or a page more, and
  // the guard refuses the run.
  bool complete = true;
};

// Sends every page to `sink` in id order; returns the number of devices.
// `fetch` runs on a thread of its own, one page ahead of `sink`, which runs
// on the caller's; neither is called again after the other fails or throws.
//
// The answers are checked as they come, so that no server can keep it
// reading: ids must rise strictly from page to page (a page repeated, by
// cursor or by page number, is an error), no more devices than the first
// page's totalCount reported (give or take 10 % and 1,000 for devices created
// meanwhile), no more than k_max_devices_per_query, and no more than the
// query's expect.max + 1 (then it stops, incomplete).
std::expected<Resolved, api::ApiError> resolve_query(const plans::QuerySpec& spec, const FetchPage& fetch,
                                                     const std::function<void(DevicePage&&)>& sink,
                                                     int per_page = 1000);

// The parameters of the first request for a query: also how `drift` and
// `whole fleet` checks count devices.
api::DeviceListParams list_params(const plans::QuerySpec& spec);

} // namespace fleetrun::jobs
