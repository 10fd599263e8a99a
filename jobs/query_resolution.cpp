#include "jobs/query_resolution.hpp"

#include "api/device_page.hpp"
#include "jobs/patch_step.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

namespace fleetrun::jobs {

using nlohmann::json;

std::set<std::string> kept_fields(const plans::Plan& plan)
{
  std::set<std::string> fields = {"id", "name"};
  for (const auto& step : plan.steps) {
    if (step.action == plans::ActionKind::patch) fields.merge(patch_fields_read(step.params()));
  }
  fields.erase("id"); // a device list keeps the id beside the document
  return fields;
}

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

// An object id's value: 24 hex digits are 96 bits.
__extension__ typedef unsigned __int128 IdValue;

std::optional<IdValue> id_value(const std::string& id)
{
  if (id.size() != 24) return std::nullopt;
  IdValue value = 0;
  for (const char c : id) {
    int digit = 0;
    if (c >= '0' && c <= '9')
      digit = c - '0';
    else if (c >= 'a' && c <= 'f')
      digit = c - 'a' + 10;
    else
      return std::nullopt; // upper case would not order as text does
    value = value * 16 + static_cast<IdValue>(digit);
  }
  return value;
}

std::string id_text(IdValue value)
{
  std::string id(24, '0');
  for (int i = 23; i >= 0; --i) {
    id[static_cast<std::size_t>(i)] = "0123456789abcdef"[static_cast<int>(value & 15)];
    value >>= 4;
  }
  return id;
}

} // namespace

QueryResolver::QueryResolver(const plans::QuerySpec& spec, int per_page, std::int64_t max_devices)
    : m_spec(spec), m_per_page(per_page), m_max_devices(max_devices),
      m_by_cursor(spec.has_advanced_query || spec.matches_everything()),
      m_base_query(spec.has_advanced_query ? spec.query_json : "{}")
{
  if (!m_by_cursor) {
    m_stage = Stage::sequential;
    m_ready.push_back(offset_request(0));
    return;
  }
  m_ready.push_back(first_request());
}

api::ApiError QueryResolver::malformed(const std::string& what, const std::string& request) const
{
  api::ApiError error;
  error.kind = api::ErrorKind::permanent;
  error.delivery = api::Delivery::answered;
  error.status = 200;
  error.message = "query " + m_spec.name + ": the device list answer could not be read: " + what;
  error.request = request;
  return error;
}

std::vector<PageRequest> QueryResolver::take_requests(int parallelism)
{
  m_parallelism = std::clamp(parallelism, 1, k_max_parts);
  std::vector<PageRequest> out(std::make_move_iterator(m_ready.begin()), std::make_move_iterator(m_ready.end()));
  m_ready.clear();
  return out;
}

// ---- requests ------------------------------------------------------------------------

PageRequest QueryResolver::first_request()
{
  PageRequest request{m_next_id++, list_params(m_spec)};
  request.params.per_page = m_per_page;
  request.params.query_json = m_base_query;
  m_request_part[request.id] = -1;
  return request;
}

PageRequest QueryResolver::tail_request()
{
  PageRequest request = first_request();
  request.params.sort_direction = "desc";
  m_request_part[request.id] = -2;
  return request;
}

PageRequest QueryResolver::part_request(int part)
{
  Part& range = m_parts[static_cast<std::size_t>(part)];
  range.busy = true;
  json conditions = json::array({json::parse(m_base_query)});
  conditions.push_back({{"id", {{range.inclusive ? "$gte" : "$gt", range.start}}}});
  if (!range.end.empty()) conditions.push_back({{"id", {{"$lt", range.end}}}});
  PageRequest request{m_next_id++, list_params(m_spec)};
  request.params.per_page = m_per_page;
  request.params.query_json = json{{"$and", std::move(conditions)}}.dump();
  m_request_part[request.id] = part;
  return request;
}

PageRequest QueryResolver::offset_request(int page)
{
  PageRequest request{m_next_id++, list_params(m_spec)};
  request.params.per_page = m_per_page;
  request.params.page = page;
  m_request_part[request.id] = -3;
  return request;
}

// ---- answers -------------------------------------------------------------------------

std::optional<api::ApiError> QueryResolver::count(std::int64_t devices, const std::string& request)
{
  m_seen += devices;
  if (m_reported && m_seen > *m_reported + std::max<std::int64_t>(1000, *m_reported / 10)) {
    return malformed("the API keeps sending devices: " + std::to_string(m_seen) + " in " +
                         std::to_string(m_stats.pages) + " pages so far, but it reported " +
                         std::to_string(*m_reported) + " in all (totalCount); stopping",
                     request);
  }
  if (m_seen > m_max_devices) {
    return malformed("more than " + std::to_string(m_max_devices) + " devices in " + std::to_string(m_stats.pages) +
                         " pages, the most fleetrun reads for one query; stopping",
                     request);
  }
  return std::nullopt;
}

