#pragma once
// Query resolution for a run: every query some step uses becomes an exact,
// ordered device list, with GET requests only (jobs/query_resolution pages
// through the API). Where the pages go is the caller's: the coordinator
// writes them to the state file.

#include "runner/patch_tally.hpp"

#include "api/losant_client.hpp"
#include "jobs/query_resolution.hpp"
#include "plans/plan.hpp"

#include <atomic>
#include <expected>
#include <string>

namespace fleetrun::runner {

// Receives a run's device lists as they are resolved, one query at a time.
class DeviceListSink {
public:
  virtual ~DeviceListSink() = default;
  virtual void begin_list(const std::string& run_id, const plans::QuerySpec& query) = 0;
  virtual void append_page(const std::string& run_id, const plans::QuerySpec& query, const jobs::DevicePage& page) = 0;
  // `complete` false: reading stopped at expect.max + 1 (the guard refuses the
  // run); the list is kept for the preview but never marked resolved.
  virtual void end_list(const std::string& run_id, const plans::QuerySpec& query, std::int64_t total,
                        bool complete) = 0;
};

// Resolves every query some step of `plan` uses, in the plan's order. With
// `tallies`, each patch step's changes are counted as the pages arrive (while
// the next page is fetched), so that the preview need not read the documents
// back. Returns the error that stopped it.
std::expected<void, api::ApiError> resolve_queries(const plans::Plan& plan, const std::string& run_id,
                                                   const jobs::FetchPage& fetch, DeviceListSink& sink,
                                                   PatchTallies* tallies);

} // namespace fleetrun::runner
