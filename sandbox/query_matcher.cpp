#include "sandbox/query_matcher.hpp"

#include "losant/object_id.hpp"
#include "losant/time_format.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <functional>

namespace fleetrun::sandbox {

using nlohmann::json;

class QueryNode {
public:
  virtual ~QueryNode() = default;
  virtual bool matches(const Device& device) const = 0;
};

namespace {

using NodePtr = std::unique_ptr<QueryNode>;

std::string lower(std::string_view text)
{
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  return out;
}

// ---- logical nodes --------------------------------------------------------

enum class Logic { all, any, none };

class LogicNode final : public QueryNode {
public:
  LogicNode(Logic logic, std::vector<NodePtr> children) : m_logic(logic), m_children(std::move(children)) {}
  bool matches(const Device& device) const override
  {
    switch (m_logic) {
    case Logic::all:
      return std::all_of(m_children.begin(), m_children.end(), [&](const NodePtr& c) { return c->matches(device); });
    case Logic::any:
      return std::any_of(m_children.begin(), m_children.end(), [&](const NodePtr& c) { return c->matches(device); });
    case Logic::none:
      return std::none_of(m_children.begin(), m_children.end(), [&](const NodePtr& c) { return c->matches(device); });
    }
    return false;
  }

private:
  Logic m_logic;
  std::vector<NodePtr> m_children;
};

class NotNode final : public QueryNode {
public:
  explicit NotNode(NodePtr child) : m_child(std::move(child)) {}
  bool matches(const Device& device) const override { return !m_child->matches(device); }

private:
  NodePtr m_child;
};

class PredicateNode final : public QueryNode {
public:
  explicit PredicateNode(std::function<bool(const Device&)> predicate) : m_predicate(std::move(predicate)) {}
  bool matches(const Device& device) const override { return m_predicate(device); }

private:
  std::function<bool(const Device&)> m_predicate;
};

// ---- field values ---------------------------------------------------------

// A device's field value as seen by a comparison: null, text (a view into the
// device, no copy) or a number (dates as epoch ms).
struct Value {
  enum class Kind { null, text, number } kind = Kind::null;
  std::string_view text;
  std::int64_t number = 0;
};

// An operand of the query, converted to the field's type once and owned.
struct Operand {
  Value::Kind kind = Value::Kind::null;
  std::string text;
  std::int64_t number = 0;
};

enum class FieldType { id, text, date };

struct FieldSpec {
  FieldType type;
  std::function<void(const Device&, const std::function<void(const Value&)>&)> each_value;
};

Value text_value(std::string_view text)
{
  return {Value::Kind::text, text, 0};
}
Operand text_operand(std::string text)
{
  return {Value::Kind::text, std::move(text), 0};
}
Operand number_operand(std::int64_t n)
{
  return {Value::Kind::number, {}, n};
}
Value number_value(std::int64_t n)
{
  return {Value::Kind::number, {}, n};
}
Value null_value()
{
  return {};
}

void emit_optional_id(const std::optional<std::string>& id, const std::function<void(const Value&)>& emit)
{
  emit(id ? text_value(*id) : null_value());
}

const std::vector<std::pair<std::string, FieldSpec>>& field_specs()
{
  using Emit = std::function<void(const Value&)>;
  static const std::vector<std::pair<std::string, FieldSpec>> k_fields = {
      {"id", {FieldType::id, [](const Device& d, const Emit& e) { e(text_value(d.id)); }}},
      {"gatewayId", {FieldType::id, [](const Device& d, const Emit& e) { emit_optional_id(d.gateway_id, e); }}},
      {"parentId", {FieldType::id, [](const Device& d, const Emit& e) { emit_optional_id(d.parent_id, e); }}},
      {"ancestorId",
       {FieldType::id,
        [](const Device& d, const Emit& e) {
          if (d.ancestor_ids.empty()) e(null_value());
          for (const auto& id : d.ancestor_ids) e(text_value(id));
        }}},
      {"experienceUserId", {FieldType::id, [](const Device&, const Emit& e) { e(null_value()); }}},
      {"experienceGroupId", {FieldType::id, [](const Device&, const Emit& e) { e(null_value()); }}},
      {"name", {FieldType::text, [](const Device& d, const Emit& e) { e(text_value(d.name)); }}},
      {"deviceClass", {FieldType::text, [](const Device& d, const Emit& e) { e(text_value(d.device_class)); }}},
      {"connectionStatus",
       {FieldType::text, [](const Device& d, const Emit& e) { e(text_value(connection_status_name(d.connection))); }}},
      {"attributeName",
       {FieldType::text,
        [](const Device& d, const Emit& e) {
          if (d.attributes.empty()) e(null_value());
          for (const auto& a : d.attributes) e(text_value(a.name));
        }}},
      {"creationDate", {FieldType::date, [](const Device& d, const Emit& e) { e(number_value(d.creation_ms)); }}},
      {"lastUpdated", {FieldType::date, [](const Device& d, const Emit& e) { e(number_value(d.last_updated_ms)); }}},
      {"deletedAt",
       {FieldType::date,
        [](const Device& d, const Emit& e) { e(d.deleted_at_ms ? number_value(*d.deleted_at_ms) : null_value()); }}},
      {"connectedAt",
       {FieldType::date,
        [](const Device& d, const Emit& e) {
          e(d.connection == Connection::connected ? number_value(d.connection_time_ms) : null_value());
        }}},
      {"disconnectedAt",
       {FieldType::date,
        [](const Device& d, const Emit& e) {
          e(d.connection == Connection::disconnected ? number_value(d.connection_time_ms) : null_value());
        }}},
  };
  return k_fields;
}

const FieldSpec* find_field(const std::string& name)
{
  for (const auto& [field_name, spec] : field_specs()) {
    if (field_name == name) return &spec;
  }
  return nullptr;
}

// An operand converted to the field's type once, at compile time.
std::expected<Operand, std::string> operand_for(FieldType type, const json& operand, const std::string& where)
{
  if (operand.is_null()) return Operand{};
  switch (type) {
  case FieldType::id:
    if (!operand.is_string() || !losant::is_object_id(operand.get<std::string>())) {
      return std::unexpected(where + ": must be a 24-character hexadecimal id or null");
    }
    return text_operand(losant::normalize_object_id(operand.get<std::string>()));
  case FieldType::date:
    if (operand.is_number()) return number_operand(operand.get<std::int64_t>());
    if (operand.is_string()) {
      if (auto ms = losant::parse_iso8601_ms(operand.get<std::string>())) return number_operand(*ms);
      return std::unexpected(where + ": \"" + operand.get<std::string>() +
                             "\" is not a date (ISO 8601 or epoch milliseconds)");
    }
    return std::unexpected(where + ": a date must be an ISO 8601 string or epoch milliseconds");
  case FieldType::text:
    if (operand.is_string()) return text_operand(operand.get<std::string>());
    return text_operand(operand.dump()); // numbers and booleans compare as their text
  }
  return Operand{};
}

std::string as_text(const Value& value, FieldType type)
{
  if (value.kind == Value::Kind::number && type == FieldType::date) return losant::format_iso8601_ms(value.number);
  if (value.kind == Value::Kind::number) return std::to_string(value.number);
  return std::string(value.text);
}

// -1, 0, 1; nullopt when the two cannot be ordered (null against a value).
std::optional<int> compare(const Value& a, const Operand& b, bool ci)
{
  if (a.kind == Value::Kind::null || b.kind == Value::Kind::null) {
    if (a.kind == b.kind) return 0;
    return std::nullopt;
  }
  if (a.kind == Value::Kind::number && b.kind == Value::Kind::number) {
    return a.number < b.number ? -1 : (a.number > b.number ? 1 : 0);
  }
  if (a.kind != b.kind) return std::nullopt;
  const int c = ci ? lower(a.text).compare(lower(b.text)) : a.text.compare(std::string_view(b.text));
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

enum class Op { eq, ne, gt, lt, gte, lte, starts_with, ends_with, contains, in, nin };

struct Condition {
  Op op;
  std::vector<Operand> operands; // one, or the list for $in/$nin
};

class FieldNode final : public QueryNode {
public:
  FieldNode(const FieldSpec& spec, std::vector<Condition> conditions, bool ci)
      : m_spec(spec), m_conditions(std::move(conditions)), m_ci(ci)
  {
  }

  bool matches(const Device& device) const override
  {
    for (const auto& condition : m_conditions) {
      if (!holds(condition, device)) return false;
    }
    return true;
  }

private:
  bool holds(const Condition& condition, const Device& device) const
  {
    // Negative operators hold when no value of the field matches the positive one.
    if (condition.op == Op::ne)
      return !any_value(device, [&](const Value& v) { return equal(v, condition.operands[0]); });
    if (condition.op == Op::nin)
      return !any_value(device, [&](const Value& v) { return in_list(v, condition.operands); });
    return any_value(device, [&](const Value& v) { return positive(condition, v); });
  }

  bool positive(const Condition& condition, const Value& v) const
  {
    const Operand& operand = condition.operands[0];
    switch (condition.op) {
    case Op::eq: return equal(v, operand);
    case Op::gt: {
      auto c = compare(v, operand, m_ci);
      return c && *c > 0 && operand.kind != Value::Kind::null;
    }
    case Op::lt: {
      auto c = compare(v, operand, m_ci);
      return c && *c < 0 && operand.kind != Value::Kind::null;
    }
    case Op::gte: {
      auto c = compare(v, operand, m_ci);
      return c && *c >= 0;
    }
    case Op::lte: {
      auto c = compare(v, operand, m_ci);
      return c && *c <= 0;
    }
    case Op::starts_with:
      return text_op(v, operand, [](const std::string& t, const std::string& o) { return t.starts_with(o); });
    case Op::ends_with:
      return text_op(v, operand, [](const std::string& t, const std::string& o) { return t.ends_with(o); });
    case Op::contains:
      return text_op(v, operand,
                     [](const std::string& t, const std::string& o) { return t.find(o) != std::string::npos; });
    case Op::in: return in_list(v, condition.operands);
    case Op::ne:
    case Op::nin: break;
    }
    return false;
  }

  bool equal(const Value& v, const Operand& operand) const
  {
    const auto c = compare(v, operand, m_ci);
    return c && *c == 0;
  }

  bool in_list(const Value& v, const std::vector<Operand>& list) const
  {
    return std::any_of(list.begin(), list.end(), [&](const Operand& o) { return equal(v, o); });
  }

  template <class F> bool text_op(const Value& v, const Operand& operand, F&& op) const
  {
    if (v.kind == Value::Kind::null) return false;
    const std::string text = as_text(v, m_spec.type);
    return m_ci ? op(lower(text), lower(operand.text)) : op(text, operand.text);
  }

  template <class F> bool any_value(const Device& device, F&& predicate) const
  {
    bool found = false;
    m_spec.each_value(device, [&](const Value& v) {
      if (!found && predicate(v)) found = true;
    });
    return found;
  }

  const FieldSpec& m_spec;
  std::vector<Condition> m_conditions;
  bool m_ci;
};

std::expected<NodePtr, std::string> compile_field(const std::string& name, const FieldSpec& spec, const json& value)
{
  std::vector<Condition> conditions;
  bool ci = false;
  if (!value.is_object()) {
    auto operand = operand_for(spec.type, value, name);
    if (!operand) return std::unexpected(operand.error());
    conditions.push_back({Op::eq, {std::move(*operand)}});
    return std::make_unique<FieldNode>(spec, std::move(conditions), false);
  }
  static const std::vector<std::pair<std::string, Op>> k_ops = {{"$eq", Op::eq},
                                                                {"$ne", Op::ne},
                                                                {"$gt", Op::gt},
                                                                {"$lt", Op::lt},
                                                                {"$gte", Op::gte},
                                                                {"$lte", Op::lte},
                                                                {"$startsWith", Op::starts_with},
                                                                {"$endsWith", Op::ends_with},
                                                                {"$contains", Op::contains},
                                                                {"$in", Op::in},
                                                                {"$nin", Op::nin}};
  for (const auto& [key, operand_json] : value.items()) {
    const std::string where = name + "." + key;
    if (key == "$ci") {
      ci = operand_json.is_boolean() && operand_json.get<bool>();
      continue;
    }
    const auto op = std::find_if(k_ops.begin(), k_ops.end(), [&](const auto& entry) { return entry.first == key; });
    if (op == k_ops.end()) return std::unexpected(where + ": unknown operator");
    Condition condition{op->second, {}};
    if (condition.op == Op::in || condition.op == Op::nin) {
      if (!operand_json.is_array()) return std::unexpected(where + ": must be an array");
      for (const auto& item : operand_json) {
        auto operand = operand_for(spec.type, item, where);
        if (!operand) return std::unexpected(operand.error());
        condition.operands.push_back(std::move(*operand));
      }
    } else if (condition.op == Op::starts_with || condition.op == Op::ends_with || condition.op == Op::contains) {
      if (!operand_json.is_string()) return std::unexpected(where + ": must be a string");
      condition.operands.push_back(text_operand(operand_json.get<std::string>()));
    } else {
      auto operand = operand_for(spec.type, operand_json, where);
      if (!operand) return std::unexpected(operand.error());
      condition.operands.push_back(std::move(*operand));
    }
    conditions.push_back(std::move(condition));
  }
  return std::make_unique<FieldNode>(spec, std::move(conditions), ci);
}

// ---- tags -----------------------------------------------------------------

// A condition on a tag's key or value: any (null), equal, in a list, not in a list.
struct TextCondition {
  enum class Kind { any, eq, in, nin } kind = Kind::any;
  std::vector<std::string> values;

  bool holds(const std::string& text) const
  {
    switch (kind) {
    case Kind::any: return true;
    case Kind::eq: return text == values[0];
    case Kind::in: return std::find(values.begin(), values.end(), text) != values.end();
    case Kind::nin: return std::find(values.begin(), values.end(), text) == values.end();
    }
    return false;
  }
};

std::expected<TextCondition, std::string> text_condition(const json& value, const std::string& where)
{
  TextCondition condition;
  if (value.is_null()) return condition;
  if (value.is_string()) {
    condition.kind = TextCondition::Kind::eq;
    condition.values.push_back(value.get<std::string>());
    return condition;
  }
  if (value.is_object() && value.size() == 1 && (value.contains("$in") || value.contains("$nin"))) {
    const bool in = value.contains("$in");
    const json& list = in ? value["$in"] : value["$nin"];
    if (!list.is_array()) return std::unexpected(where + ": $in/$nin must be an array");
    condition.kind = in ? TextCondition::Kind::in : TextCondition::Kind::nin;
    for (const auto& item : list) {
      if (!item.is_string()) return std::unexpected(where + ": tag keys and values are strings");
      condition.values.push_back(item.get<std::string>());
    }
    return condition;
  }
  return std::unexpected(where + ": must be a string, null, {\"$in\": [...]} or {\"$nin\": [...]}");
}

NodePtr tag_pair_node(TextCondition key, TextCondition value)
{
  return std::make_unique<PredicateNode>([key = std::move(key), value = std::move(value)](const Device& device) {
    return std::any_of(device.tags.begin(), device.tags.end(),
                       [&](const Tag& tag) { return key.holds(tag.key) && value.holds(tag.value); });
  });
}

// The two positive tag forms: {$tagKey, $tagValue} or {"<key>": value, ...}.
std::expected<NodePtr, std::string> compile_tag_form(const json& form, const std::string& where)
{
  if (!form.is_object()) return std::unexpected(where + ": must be an object");
  if (form.contains("$tagKey") || form.contains("$tagValue")) {
    TextCondition key;
    TextCondition value;
    for (const auto& [k, v] : form.items()) {
      if (k != "$tagKey" && k != "$tagValue")
        return std::unexpected(where + "." + k + ": cannot be combined with $tagKey/$tagValue");
      auto condition = text_condition(v, where + "." + k);
      if (!condition) return std::unexpected(condition.error());
      (k == "$tagKey" ? key : value) = std::move(*condition);
    }
    return tag_pair_node(std::move(key), std::move(value));
  }
  std::vector<NodePtr> pairs;
  for (const auto& [k, v] : form.items()) {
    if (k.starts_with("$")) return std::unexpected(where + "." + k + ": unknown tag operator");
    auto condition = text_condition(v, where + "." + k);
    if (!condition) return std::unexpected(condition.error());
    pairs.push_back(tag_pair_node(TextCondition{TextCondition::Kind::eq, {k}}, std::move(*condition)));
  }
  return std::make_unique<LogicNode>(Logic::all, std::move(pairs));
}

std::expected<NodePtr, std::string> compile_tags(const json& value)
{
  if (value.is_object() && (value.contains("$eq") || value.contains("$ne"))) {
    std::vector<NodePtr> parts;
    for (const auto& [k, v] : value.items()) {
      if (k != "$eq" && k != "$ne") return std::unexpected("tags." + k + ": cannot be combined with $eq/$ne");
      auto form = compile_tag_form(v, "tags." + k);
      if (!form) return std::unexpected(form.error());
      parts.push_back(k == "$eq" ? std::move(*form) : std::make_unique<NotNode>(std::move(*form)));
    }
    return std::make_unique<LogicNode>(Logic::all, std::move(parts));
  }
  return compile_tag_form(value, "tags");
}

// ---- the query ------------------------------------------------------------

std::expected<NodePtr, std::string> compile_node(const json& query, const std::string& where)
{
  if (!query.is_object()) return std::unexpected((where.empty() ? "query" : where) + ": must be an object");
  std::vector<NodePtr> parts;
  for (const auto& [key, value] : query.items()) {
    const std::string path = where.empty() ? key : where + "." + key;
    if (key == "$and" || key == "$or" || key == "$nor") {
      if (!value.is_array()) return std::unexpected(path + ": must be an array of queries");
      std::vector<NodePtr> children;
      for (std::size_t i = 0; i < value.size(); ++i) {
        auto child = compile_node(value[i], path + "[" + std::to_string(i) + "]");
        if (!child) return child;
        children.push_back(std::move(*child));
      }
      const Logic logic = key == "$and" ? Logic::all : (key == "$or" ? Logic::any : Logic::none);
      parts.push_back(std::make_unique<LogicNode>(logic, std::move(children)));
    } else if (key == "tags") {
      auto node = compile_tags(value);
      if (!node) return node;
      parts.push_back(std::move(*node));
    } else if (const FieldSpec* spec = find_field(key)) {
      auto node = compile_field(key, *spec, value);
      if (!node) return node;
      parts.push_back(std::move(*node));
    } else {
      return std::unexpected(path + ": unknown field");
    }
  }
  return std::make_unique<LogicNode>(Logic::all, std::move(parts));
}

} // namespace

DeviceQuery::DeviceQuery(std::unique_ptr<QueryNode> root) : m_root(std::move(root))
{
}
DeviceQuery::DeviceQuery(DeviceQuery&&) noexcept = default;
DeviceQuery& DeviceQuery::operator=(DeviceQuery&&) noexcept = default;
DeviceQuery::~DeviceQuery() = default;

std::expected<DeviceQuery, std::string> DeviceQuery::compile(const json& query)
{
  auto root = compile_node(query, "");
  if (!root) return std::unexpected(root.error());
  return DeviceQuery(std::move(*root));
}

DeviceQuery DeviceQuery::match_all()
{
  return DeviceQuery(std::make_unique<LogicNode>(Logic::all, std::vector<NodePtr>{}));
}

DeviceQuery DeviceQuery::from_filters(const SimpleFilters& filters)
{
  std::vector<NodePtr> parts;
  if (!filters.filter.empty()) {
    parts.push_back(std::make_unique<PredicateNode>(
        [pattern = filters.filter](const Device& device) { return glob_matches(pattern, device.name); }));
  }
  if (!filters.device_classes.empty()) {
    parts.push_back(std::make_unique<PredicateNode>([classes = filters.device_classes](const Device& device) {
      return std::find(classes.begin(), classes.end(), device.device_class) != classes.end();
    }));
  }
  for (const auto& [key, value] : filters.tag_filter) {
    TextCondition key_condition;
    TextCondition value_condition;
    if (!key.empty()) key_condition = {TextCondition::Kind::eq, {key}};
    if (!value.empty()) value_condition = {TextCondition::Kind::eq, {value}};
    parts.push_back(tag_pair_node(std::move(key_condition), std::move(value_condition)));
  }
  if (filters.parent_id) {
    parts.push_back(std::make_unique<PredicateNode>([parent = losant::normalize_object_id(*filters.parent_id)](
                                                        const Device& device) { return device.parent_id == parent; }));
  }
  return DeviceQuery(std::make_unique<LogicNode>(Logic::all, std::move(parts)));
}

bool DeviceQuery::matches(const Device& device) const
{
  return m_root->matches(device);
}

bool glob_matches(std::string_view pattern, std::string_view text)
{
  // Iterative glob with backtracking to the last star: linear for typical patterns.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  const auto same = [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  };
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || (pattern[p] != '*' && same(pattern[p], text[t])))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

} // namespace fleetrun::sandbox
