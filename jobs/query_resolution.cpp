#include "jobs/query_resolution.hpp"

#include "api/device_page.hpp"

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

namespace fleetrun::jobs {

using nlohmann::json;

api::DeviceListParams list_params(const plans::QuerySpec& spec)
{
  api::DeviceListParams params;
  params.sort_field = "id";
  params.sort_direction = "asc";
  params.query_deleted = spec.deleted;
  if (spec.has_advanced_query) {
    params.query_json = spec.query_json;
    return params;
  }
  if (!spec.filter.empty()) {
    params.filter_field = "name";
    params.filter = spec.filter;
  }
  params.device_class = spec.device_classes;
  params.tag_filter = spec.tags;
  if (!spec.parent_id.empty()) params.parent_id = spec.parent_id;
  return params;
}

namespace {

// What the fetching thread hands the storing one: a page, the error that
// ended the resolution, or (neither) the end.
struct Fetched {
  DevicePage page;
  std::optional<api::ApiError> error;
  bool last = false;
  bool over_expected = false; // stopped after expect.max
};

// Pages travel from the fetching thread to the caller's through this queue,
// at most `capacity` at a time, so memory stays bounded when storing is slower.
class PageQueue {
public:
  explicit PageQueue(std::size_t capacity) : m_capacity(capacity) {}

  // False when the consumer has given up.
  bool push(Fetched item)
  {
    std::unique_lock lock(m_mutex);
    m_space.wait(lock, [&] { return m_items.size() < m_capacity || m_abandoned; });
    if (m_abandoned) return false;
    m_items.push_back(std::move(item));
    m_ready.notify_one();
    return true;
  }

  Fetched pop()
  {
    std::unique_lock lock(m_mutex);
    m_ready.wait(lock, [&] { return !m_items.empty(); });
    Fetched item = std::move(m_items.front());
    m_items.pop_front();
    m_space.notify_one();
    return item;
  }

  void abandon()
  {
    std::lock_guard lock(m_mutex);
    m_abandoned = true;
    m_space.notify_all();
  }

private:
  std::size_t m_capacity;
  std::mutex m_mutex;
  std::condition_variable m_ready;
  std::condition_variable m_space;
  std::deque<Fetched> m_items;
  bool m_abandoned = false;
};

api::ApiError malformed_page(const std::string& what, const std::string& request)
{
  api::ApiError error;
  error.kind = api::ErrorKind::permanent;
  error.delivery = api::Delivery::answered;
  error.status = 200;
  error.message = "the device list answer could not be read: " + what;
  error.request = request;
  return error;
}

api::ApiError fetch_failure(const std::string& what)
{
  api::ApiError error;
  error.kind = api::ErrorKind::permanent;
  error.delivery = api::Delivery::not_sent;
  error.message = "listing devices failed: " + what;
  return error;
}

// Fetches the pages in order and queues them; the last item queued is the
// last page or an error.
void fetch_pages(const plans::QuerySpec& spec, const FetchPage& fetch, int per_page, PageQueue& queue)
{
  api::DeviceListParams params = list_params(spec);
  params.per_page = per_page;
  const bool by_cursor = spec.has_advanced_query || spec.matches_everything();
  const json base_query = spec.has_advanced_query ? json::parse(spec.query_json) : json::object();
  std::string last_id;
  std::optional<std::int64_t> reported; // the first page's totalCount
  std::int64_t seen = 0;
  for (int page = 0;; ++page) {
    if (by_cursor) {
      params.page = 0;
      if (!last_id.empty()) {
        params.query_json = json{{"$and", {base_query, {{"id", {{"$gt", last_id}}}}}}}.dump();
      } else if (spec.has_advanced_query) {
        params.query_json = spec.query_json;
      }
    } else {
      params.page = page;
    }
    auto result = fetch(params);
    if (!result) {
      queue.push({{}, result.error(), true});
      return;
    }
    auto index = api::index_device_page(result->body);
    if (!index) {
      queue.push({{}, malformed_page(index.error(), result->request), true});
      return;
    }
    const auto received = static_cast<std::int64_t>(index->items.size());
    if (received > per_page) {
      queue.push({{},
                  malformed_page(std::to_string(received) + " devices in a page of " + std::to_string(per_page),
                                 result->request),
                  true});
      return;
    }
    // A totalCount below zero means nothing.
    const auto total_count =
        index->total_count && *index->total_count >= 0 ? index->total_count : std::optional<std::int64_t>();
    if (!reported && total_count) reported = total_count;
    // A short page is the last; so is one that brings the count the server
    // reported (the rest of the cursor's range, or all pages by offset), which
    // spares asking for an empty page when the total is a multiple of a page.
    const std::int64_t in_range = by_cursor ? received : static_cast<std::int64_t>(page) * per_page + received;
    const bool last = received < per_page || (total_count && in_range >= *total_count) || index->items.empty();
    Fetched fetched;
    fetched.last = last;
    fetched.page.reserve(index->items.size());
    for (auto& item : index->items) {
      if (!last_id.empty() && item.id <= last_id) {
        queue.push({{},
                    malformed_page("device " + item.id + " came after " + last_id +
                                       ": the pages are out of id order or repeated; stopping",
                                   result->request),
                    true});
        return;
      }
      last_id = item.id;
      fetched.page.emplace_back(std::move(item.id), std::string(item.document));
    }
    seen += received;
    if (reported && seen > *reported + std::max<std::int64_t>(1000, *reported / 10)) {
      queue.push({{},
                  malformed_page("the API keeps sending devices: " + std::to_string(seen) + " so far, but it " +
                                     "reported " + std::to_string(*reported) + " in all; stopping",
                                 result->request),
                  true});
      return;
    }
    if (seen > k_max_devices_per_query) {
      queue.push({{},
                  malformed_page("more than " + std::to_string(k_max_devices_per_query) +
                                     " devices for one query, the most fleetrun reads; stopping",
                                 result->request),
                  true});
      return;
    }
    if (spec.expect_max && seen > *spec.expect_max) {
      fetched.last = true;
      fetched.over_expected = true;
    }
    const bool final_page = fetched.last;
    if (!queue.push(std::move(fetched)) || final_page) return;
  }
}

} // namespace

std::expected<Resolved, api::ApiError> resolve_query(const plans::QuerySpec& spec, const FetchPage& fetch,
                                                     const std::function<void(DevicePage&&)>& sink, int per_page)
{
  // Fetching the next page overlaps storing this one: the cursor needs only
  // the last id, which the fetching thread reads from the page it received.
  PageQueue queue(2);
  std::thread fetcher([&] {
    // Nothing may escape a thread: whatever goes wrong ends the resolution as an error.
    try {
      fetch_pages(spec, fetch, per_page, queue);
    } catch (const std::exception& error) {
      queue.push({{}, fetch_failure(error.what()), true});
    }
  });
  struct Join {
    PageQueue& queue;
    std::thread& thread;
    ~Join()
    {
      queue.abandon();
      thread.join();
    }
  } join{queue, fetcher};
  Resolved resolved;
  for (;;) {
    Fetched fetched = queue.pop();
    if (fetched.error) return std::unexpected(*fetched.error);
    resolved.total += static_cast<std::int64_t>(fetched.page.size());
    if (!fetched.page.empty()) sink(std::move(fetched.page));
    if (fetched.over_expected) resolved.complete = false;
    if (fetched.last) return resolved;
  }
}

} // namespace fleetrun::jobs
