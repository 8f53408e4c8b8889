// engine/telemetry/event.cpp — Event accessors and to_json.
#include <cmath>
#include <cstdio>
#include <string>

#include "phyx/event.hpp"

namespace phyx {

const FieldValue* Event::find(std::string_view key) const {
  for (const auto& [k, v] : fields) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::optional<std::int64_t> Event::get_int(std::string_view key) const {
  const FieldValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (const auto* i = std::get_if<std::int64_t>(v)) return *i;
  return std::nullopt;
}

std::optional<double> Event::get_double(std::string_view key) const {
  const FieldValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (const auto* d = std::get_if<double>(v)) return *d;
  if (const auto* i = std::get_if<std::int64_t>(v)) return static_cast<double>(*i);
  return std::nullopt;
}

std::optional<std::string_view> Event::get_string(std::string_view key) const {
  const FieldValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (const auto* s = std::get_if<std::string>(v)) return std::string_view(*s);
  return std::nullopt;
}

std::optional<bool> Event::get_bool(std::string_view key) const {
  const FieldValue* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (const auto* b = std::get_if<bool>(v)) return *b;
  return std::nullopt;
}

namespace {

void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_json_value(std::string& out, const FieldValue& v) {
  if (const auto* i = std::get_if<std::int64_t>(&v)) {
    out += std::to_string(*i);
  } else if (const auto* d = std::get_if<double>(&v)) {
    if (std::isfinite(*d)) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", *d);
      out += buf;
    } else {
      out += "null";  // JSON has no NaN / Infinity
    }
  } else if (const auto* s = std::get_if<std::string>(&v)) {
    append_json_string(out, *s);
  } else {
    out += std::get<bool>(v) ? "true" : "false";
  }
}

}  // namespace

std::string to_json(const Event& e) {
  std::string out;
  out.reserve(128);
  out += "{\"type\":";
  append_json_string(out, e.type);
  out += ",\"process\":" + std::to_string(e.process.value) + ",\"name\":";
  append_json_string(out, e.name);
  out += ",\"at\":{\"wall_ms\":" + std::to_string(e.at.wall_ms) + ",\"mono_ms\":" + std::to_string(e.at.mono_ms) +
         "},\"fields\":{";
  bool first = true;
  for (const auto& [k, v] : e.fields) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, k);
    out += ':';
    append_json_value(out, v);
  }
  out += "}}";
  return out;
}

}  // namespace phyx
