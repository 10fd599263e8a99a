#include "api/device_page.hpp"

#include "losant/string_scan.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>

namespace fleetrun::api {

namespace {

class PageScanner {
public:
  explicit PageScanner(std::string_view text, const std::set<std::string>* keep = nullptr) : m_text(text)
  {
    if (keep != nullptr) {
      for (const auto& name : *keep) m_keep.push_back(name);
      m_keeping = true;
    }
  }

  std::expected<DevicePageIndex, std::string> page()
  {
    DevicePageIndex index;
    skip_space();
    if (peek() != '{') return fail("a device page must be a JSON object");
    auto read = object_members(0, [&](std::string_view key) -> std::expected<void, std::string> {
      if (key == "items") return item_list(index);
      if (key != "totalCount") return value(0);
      const std::size_t start = m_pos;
      if (auto skipped = value(0); !skipped) return skipped;
      std::int64_t count = 0;
      const auto* first = m_text.data() + start;
      const auto* last = m_text.data() + m_pos;
      if (std::from_chars(first, last, count).ptr != last) return fail("totalCount must be a whole number");
      index.total_count = count;
      return {};
    });
    if (!read) return std::unexpected(read.error());
    if (auto end = at_end(); !end) return std::unexpected(end.error());
    return index;
  }

  // The members of a top-level object named in `keys`, parsed; the rest skipped.
  std::expected<nlohmann::json, std::string> members(const std::set<std::string>& keys)
  {
    nlohmann::json out = nlohmann::json::object();
    skip_space();
    if (peek() != '{') return fail("a device document must be a JSON object");
    auto read = object_members(0, [&](std::string_view key) -> std::expected<void, std::string> {
      const std::size_t start = m_pos;
      if (auto skipped = value(1); !skipped) return skipped;
      if (const std::string name(key); keys.contains(name)) {
        auto parsed = nlohmann::json::parse(m_text.substr(start, m_pos - start), nullptr, false);
        if (parsed.is_discarded()) return fail("malformed value of " + name);
        out[name] = std::move(parsed);
      }
      return {};
    });
    if (!read) return std::unexpected(read.error());
    if (auto end = at_end(); !end) return std::unexpected(end.error());
    return out;
  }

  // The members of a top-level object named in `keys`, as the JSON text of
  // an object holding just them (their values' text as it was).
  std::expected<std::string, std::string> members_text(const std::set<std::string>& keys)
  {
    std::string out = "{";
    skip_space();
    if (peek() != '{') return fail("a device document must be a JSON object");
    auto read = object_members(0, [&](std::string_view key) -> std::expected<void, std::string> {
      const std::size_t start = m_pos;
      if (auto skipped = value(1); !skipped) return skipped;
      if (const std::string name(key); keys.contains(name)) {
        if (out.size() > 1) out += ',';
        out += nlohmann::json(name).dump();
        out += ':';
        out += m_text.substr(start, m_pos - start);
      }
      return {};
    });
    if (!read) return std::unexpected(read.error());
    if (auto end = at_end(); !end) return std::unexpected(end.error());
    return out + "}";
  }

private:
  // The object at the cursor: for each member, `on_member(name)` with the
  // cursor at the member's value, which it must consume.
  template <class OnMember> std::expected<void, std::string> object_members(int depth, OnMember&& on_member)
  {
    if (depth > k_max_depth) return fail("nesting too deep");
    take('{');
    skip_space();
    if (take('}')) return {};
    for (;;) {
      skip_space();
      std::string decoded;
      auto key = member_name(decoded);
      if (!key) return std::unexpected(key.error());
      skip_space();
      if (!take(':')) return fail("expected ':' after a member name");
      skip_space();
      if (auto done = on_member(*key); !done) return done;
      skip_space();
      if (take('}')) return {};
      if (!take(',')) return fail("expected ',' or '}' in an object");
    }
  }

  std::expected<void, std::string> at_end()
  {
    skip_space();
    if (m_pos != m_text.size()) return fail("unexpected text after the object");
    return {};
  }

  std::expected<void, std::string> item_list(DevicePageIndex& index)
  {
    if (!take('[')) return fail("items must be an array");
    skip_space();
    if (take(']')) return {};
    for (;;) {
      skip_space();
      const std::size_t start = m_pos;
      if (peek() != '{') return fail("each item must be a device object");
      std::string id;
      std::string kept;
      if (auto item = object(1, &id, m_keeping ? &kept : nullptr); !item) return std::unexpected(item.error());
      if (id.empty()) return fail("a device in items has no id");
      if (m_keeping) kept = "{" + kept + "}";
      index.items.push_back({std::move(id), m_text.substr(start, m_pos - start), std::move(kept)});
      skip_space();
      if (take(']')) return {};
      if (!take(',')) return fail("expected ',' or ']' in items");
    }
  }

