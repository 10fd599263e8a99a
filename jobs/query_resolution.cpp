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

api::ApiError malformed_page(const std::string& what)
{
  api::ApiError error;
  error.kind = api::ErrorKind::permanent;
  error.delivery = api::Delivery::answered;
  error.status = 200;
  error.message = "the device list answer could not be read: " + what;
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
      queue.push({{}, malformed_page(index.error()), true});
      return;
    }
    const auto received = static_cast<std::int64_t>(index->items.size());
    // A short page is the last; so is one that brings the count the server
    // reported (the rest of the cursor's range, or all pages by offset), which
    // spares asking for an empty page when the total is a multiple of a page.
    const std::int64_t seen = by_cursor ? received : static_cast<std::int64_t>(page) * per_page + received;
    const bool last =
        received < per_page || (index->total_count && seen >= *index->total_count) || index->items.empty();
    Fetched fetched;
    fetched.last = last;
    fetched.page.reserve(index->items.size());
    for (auto& item : index->items) fetched.page.emplace_back(std::move(item.id), std::string(item.document));
    if (!fetched.page.empty()) last_id = fetched.page.back().first;
    if (!queue.push(std::move(fetched)) || last) return;
  }
}

} // namespace

std::expected<std::int64_t, api::ApiError> resolve_query(const plans::QuerySpec& spec, const FetchPage& fetch,
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
  std::int64_t total = 0;
  for (;;) {
    Fetched fetched = queue.pop();
    if (fetched.error) return std::unexpected(*fetched.error);
    total += static_cast<std::int64_t>(fetched.page.size());
    if (!fetched.page.empty()) sink(std::move(fetched.page));
    if (fetched.last) return total;
  }
}

} // namespace fleetrun::jobs
