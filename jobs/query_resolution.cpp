#include "jobs/query_resolution.hpp"

#include "api/device_page.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

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

api::ApiError malformed(const std::string& what, const std::string& request)
{
  api::ApiError error;
  error.kind = api::ErrorKind::permanent;
  error.delivery = api::Delivery::answered;
  error.status = 200;
  error.message = "the device list answer could not be read: " + what;
  error.request = request;
  return error;
}

// The page's devices, checked: at most a page, ids rising strictly.
std::expected<api::DevicePageIndex, api::ApiError> read_page(const api::ApiResponse& response, int per_page)
{
  auto index = api::index_device_page(response.body);
  if (!index) return std::unexpected(malformed(index.error(), response.request));
  if (static_cast<int>(index->items.size()) > per_page) {
    return std::unexpected(malformed(
        std::to_string(index->items.size()) + " devices in a page of " + std::to_string(per_page), response.request));
  }
  for (std::size_t i = 1; i < index->items.size(); ++i) {
    if (index->items[i].id <= index->items[i - 1].id) {
      return std::unexpected(malformed("device " + index->items[i].id + " came after " + index->items[i - 1].id +
                                           " in one page: not sorted by id",
                                       response.request));
    }
  }
  if (index->total_count && *index->total_count < 0) index->total_count.reset(); // below zero means nothing
  return std::move(*index);
}

DevicePage page_of(const api::DevicePageIndex& index, const std::string& after = {})
{
  DevicePage page;
  page.reserve(index.items.size());
  for (const auto& item : index.items) {
    if (!after.empty() && item.id <= after) continue; // already read in the page before
    page.emplace_back(item.id, std::string(item.document));
  }
  return page;
}

json id_after(const std::string& id)
{
  return {{"id", {{"$gt", id}}}};
}

} // namespace

QueryResolver::QueryResolver(const plans::QuerySpec& spec, int per_page)
    : m_spec(spec), m_per_page(per_page), m_by_cursor(spec.has_advanced_query || spec.matches_everything()),
      m_base_query(spec.has_advanced_query ? spec.query_json : "{}")
{
  if (!m_by_cursor) {
    m_stage = Stage::sequential;
    m_ready.push_back(offset_request(0));
    return;
  }
  m_ready.push_back(offset_request(0));
}

std::vector<PageRequest> QueryResolver::take_requests()
{
  return std::exchange(m_ready, {});
}

PageRequest QueryResolver::offset_request(int page)
{
  PageRequest request{m_next_id++, list_params(m_spec)};
  request.params.per_page = m_per_page;
  request.params.page = page;
  if (m_by_cursor) request.params.query_json = m_base_query;
  m_request_page[request.id] = page;
  return request;
}

PageRequest QueryResolver::gap_request(int gap_query)
{
  const GapQuery& gaps = m_gap_queries[static_cast<std::size_t>(gap_query)];
  const auto as_query = [](const Range& range) {
    json bounds = json::array();
    if (!range.after.empty()) bounds.push_back(id_after(range.after));
    if (!range.before.empty()) bounds.push_back({{"id", {{"$lt", range.before}}}});
    return bounds.size() == 1 ? bounds[0] : bounds.empty() ? json::object() : json{{"$and", bounds}};
  };
  json conditions = json::array({json::parse(m_base_query)});
  if (gaps.ranges.size() == 1) {
    conditions.push_back(as_query(gaps.ranges.front()));
  } else {
    json any = json::array();
    for (const auto& range : gaps.ranges) any.push_back(as_query(range));
    conditions.push_back({{"$or", std::move(any)}});
  }
  if (!gaps.after.empty()) conditions.push_back(id_after(gaps.after));
  PageRequest request{m_next_id++, list_params(m_spec)};
  request.params.per_page = m_per_page;
  request.params.page = 0;
  request.params.query_json = json{{"$and", std::move(conditions)}}.dump();
  m_request_page[request.id] = -1 - gap_query;
  return request;
}

std::optional<api::ApiError> QueryResolver::count(std::int64_t devices, const std::string& request)
{
  m_seen += devices;
  if (m_reported && m_seen > *m_reported + std::max<std::int64_t>(1000, *m_reported / 10)) {
    return malformed("the API keeps sending devices: " + std::to_string(m_seen) + " so far, but it reported " +
                         std::to_string(*m_reported) + " in all; stopping",
                     request);
  }
  if (m_seen > k_max_devices_per_query) {
    return malformed("more than " + std::to_string(k_max_devices_per_query) +
                         " devices for one query, the most fleetrun reads; stopping",
                     request);
  }
  return std::nullopt;
}