void QueryResolver::finish(bool complete)
{
  m_finished = true;
  m_resolved = {complete || !m_reported ? m_seen : std::max(m_seen, *m_reported), complete};
  m_ready.clear();
}

std::expected<std::vector<DevicePage>, api::ApiError> QueryResolver::on_answer(int id, const api::ApiResult& result)
{
  const auto found = m_request_part.find(id);
  if (found == m_request_part.end() || m_finished) return std::vector<DevicePage>{};
  const int which = found->second;
  m_request_part.erase(found);
  if (!result) return std::unexpected(result.error());
  ++m_stats.pages;
  switch (which) {
  case -1: return first_page(*result);
  case -2: return tail_page(*result);
  case -3: return sequential_page(*result);
  default: return part_page(which, *result);
  }
}

namespace {

// The page's devices, each id checked against the one before it: strictly
// rising (falling, for a page sorted descending), at most a page.
std::expected<api::DevicePageIndex, std::string> read_page(const api::ApiResponse& response, int per_page,
                                                           const std::optional<std::set<std::string>>& keep,
                                                           bool descending = false)
{
  auto index = api::index_device_page(response.body, keep ? &*keep : nullptr);
  if (!index) return std::unexpected(index.error());
  if (static_cast<int>(index->items.size()) > per_page) {
    return std::unexpected(std::to_string(index->items.size()) + " devices in a page of " + std::to_string(per_page));
  }
  for (std::size_t i = 1; i < index->items.size(); ++i) {
    const auto& before = index->items[i - 1].id;
    const auto& now = index->items[i].id;
    if (descending ? now >= before : now <= before) {
      return std::unexpected("device " + now + " came after " + before + " in one page: not sorted by id" +
                             (descending ? " descending" : ""));
    }
  }
  if (index->total_count && *index->total_count < 0) index->total_count.reset(); // below zero means nothing
  return std::move(*index);
}

// The page's devices, each document whole or (read with `keep`) cut down.
DevicePage page_of(api::DevicePageIndex& index, bool kept)
{
  DevicePage page;
  page.reserve(index.items.size());
  for (auto& item : index.items)
    page.emplace_back(std::move(item.id), kept ? std::move(item.kept) : std::string(item.document));
  return page;
}

} // namespace

std::expected<std::vector<DevicePage>, api::ApiError> QueryResolver::first_page(const api::ApiResponse& response)
{
  auto index = read_page(response, m_per_page, m_keep);
  if (!index) return std::unexpected(malformed(index.error(), response.request));
  m_reported = index->total_count;
  DevicePage page = page_of(*index, m_keep.has_value());
  if (auto limit = count(static_cast<std::int64_t>(page.size()), response.request)) return std::unexpected(*limit);
  const auto received = static_cast<std::int64_t>(page.size());
  std::vector<DevicePage> out;
  if (m_spec.expect_max && m_reported && *m_reported > *m_spec.expect_max) {
    // More than expected already: the guard refuses; nothing more is read.
    out.push_back(std::move(page));
    finish(false);
    return out;
  }
  const bool short_page = received < m_per_page || (m_reported && received >= *m_reported);
  if (!page.empty()) m_first_last_id = page.back().first;
  out.push_back(std::move(page));
  if (short_page) {
    finish(true);
    return out;
  }
  m_stage = Stage::tail;
  m_ready.push_back(tail_request());
  return out;
}

