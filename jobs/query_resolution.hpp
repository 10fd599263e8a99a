#pragma once
// Resolves a plan query to its exact device list with GET requests only, as
// a pure machine: it says which pages to ask for, takes their answers in any
// order, and hands back pages to store. The coordinator sends the requests
// (as many at once as the rate limit and its in-flight limit allow).
//
// An advanced query (or none) is read in parallel, and no device that exists
// throughout the resolution can be missed:
//   1. page 0, sorted by id: the first devices and the totalCount T;
//   2. pages 1 .. n-2 by offset (n = ceil(T / per page)), all at once;
//   3. the gaps: one query (or one per 40 boundaries) for the devices
//      strictly between the last id of each page and the first of the next,
//      and after the last page read ({"$and": [q, {"$or": [gaps..., tail]}]},
//      by id cursor while pages come back full).
// Why nothing is missed: a page answered at time t holds every device that
// matched at t with an id between its first and last id (the pages are
// contiguous runs of one sorted list). A device that matched throughout is
// either inside some page's range, then in that page, or in a gap (or the
// tail), then in step 3's answer. Fleet changes can shift offset pages so
// that two overlap; an id already read is dropped. Without changes step 3
// finds nothing but the tail, so it costs no more requests than pages of the
// list, plus one per 40 pages beyond the first 41.
//
// Simple filters (name glob, classes, tags, parent) cannot be combined with a
// query, so they are read page after page by offset, sorted by id.
//
// The answers are checked as they come, so that no server can keep it
// reading: ids must rise strictly within a page and from one offset page to
// the next (a page repeated is an error), no more devices than page 0's
// totalCount reported (give or take 10 % and 1,000 for devices created
// meanwhile), no more than k_max_devices_per_query, and when totalCount
// already exceeds the query's expect.max, nothing more than page 0 is read.

#include "api/losant_client.hpp"
#include "plans/plan.hpp"

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fleetrun::jobs {

using DevicePage = std::vector<std::pair<std::string, std::string>>; // id, API document (JSON text)

// No query resolves to more devices than this (a server that keeps sending
// pages is stopped here at the latest).
inline constexpr std::int64_t k_max_devices_per_query = 10'000'000;
// Boundaries checked by one gap query (its URL stays well under 8 KB).
inline constexpr int k_gaps_per_query = 40;

struct Resolved {
  std::int64_t total = 0;
  // False when the query matched more than its expect.max: reading stopped
  // early (total is the count the API reported) and the guard refuses the run.
  bool complete = true;
};

struct PageRequest {
  int id = 0;
  api::DeviceListParams params;
};

class QueryResolver {
public:
  explicit QueryResolver(const plans::QuerySpec& spec, int per_page = 1000);

  // The requests that may be made now; each is returned once.
  std::vector<PageRequest> take_requests();
  // The answer to request `id`: the pages that can be stored now, in order,
  // or the error that ends the resolution.
  std::expected<std::vector<DevicePage>, api::ApiError> on_answer(int id, const api::ApiResult& result);

  bool finished() const { return m_finished; }
  const Resolved& resolved() const { return m_resolved; }

private:
  enum class Stage { first, offsets, gaps, sequential };

  struct Held {
    DevicePage page;
    std::string first_id;
    std::string last_id;
  };

  // Ids strictly between `after` and `before` (no bound where empty).
  struct Range {
    std::string after;
    std::string before;
    bool holds(const std::string& id) const { return (after.empty() || id > after) && (before.empty() || id < before); }
  };
  struct GapQuery {
    std::vector<Range> ranges; // its $or: gaps, and the tail for the last one
    std::string after;         // cursor within it, once a page came back full
  };

  PageRequest offset_request(int page);
  PageRequest gap_request(int gap_query);
  std::expected<std::vector<DevicePage>, api::ApiError> first_page(const api::ApiResponse& response);
  std::expected<std::vector<DevicePage>, api::ApiError> offset_page(int page, const api::ApiResponse& response);
  std::expected<std::vector<DevicePage>, api::ApiError> gap_page(int gap_query, const api::ApiResponse& response);
  std::expected<std::vector<DevicePage>, api::ApiError> sequential_page(const api::ApiResponse& response);
  std::vector<DevicePage> release_in_order();
  void plan_gap_queries();
  std::optional<api::ApiError> count(std::int64_t devices, const std::string& request);

  const plans::QuerySpec& m_spec;
  int m_per_page;
  bool m_by_cursor;
  std::string m_base_query; // JSON text of the query pages are read with
  Stage m_stage = Stage::first;
  std::vector<PageRequest> m_ready;
  std::map<int, int> m_request_page; // request id -> offset page, or -1 - gap query
  int m_next_id = 0;

  std::optional<std::int64_t> m_reported; // page 0's totalCount
  int m_pages = 0;                        // n, by offset
  std::map<int, Held> m_held;             // answered offset pages not yet released
  int m_next_release = 1;
  std::vector<std::pair<std::string, std::string>> m_bounds; // first and last id of each released page
  std::vector<GapQuery> m_gap_queries;
  int m_gaps_outstanding = 0;

  int m_sequential_page = 0;
  std::string m_last_id; // sequential mode: the last id read
  std::int64_t m_seen = 0;
  bool m_finished = false;
  Resolved m_resolved;
};

// The parameters of the first request for a query: also how `drift` and
// `whole fleet` checks count devices.
api::DeviceListParams list_params(const plans::QuerySpec& spec);

} // namespace fleetrun::jobs