std::expected<std::vector<DevicePage>, api::ApiError> QueryResolver::on_answer(int id, const api::ApiResult& result)
{
  const auto found = m_request_page.find(id);
  if (found == m_request_page.end() || m_finished) return std::vector<DevicePage>{};
  const int which = found->second;
  m_request_page.erase(found);
  if (!result) return std::unexpected(result.error());
  switch (m_stage) {
  case Stage::first: return first_page(*result);
  case Stage::offsets: return offset_page(which, *result);
  case Stage::gaps: return gap_page(-1 - which, *result);
  case Stage::sequential: return sequential_page(*result);
  }
  return std::vector<DevicePage>{};
}

std::expected<std::vector<DevicePage>, api::ApiError> QueryResolver::first_page(const api::ApiResponse& response)
{
  auto index = read_page(response, m_per_page);
  if (!index) return std::unexpected(index.error());
  m_reported = index->total_count;
  DevicePage page = page_of(*index);
  if (auto limit = count(static_cast<std::int64_t>(page.size()), response.request)) return std::unexpected(*limit);
  std::vector<DevicePage> out;
  const auto received = static_cast<std::int64_t>(page.size());
  if (m_spec.expect_max && m_reported && *m_reported > *m_spec.expect_max) {
    // More than expected already: the guard refuses; nothing more is read.
    m_finished = true;
    m_resolved = {*m_reported, false};
    out.push_back(std::move(page));
    return out;
  }
  const bool short_page = received < m_per_page || (m_reported && received >= *m_reported);
  if (!page.empty()) m_bounds.emplace_back(page.front().first, page.back().first);
  out.push_back(std::move(page));
  if (short_page) {
    m_finished = true;
    m_resolved = {m_seen, true};
    return out;
  }
  if (!m_reported) {
    // No total to plan by: the rest by id cursor, as gap queries of one tail each.
    m_stage = Stage::gaps;
    m_gap_queries.push_back({{Range{m_bounds.back().second, {}}}, {}});
    m_gaps_outstanding = 1;
    m_ready.push_back(gap_request(0));
    return out;
  }
  m_pages = static_cast<int>((*m_reported + m_per_page - 1) / m_per_page);
  if (m_pages <= 2) {
    plan_gap_queries();
    return out;
  }
  m_stage = Stage::offsets;
  for (int p = 1; p <= m_pages - 2; ++p) m_ready.push_back(offset_request(p));
  return out;
}

std::expected<std::vector<DevicePage>, api::ApiError> QueryResolver::offset_page(int page,
                                                                                 const api::ApiResponse& response)
{
  auto index = read_page(response, m_per_page);
  if (!index) return std::unexpected(index.error());
  Held held;
  held.page = page_of(*index);
  if (!held.page.empty()) {
    held.first_id = held.page.front().first;
    held.last_id = held.page.back().first;
  }
  m_held[page] = std::move(held);
  std::vector<DevicePage> out = release_in_order();
  for (const auto& released : out) {
    if (auto limit = count(static_cast<std::int64_t>(released.size()), response.request))
      return std::unexpected(*limit);
  }
  if (m_next_release > m_pages - 2) plan_gap_queries();
  return out;
}

// Offset pages leave in page order, each without the ids its predecessor
// already had (an overlap from devices created meanwhile). A page whose ids do
// not rise above its predecessor's last one at all is a repeated page.
std::vector<DevicePage> QueryResolver::release_in_order()
{
  std::vector<DevicePage> out;
  while (!m_held.empty() && m_held.begin()->first == m_next_release) {
    Held held = std::move(m_held.begin()->second);
    m_held.erase(m_held.begin());
    ++m_next_release;
    const std::string previous_last = m_bounds.empty() ? std::string() : m_bounds.back().second;
    if (!previous_last.empty()) {
      std::erase_if(held.page, [&](const auto& device) { return device.first <= previous_last; });
    }
    if (held.page.empty()) continue; // nothing new: the fleet shrank, or the page was repeated
    m_bounds.emplace_back(held.page.front().first, held.page.back().first);
    out.push_back(std::move(held.page));
  }
  return out;
}