std::expected<std::vector<DevicePage>, api::ApiError> QueryResolver::tail_page(const api::ApiResponse& response)
{
  auto index = read_page(response, m_per_page, m_keep, true);
  if (!index) return std::unexpected(malformed(index.error(), response.request));
  const bool whole_page = static_cast<int>(index->items.size()) == m_per_page;
  // The tail overlaps page 0 (fewer than two pages of devices): what page 0
  // had already is dropped, and nothing lies between them.
  const bool overlaps = !index->items.empty() && index->items.back().id <= m_first_last_id;
  DevicePage page = page_of(*index, m_keep.has_value());
  std::vector<DevicePage> out;
  std::erase_if(page, [&](const auto& device) { return device.first <= m_first_last_id; });
  if (auto limit = count(static_cast<std::int64_t>(page.size()), response.request)) return std::unexpected(*limit);
  const std::string lowest = page.empty() ? std::string() : page.back().first;
  std::reverse(page.begin(), page.end());
  if (!page.empty()) out.push_back(std::move(page));
  if (!whole_page || overlaps) {
    finish(true);
    return out;
  }
  // The ids between page 0 and the tail, in parts (up to what may be in
  // flight, no more than the pages the reported total leaves for them).
  m_stage = Stage::parts;
  int parts = m_parallelism;
  if (m_reported) {
    const std::int64_t between = *m_reported - m_seen;
    parts = static_cast<int>(std::clamp<std::int64_t>((between + m_per_page - 1) / m_per_page, 1, parts));
  }
  std::vector<std::string> bounds;
  const std::int64_t expected = m_reported ? *m_reported - m_seen : 0;
  if (lowest.empty() || !split(m_first_last_id, lowest, parts, expected, bounds)) bounds.clear();
  m_parts.push_back({m_first_last_id, false, bounds.empty() ? lowest : bounds.front()});
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    m_parts.push_back({bounds[i], true, i + 1 < bounds.size() ? bounds[i + 1] : lowest});
  }
  m_parts_open = static_cast<int>(m_parts.size());
  m_stats.parts = m_parts_open;
  for (int part = 0; part < static_cast<int>(m_parts.size()); ++part) m_ready.push_back(part_request(part));
  return out;
}

// Bounds that cut (`after`, `end`) into `count` parts. With `expected`
// devices in it (spread evenly over the ids, as far as anyone knows), each part
// but the last is given whole pages, a little under full (97 %), so that it
// ends in a full page rather than one more short one.
bool QueryResolver::split(const std::string& after, const std::string& end, int count, std::int64_t expected,
                          std::vector<std::string>& bounds) const
{
  bounds.clear();
  if (count < 2) return false;
  const auto low = id_value(after);
  const auto high = id_value(end);
  if (!low || !high || *high <= *low + static_cast<IdValue>(count)) return false;
  const IdValue width = *high - *low;
  const std::int64_t pages = expected > 0 ? (expected + m_per_page - 1) / m_per_page : 0;
  if (pages < count) {
    for (int i = 1; i < count; ++i)
      bounds.push_back(id_text(*low + width * static_cast<IdValue>(i) / static_cast<IdValue>(count)));
    return true;
  }
  // Parts of whole pages: the first `pages % count` get one page more.
  const double per_device = 1.0 / static_cast<double>(expected);
  std::int64_t pages_before = 0;
  for (int i = 1; i < count; ++i) {
    pages_before += pages / count + (i - 1 < pages % count ? 1 : 0);
    const double share = std::min(1.0, static_cast<double>(pages_before * m_per_page) * 0.97 * per_device);
    // 2^24 steps of the range are fine enough and keep the product in 128 bits.
    const auto steps = static_cast<IdValue>(share * 16777216.0);
    const IdValue offset = width >= 16777216 ? width / 16777216 * steps : width * steps / 16777216;
    const IdValue bound = *low + offset + 1;
    if (bound <= *low || bound >= *high || (!bounds.empty() && id_text(bound) <= bounds.back())) return false;
    bounds.push_back(id_text(bound));
  }
  return true;
}

int QueryResolver::busy_parts() const
{
  return static_cast<int>(std::count_if(m_parts.begin(), m_parts.end(), [](const Part& p) { return p.busy; }));
}

// A full page of `part` went from `first_id` to `last_id`: if requests are
// free and, at the density of ids this page showed, the part's remaining
// range holds several more pages, new parts take some of it. Near the
// cursor they are a few whole pages each (where the devices were, more
// likely are); the last takes whatever is left to the part's end. A part
// that finds its range empty costs a request for nothing: after a number of
// those, no more splits.
void QueryResolver::maybe_split(int part, const std::string& first_id, const std::string& last_id)
{
  const int idle = m_parallelism - busy_parts();
  if (idle <= 0 || static_cast<int>(m_parts.size()) >= 4 * k_max_parts) return;
  if (m_stats.empty_parts > m_parallelism + m_stats.pages / 20) return;
  const std::string end = m_parts[static_cast<std::size_t>(part)].end;
  const auto first = id_value(first_id);
  const auto last = id_value(last_id);
  const auto stop = id_value(end);
  if (!first || !last || !stop || *last <= *first || *stop <= *last) return;
  const IdValue span = *last - *first; // the ids of one page: per_page - 1 gaps
  const double gaps = static_cast<double>(m_per_page - 1);
  const double pages_left = std::min(1e9, static_cast<double>((*stop - *last) / span) * gaps / m_per_page);
  if (pages_left < 4) return;
  const int added = static_cast<int>(std::min<double>(idle, std::floor(pages_left / 2) - 1));
  if (added < 1) return;
  // Whole pages each, a little under full; no more pages each than this part
  // has read in a row so far (at least two): a run of ids that went on for
  // k pages is as likely as not to go on for about k more.
  const double run = std::max(2, m_parts[static_cast<std::size_t>(part)].pages);
  const double pages_each = std::min(run, std::floor(pages_left / (added + 1)));
  std::vector<std::string> bounds;
  for (int j = 1; j <= added; ++j) {
    const double devices = pages_each * j * m_per_page * 0.97;
    const auto scaled = static_cast<IdValue>(devices / gaps * 1024.0);
    const IdValue offset = span >> 64 ? span / 1024 * scaled : span * scaled / 1024; // exact for short spans
    const IdValue bound = *last + offset + 1;
    if (bound >= *stop || (!bounds.empty() && id_text(bound) <= bounds.back())) break;
    bounds.push_back(id_text(bound));
  }
  if (bounds.empty()) return;
  m_parts[static_cast<std::size_t>(part)].end = bounds.front();
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    m_parts.push_back({bounds[i], true, i + 1 < bounds.size() ? bounds[i + 1] : end});
    ++m_parts_open;
    ++m_stats.parts;
    m_ready.push_back(part_request(static_cast<int>(m_parts.size()) - 1));
  }
}