  // An object; with `id` given, its top-level "id" string goes there; with
  // `kept`, the members named in m_keep are appended to it ("name":value,...).
  std::expected<void, std::string> object(int depth, std::string* id, std::string* kept = nullptr)
  {
    return object_members(depth, [&](std::string_view key) -> std::expected<void, std::string> {
      const std::size_t start = m_pos;
      if (id != nullptr && key == "id" && peek() == '"') {
        auto text = string_value();
        if (!text) return std::unexpected(text.error());
        *id = std::move(*text);
      } else if (auto skipped = value(depth); !skipped) {
        return skipped;
      }
      if (kept != nullptr && std::find(m_keep.begin(), m_keep.end(), key) != m_keep.end()) {
        if (!kept->empty()) *kept += ',';
        if (std::any_of(key.begin(), key.end(),
                        [](char c) { return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20; }))
          *kept += nlohmann::json(std::string(key)).dump();
        else
          (*kept += '"').append(key) += '"';
        *kept += ':';
        *kept += m_text.substr(start, m_pos - start);
      }
      return {};
    });
  }

  std::expected<void, std::string> array(int depth)
  {
    if (depth > k_max_depth) return fail("nesting too deep");
    take('[');
    skip_space();
    if (take(']')) return {};
    for (;;) {
      skip_space();
      if (auto skipped = value(depth); !skipped) return std::unexpected(skipped.error());
      skip_space();
      if (take(']')) return {};
      if (!take(',')) return fail("expected ',' or ']' in an array");
    }
  }

  std::expected<void, std::string> value(int depth)
  {
    switch (peek()) {
    case '{': return object(depth + 1, nullptr);
    case '[': return array(depth + 1);
    case '"': {
      auto skipped = string_span();
      if (!skipped) return std::unexpected(skipped.error());
      return {};
    }
    default: return scalar();
    }
  }

  // true, false, null or a number (its characters, not its grammar).
  std::expected<void, std::string> scalar()
  {
    for (std::string_view literal : {"true", "false", "null"}) {
      if (m_text.substr(m_pos, literal.size()) == literal) {
        m_pos += literal.size();
        return {};
      }
    }
    const std::size_t start = m_pos;
    while (m_pos < m_text.size() && std::string_view("+-.0123456789eE").find(m_text[m_pos]) != std::string_view::npos)
      ++m_pos;
    if (m_pos == start) return fail("expected a JSON value");
    return {};
  }

  // A member name: a view of the text, or of `decoded` when it has escapes.
  std::expected<std::string_view, std::string> member_name(std::string& decoded)
  {
    bool escaped = false;
    auto span = string_span(&escaped);
    if (!span) return std::unexpected(span.error());
    if (!escaped) return span->substr(1, span->size() - 2);
    const auto parsed = nlohmann::json::parse(*span, nullptr, false);
    if (!parsed.is_string()) return fail("malformed string escape");
    decoded = parsed.get<std::string>();
    return std::string_view(decoded);
  }

  // A string's decoded text (escapes resolved, which member names and ids rarely have).
  std::expected<std::string, std::string> string_value()
  {
    bool escaped = false;
    auto span = string_span(&escaped);
    if (!span) return std::unexpected(span.error());
    if (!escaped) return std::string(span->substr(1, span->size() - 2));
    const auto decoded = nlohmann::json::parse(*span, nullptr, false);
    if (!decoded.is_string()) return fail("malformed string escape");
    return decoded.get<std::string>();
  }

  // The string at the cursor, quotes included.
  std::expected<std::string_view, std::string> string_span(bool* escaped = nullptr)
  {
    const std::size_t start = m_pos;
    if (!take('"')) return fail("expected a string");
    for (; m_pos < m_text.size(); ++m_pos) {
      m_pos += losant::plain_string_run(m_text.data() + m_pos, m_text.size() - m_pos);
      if (m_pos >= m_text.size()) break;
      const char c = m_text[m_pos];
      if (c == '"') {
        ++m_pos;
        return m_text.substr(start, m_pos - start);
      }
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string");
      if (c == '\\') {
        if (escaped != nullptr) *escaped = true;
        ++m_pos;
      }
    }
    m_pos = start;
    return fail("unterminated string");
  }

  char peek() const { return m_pos < m_text.size() ? m_text[m_pos] : '\0'; }
  bool take(char c)
  {
    if (peek() != c) return false;
    ++m_pos;
    return true;
  }
  void skip_space()
  {
    while (m_pos < m_text.size() &&
           (m_text[m_pos] == ' ' || m_text[m_pos] == '\n' || m_text[m_pos] == '\r' || m_text[m_pos] == '\t'))
      ++m_pos;
  }
  std::unexpected<std::string> fail(const std::string& what) const
  {
    return std::unexpected(what + " (at byte " + std::to_string(m_pos) + ")");
  }

  static constexpr int k_max_depth = 64;
  std::string_view m_text;
  std::vector<std::string> m_keep; // a few names: a linear search beats a tree
  bool m_keeping = false;
  std::size_t m_pos = 0;
};

} // namespace

std::expected<DevicePageIndex, std::string> index_device_page(std::string_view body, const std::set<std::string>* keep)
{
  return PageScanner(body, keep).page();
}

std::expected<nlohmann::json, std::string> read_members(std::string_view document, const std::set<std::string>& keys)
{
  return PageScanner(document).members(keys);
}

std::expected<std::string, std::string> kept_members(std::string_view document, const std::set<std::string>& keys)
{
  return PageScanner(document).members_text(keys);
}

} // namespace fleetrun::api
