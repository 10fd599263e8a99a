#pragma once
// Resolves a plan query to its exact device list with GET requests only, as
// a pure machine: it says which pages to ask for, takes their answers in any
// order, and hands back pages to store (in any order: the state file keeps
// device lists in id order). The coordinator sends the requests (as many at
// once as the rate limit and its in-flight limit allow).
//
// An advanced query (or none) is read by id cursor, in parts read in
// parallel, so that every page costs the server the same whatever its depth
// (an offset page costs a MongoDB-like server the devices it skips: reading a
// fleet by offsets costs it O(n^2)):
//   1. page 0, sorted by id: the first devices, their last id L, totalCount T;
//   2. the tail: the last page sorted by id descending, its lowest id H;
//   3. the ids strictly between L and H, split into parts by id value, each
//      read by cursor ({"$and": [q, {"id": {"$gt": cursor}}, {"id": {"$lt":
//      end}}]}, sorted by id) until a page comes back short. A part whose page
//      is full while fewer parts are under way than requests may be in flight
//      splits its remaining ids again, where the density of ids it saw says
//      the devices are; splits stop when they keep finding empty ranges.
// Why nothing is missed: a page answered at time t holds every device that
// matched at t with an id between its cursor and its last id. The parts and
// the two end pages cover every id, with no overlap, so a device that matched
// throughout lies in exactly one page. Devices created meanwhile may or may
// not be found, as with any read of a changing list.
//
// Simple filters (name glob, classes, tags, parent) cannot be combined with a
// query, so they are read page after page by offset, sorted by id.
//
// The answers are checked as they come, so that no server can keep it
// reading or fill its memory (nothing is held between answers): ids rise
// strictly within a page (fall, for the tail), lie in the range asked for
// (past the cursor: a cursor that does not move is an error), no more devices
// than page 0's totalCount (give or take 10 % and 1,000 for devices created
// meanwhile), no more than k_max_devices_per_query, and when totalCount
// already exceeds the query's expect.max, nothing more than page 0 is read.
// Errors name the query and the evidence: pages read, the ids, the totals.

#include "api/losant_client.hpp"
#include "plans/plan.hpp"

#include <cstdint>
#include <deque>
#include <expected>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace fleetrun::jobs {

using DevicePage = std::vector<std::pair<std::string, std::string>>; // id, API document (JSON text)

// No query resolves to more devices than this (a server that keeps sending
// pages and reports no total is stopped here at the latest).
inline constexpr std::int64_t k_max_devices_per_query = 10'000'000;
// Parts read at once at most, whatever the in-flight limit (which decides
// below it: pages in flight are what hides the round trip, each about a
// megabyte of memory).
inline constexpr int k_max_parts = 64;

struct Resolved {
  std::int64_t total = 0;
  // False when the query matched more than its expect.max: reading stopped
  // early (total is the count the API reported) and the guard refuses the run.
  bool complete = true;
};

struct ResolutionStats {
  int pages = 0;       // answers read
  int parts = 0;       // id ranges read by cursor (splits included)
  int empty_parts = 0; // of them, ranges that held no device
};

struct PageRequest {
  int id = 0;
  api::DeviceListParams params;
};

class QueryResolver {
public:
  // `max_devices`: the most it reads before it gives up (tests make it small).
  explicit QueryResolver(const plans::QuerySpec& spec, int per_page = 1000,
                         std::int64_t max_devices = k_max_devices_per_query);

  // Of each device's document, keep only these top-level members (what later
  // steps read; kept_fields() says which). Without it, whole documents.
  void keep_only(std::set<std::string> fields) { m_keep = std::move(fields); }

  // The requests that may be made now; each is returned once. `parallelism`:
  // how many requests could be in flight now (the parts split up to it).
  std::vector<PageRequest> take_requests(int parallelism = 1);
  // The answer to request `id`: the pages that can be stored now, or the
  // error that ends the resolution.
  std::expected<std::vector<DevicePage>, api::ApiError> on_answer(int id, const api::ApiResult& result);

  bool finished() const { return m_finished; }
  const Resolved& resolved() const { return m_resolved; }
  const ResolutionStats& stats() const { return m_stats; }

private:
  // Ids from `start` (inclusive when `inclusive`, else after it; none: from
  // the first) up to `end` (exclusive; none: no end).
  struct Part {
    std::string start;
    bool inclusive = false;
    std::string end;
    int pages = 0;
    bool busy = false; // a request is out or ready
  };
  enum class Stage { first, tail, parts, sequential };

  PageRequest first_request();
  PageRequest tail_request();
  PageRequest part_request(int part);
  PageRequest offset_request(int page);
  std::expected<std::vector<DevicePage>, api::ApiError> first_page(const api::ApiResponse& response);
  std::expected<std::vector<DevicePage>, api::ApiError> tail_page(const api::ApiResponse& response);
  std::expected<std::vector<DevicePage>, api::ApiError> part_page(int part, const api::ApiResponse& response);
  std::expected<std::vector<DevicePage>, api::ApiError> sequential_page(const api::ApiResponse& response);
  // Splits the range (`after`, `end`), thought to hold `expected` devices
  // (0: unknown), into `count` parts; false when the ids do not allow it (not
  // hexadecimal, or too close).
  bool split(const std::string& after, const std::string& end, int count, std::int64_t expected,
             std::vector<std::string>& bounds) const;
  void maybe_split(int part, const std::string& first_id, const std::string& last_id);
  int busy_parts() const;
  std::optional<api::ApiError> count(std::int64_t devices, const std::string& request);
  api::ApiError malformed(const std::string& what, const std::string& request) const;
  void finish(bool complete);

  const plans::QuerySpec& m_spec;
  int m_per_page;
  std::int64_t m_max_devices;
  bool m_by_cursor;
  std::string m_base_query; // JSON text of the query pages are read with
  std::optional<std::set<std::string>> m_keep;
  Stage m_stage = Stage::first;
  std::deque<PageRequest> m_ready;
  std::map<int, int> m_request_part; // request id -> part index (-1: page 0, -2: the tail, -3: an offset page)
  int m_next_id = 0;
  int m_parallelism = 1;

  std::optional<std::int64_t> m_reported; // page 0's totalCount
  std::string m_first_last_id;            // the last id of page 0
  std::vector<Part> m_parts;
  int m_parts_open = 0;

  int m_sequential_page = 0;
  std::string m_last_id; // sequential mode: the last id read
  std::int64_t m_seen = 0;
  bool m_finished = false;
  Resolved m_resolved;
  ResolutionStats m_stats;
};

// What of a device's document a plan's steps read (each patch step's
// fields, jobs/patch_step.hpp, and the name every preview shows; the id is
// kept beside the document): all
// a device list needs to keep, whatever query it is for, since a preview
// reads each device from whichever list holds it.
std::set<std::string> kept_fields(const plans::Plan& plan);

// The parameters of the first request for a query: also how `drift` and
// `whole fleet` checks count devices.
api::DeviceListParams list_params(const plans::QuerySpec& spec);

} // namespace fleetrun::jobs