std::expected<std::vector<DevicePage>, api::ApiError> QueryResolver::part_page(int part,
                                                                               const api::ApiResponse& response)
{
  auto index = read_page(response, m_per_page, m_keep);
  if (!index) return std::unexpected(malformed(index.error(), response.request));
  Part& range = m_parts[static_cast<std::size_t>(part)];
  range.busy = false;
  // Every id must lie in the range asked for: a server that ignores the
  // query, or a cursor that does not move, would hand back devices already read.
  for (const auto& item : index->items) {
    const bool after_start = range.inclusive ? item.id >= range.start : item.id > range.start;
    if (!after_start || (!range.end.empty() && item.id >= range.end)) {
      return std::unexpected(malformed(
          "device " + item.id + " is outside the ids asked for (" + (range.inclusive ? "from " : "after ") +
              range.start + (range.end.empty() ? "" : ", before " + range.end) + ") after " +
              std::to_string(m_stats.pages) + " pages: the API ignored the query or the pages repeat; stopping",
          response.request));
    }
  }
  DevicePage page = page_of(*index, m_keep.has_value());
  if (auto limit = count(static_cast<std::int64_t>(page.size()), response.request)) return std::unexpected(*limit);
  if (range.pages++ == 0 && page.empty()) ++m_stats.empty_parts;
  const auto received = static_cast<std::int64_t>(page.size());
  const bool full = received == m_per_page && !(index->total_count && received >= *index->total_count);
  std::vector<DevicePage> out;
  if (full) {
    const std::string first_id = page.front().first;
    range.start = page.back().first;
    range.inclusive = false;
    range.busy = true;                        // counted as under way while the split decides
    maybe_split(part, first_id, range.start); // may move this part's end: before its next request is made
    m_ready.push_back(part_request(part));
  } else if (--m_parts_open == 0) {
    finish(true);
  }
  if (!page.empty()) out.push_back(std::move(page));
  if (!m_finished && m_spec.expect_max && m_seen > *m_spec.expect_max) finish(false);
  return out;
}

std::expected<std::vector<DevicePage>, api::ApiError> QueryResolver::sequential_page(const api::ApiResponse& response)
{
  auto index = read_page(response, m_per_page, m_keep);
  if (!index) return std::unexpected(malformed(index.error(), response.request));
  if (!m_reported) m_reported = index->total_count;
  if (!index->items.empty() && !m_last_id.empty() && index->items.front().id <= m_last_id) {
    return std::unexpected(malformed("device " + index->items.front().id + " came after " + m_last_id + " in page " +
                                         std::to_string(m_sequential_page) +
                                         ": the pages are out of id order or repeated; stopping",
                                     response.request));
  }
  DevicePage page = page_of(*index, m_keep.has_value());
  if (auto limit = count(static_cast<std::int64_t>(page.size()), response.request)) return std::unexpected(*limit);
  const auto received = static_cast<std::int64_t>(page.size());
  const std::int64_t in_range = static_cast<std::int64_t>(m_sequential_page) * m_per_page + received;
  const bool last = received < m_per_page || (index->total_count && in_range >= *index->total_count);
  if (!page.empty()) m_last_id = page.back().first;
  std::vector<DevicePage> out;
  if (!page.empty()) out.push_back(std::move(page));
  if (m_spec.expect_max && m_seen > *m_spec.expect_max) {
    finish(false);
  } else if (last) {
    finish(true);
  } else {
    m_ready.push_back(offset_request(++m_sequential_page));
  }
  return out;
}

} // namespace fleetrun::jobs