void QueryResolver::plan_gap_queries()
{
  m_stage = Stage::gaps;
  std::vector<Range> ranges;
  for (std::size_t i = 0; i + 1 < m_bounds.size(); ++i) {
    const std::string& last = m_bounds[i].second;
    const std::string& next_first = m_bounds[i + 1].first;
    if (next_first <= last) continue;
    ranges.push_back({last, next_first});
  }
  const Range tail{m_bounds.empty() ? std::string() : m_bounds.back().second, {}};
  for (std::size_t start = 0; start < ranges.size(); start += k_gaps_per_query) {
    const auto end = std::min(ranges.size(), start + static_cast<std::size_t>(k_gaps_per_query));
    m_gap_queries.push_back({std::vector<Range>(ranges.begin() + static_cast<std::ptrdiff_t>(start),
                                                ranges.begin() + static_cast<std::ptrdiff_t>(end)),
                             {}});
  }
  // The tail joins the last gap query when it has room, else goes alone.
  if (m_gap_queries.empty() || static_cast<int>(m_gap_queries.back().ranges.size()) >= k_gaps_per_query) {
    m_gap_queries.push_back({{tail}, {}});
  } else {
    m_gap_queries.back().ranges.push_back(tail);
  }
  m_gaps_outstanding = static_cast<int>(m_gap_queries.size());
  for (int q = 0; q < m_gaps_outstanding; ++q) m_ready.push_back(gap_request(q));
}

std::expected<std::vector<DevicePage>, api::ApiError> QueryResolver::gap_page(int gap_query,
                                                                              const api::ApiResponse& response)
{
  auto index = read_page(response, m_per_page);
  if (!index) return std::unexpected(index.error());
  GapQuery& gaps = m_gap_queries[static_cast<std::size_t>(gap_query)];
  // Every id must be one the query asked for: a server that ignores the
  // query would otherwise hand back devices already read.
  for (const auto& item : index->items) {
    const bool asked =
        (gaps.after.empty() || item.id > gaps.after) &&
        std::any_of(gaps.ranges.begin(), gaps.ranges.end(), [&](const Range& range) { return range.holds(item.id); });
    if (!asked) {
      return std::unexpected(malformed("device " + item.id +
                                           " is outside the id ranges asked for: the API ignored the query, or the "
                                           "pages repeat; stopping",
                                       response.request));
    }
  }
  DevicePage page = page_of(*index, gaps.after);
  if (auto limit = count(static_cast<std::int64_t>(page.size()), response.request)) return std::unexpected(*limit);
  // Full, and the answer's own totalCount (when given) says there is more: on by cursor.
  const auto received = static_cast<std::int64_t>(index->items.size());
  const bool full = received == m_per_page && !(index->total_count && received >= *index->total_count);
  if (full && !page.empty()) {
    gaps.after = page.back().first;
    m_ready.push_back(gap_request(gap_query)); // more in this one: on by cursor
  } else if (full) {
    return std::unexpected(
        malformed("a full page brought no new device: the pages repeat; stopping", response.request));
  } else if (--m_gaps_outstanding == 0) {
    m_finished = true;
    m_resolved = {m_seen, true};
  }
  std::vector<DevicePage> out;
  if (!page.empty()) out.push_back(std::move(page));
  if (m_spec.expect_max && m_seen > *m_spec.expect_max && !m_finished) {
    m_finished = true;
    m_resolved = {m_seen, false};
  }
  return out;
}

std::expected<std::vector<DevicePage>, api::ApiError> QueryResolver::sequential_page(const api::ApiResponse& response)
{
  auto index = read_page(response, m_per_page);
  if (!index) return std::unexpected(index.error());
  if (!m_reported) m_reported = index->total_count;
  if (!index->items.empty() && !m_last_id.empty() && index->items.front().id <= m_last_id) {
    return std::unexpected(malformed("device " + index->items.front().id + " came after " + m_last_id +
                                         ": the pages are out of id order or repeated; stopping",
                                     response.request));
  }
  DevicePage page = page_of(*index);
  if (auto limit = count(static_cast<std::int64_t>(page.size()), response.request)) return std::unexpected(*limit);
  const auto received = static_cast<std::int64_t>(page.size());
  const std::int64_t in_range = static_cast<std::int64_t>(m_sequential_page) * m_per_page + received;
  const bool last = received < m_per_page || (index->total_count && in_range >= *index->total_count);
  if (!page.empty()) m_last_id = page.back().first;
  std::vector<DevicePage> out;
  if (!page.empty()) out.push_back(std::move(page));
  if (m_spec.expect_max && m_seen > *m_spec.expect_max) {
    m_finished = true;
    m_resolved = {m_seen, false};
  } else if (last) {
    m_finished = true;
    m_resolved = {m_seen, true};
  } else {
    m_ready.push_back(offset_request(++m_sequential_page));
  }
  return out;
}

} // namespace fleetrun::jobs
