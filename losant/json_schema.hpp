#pragma once
// A JSON Schema (draft-07) validator for the keywords the official Losant
// schemas use: type, enum, const, properties, patternProperties,
// additionalProperties, required, minProperties, maxProperties, items,
// minItems, maxItems, minLength, maxLength, pattern, minimum, maximum,
// oneOf, anyOf, allOf, not, propertyNames, format (email, uri, date-time)
// and $ref. Other keywords (if/then among them) are ignored.
//
// Debian does package a C++ validator (libvalijson-dev); this one is kept
// because its messages name the field the way plan diagnostics and the
// sandbox's 400 answers need ("updateOperations[3].value: ..."), and it is
// small. It is checked against ajv (the reference JavaScript validator) in
// tests/compat. Thread safe: validation only reads the schema.

#include <nlohmann/json_fwd.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace fleetrun::losant {

// One reason an instance does not match its schema. `path` names the
// offending value the way a person writes it: `updateOperations[0].value`
// (empty for the document itself).
struct SchemaViolation {
  std::string path;
  std::string message;
};

// Resolves a `$ref` string to the schema it names, or nullptr if unknown.
using SchemaResolver = std::function<const nlohmann::json*(std::string_view ref)>;

// Validates `instance` against `schema`; returns every violation found at the
// first level where the instance goes wrong (empty when valid). For `oneOf`
// with no matching branch, reports the branch that matched deepest, which
// names the field a person most likely got wrong.
std::vector<SchemaViolation> validate_json(const nlohmann::json& schema, const nlohmann::json& instance,
                                           const SchemaResolver& resolver);

// "updateOperations[0].value: must be a string" or just the message at root.
std::string describe(const SchemaViolation& violation);

} // namespace fleetrun::losant
