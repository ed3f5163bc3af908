#include "spec/base/json.h"

#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <limits>

namespace runvm::json {

Error Value::error(std::string_view msg) const {
  if (path_.empty()) return make_error(std::string(msg));
  return make_error(path_ + ": " + std::string(msg));
}

Result<std::optional<Value>> Value::get(std::string_view key) const {
  if (!is_object()) return error("must be an object");
  // The last of duplicate members, as Go's encoding/json (runc, the engines)
  // reads them: a config must not say one thing to an engine's checks and
  // another to us.
  for (size_t i = v_->u.object.len; i-- > 0;) {
    if (key == v_->u.object.keys[i]) {
      std::string p = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
      return std::optional<Value>(Value(v_->u.object.values[i], std::move(p)));
    }
  }
  return std::optional<Value>();
}

Result<Value> Value::at(std::string_view key) const {
  auto v = RUNVM_TRY(get(key));
  if (!v) {
    std::string p = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
    return make_error(p + ": is required");
  }
  return *v;
}

Result<std::string> Value::as_string() const {
  if (!is_string()) return error("must be a string");
  return std::string(v_->u.string);
}

Result<int64_t> Value::as_int() const {
  if (!v_ || !YAJL_IS_INTEGER(v_)) return error("must be an integer");
  return static_cast<int64_t>(v_->u.number.i);
}

Result<uint64_t> Value::as_uint() const {
  if (!v_ || !YAJL_IS_NUMBER(v_)) return error("must be a non-negative integer");
  if (YAJL_IS_INTEGER(v_)) {
    if (v_->u.number.i < 0) return error("must be a non-negative integer");
    return static_cast<uint64_t>(v_->u.number.i);
  }
  // yajl overflows integers above INT64_MAX into doubles; reparse the text.
  const char* s = v_->u.number.r;
  if (!s || *s == '-') return error("must be a non-negative integer");
  char* end = nullptr;
  errno = 0;
  unsigned long long u = strtoull(s, &end, 10);
  if (errno || *end) return error("must be a non-negative integer");
  return static_cast<uint64_t>(u);
}

Result<bool> Value::as_bool() const {
  if (v_ && YAJL_IS_TRUE(v_)) return true;
  if (v_ && YAJL_IS_FALSE(v_)) return false;
  return error("must be a boolean");
}

Result<std::vector<Value>> Value::as_array() const {
  if (!is_array()) return error("must be an array");
  std::vector<Value> out;
  out.reserve(v_->u.array.len);
  for (size_t i = 0; i < v_->u.array.len; ++i)
    out.emplace_back(v_->u.array.values[i], path_ + "[" + std::to_string(i) + "]");
  return out;
}

Result<std::vector<std::pair<std::string, Value>>> Value::as_object() const {
  if (!is_object()) return error("must be an object");
  std::vector<std::pair<std::string, Value>> out;
  out.reserve(v_->u.object.len);
  for (size_t i = 0; i < v_->u.object.len; ++i) {
    std::string k = v_->u.object.keys[i];
    std::string p = path_.empty() ? k : path_ + "." + k;
    out.emplace_back(k, Value(v_->u.object.values[i], std::move(p)));
  }
  return out;
}

size_t nesting_depth(std::string_view text) {
  size_t depth = 0, deepest = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) deepest = depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

Result<Document> Document::parse(std::string_view text) {
  if (nesting_depth(text) > kMaxNestingDepth)
    return make_error("invalid JSON: nested deeper than " + std::to_string(kMaxNestingDepth) +
                      " levels");
  std::string copy(text);  // yajl_tree_parse wants a NUL-terminated string
  if (copy.size() != strnlen(copy.c_str(), copy.size()))
    return make_error("invalid JSON: embedded NUL byte");
  char err[256] = {0};
  yajl_val tree = yajl_tree_parse(copy.c_str(), err, sizeof err);
  if (!tree) {
    std::string msg = err;
    // yajl's messages span lines; keep errors to one line.
    // yajl follows its message with a multi-line excerpt of the input: keep
    // just the message.
    size_t cut = msg.find_first_of("\r\n");
    if (cut != std::string::npos) msg.erase(cut);
    while (!msg.empty() && msg.back() == ' ') msg.pop_back();
    return make_error("invalid JSON: " + (msg.empty() ? std::string("parse error") : msg));
  }
  Document d;
  d.tree_.reset(tree);
  return d;
}

Writer::Writer() : gen_(yajl_gen_alloc(nullptr)) {
  yajl_gen_config(gen_.get(), yajl_gen_validate_utf8, 0);
}
Writer& Writer::begin_object() {
  yajl_gen_map_open(gen_.get());
  return *this;
}
Writer& Writer::end_object() {
  yajl_gen_map_close(gen_.get());
  return *this;
}
Writer& Writer::begin_array() {
  yajl_gen_array_open(gen_.get());
  return *this;
}
Writer& Writer::end_array() {
  yajl_gen_array_close(gen_.get());
  return *this;
}
Writer& Writer::string(std::string_view s) {
  yajl_gen_string(gen_.get(), reinterpret_cast<const unsigned char*>(s.data()), s.size());
  return *this;
}
// Numbers are formatted here, not by yajl_gen_integer's sprintf: the agent
// (static, under TCG) then runs no printf at all outside --debug, whose
// vfprintf is a lot of code to translate on a cold start's first message.
namespace {
template <class T>
void gen_number(yajl_gen g, T v) {
  char buf[24];  // 20 digits and a sign at most: to_chars cannot fail
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  yajl_gen_number(g, buf, static_cast<size_t>(end - buf));
}
}  // namespace
Writer& Writer::integer(int64_t v) {
  gen_number(gen_.get(), v);
  return *this;
}
Writer& Writer::uinteger(uint64_t v) {
  gen_number(gen_.get(), v);
  return *this;
}
Writer& Writer::boolean(bool v) {
  yajl_gen_bool(gen_.get(), v);
  return *this;
}
Writer& Writer::null() {
  yajl_gen_null(gen_.get());
  return *this;
}
std::string Writer::str() const {
  const unsigned char* buf = nullptr;
  size_t len = 0;
  yajl_gen_get_buf(gen_.get(), &buf, &len);
  return std::string(reinterpret_cast<const char*>(buf), len);
}

}  // namespace runvm::json
