// Thin RAII wrappers over yajl: a parsed tree with typed lookups whose
// errors name the JSON path, and a generator for writing JSON.
#pragma once

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "spec/base/result.h"

namespace runvm::json {

// A borrowed view of one node of a parsed Document, remembering its path
// ("process.args[0]") so errors can name it.
class Value {
 public:
  Value(yajl_val v, std::string path) : v_(v), path_(std::move(path)) {}

  const std::string& path() const { return path_; }
  bool is_null() const { return v_ == nullptr || YAJL_IS_NULL(v_); }
  bool is_object() const { return v_ && YAJL_IS_OBJECT(v_); }
  bool is_array() const { return v_ && YAJL_IS_ARRAY(v_); }
  bool is_string() const { return v_ && YAJL_IS_STRING(v_); }

  // Member lookup: nullopt when absent; error when this is not an object.
  Result<std::optional<Value>> get(std::string_view key) const;
  // Required member.
  Result<Value> at(std::string_view key) const;

  Result<std::string> as_string() const;
  Result<int64_t> as_int() const;
  Result<uint64_t> as_uint() const;
  Result<bool> as_bool() const;
  Result<std::vector<Value>> as_array() const;
  // Object members in document order.
  Result<std::vector<std::pair<std::string, Value>>> as_object() const;

  Error error(std::string_view msg) const;  // "<path>: msg"

 private:
  yajl_val v_;
  std::string path_;
};

// Deepest bracket nesting outside strings. yajl frees its trees
// recursively, so hostile input must not nest without bound.
size_t nesting_depth(std::string_view text);
inline constexpr size_t kMaxNestingDepth = 64;

// Owns a yajl tree. parse() rejects nesting deeper than kMaxNestingDepth and
// keeps yajl's message to one short line.
class Document {
 public:
  static Result<Document> parse(std::string_view text);
  Value root() const { return Value(tree_.get(), ""); }

 private:
  struct Free {
    void operator()(yajl_val v) const { yajl_tree_free(v); }
  };
  std::unique_ptr<std::remove_pointer_t<yajl_val>, Free> tree_;
};

// Streaming JSON writer; keys and values in call order.
class Writer {
 public:
  Writer();
  Writer& begin_object();
  Writer& end_object();
  Writer& begin_array();
  Writer& end_array();
  Writer& key(std::string_view k) { return string(k); }
  Writer& string(std::string_view s);
  Writer& integer(int64_t v);
  Writer& uinteger(uint64_t v);  // values above INT64_MAX written as numbers too
  Writer& boolean(bool v);
  Writer& null();
  std::string str() const;

 private:
  struct Free {
    void operator()(yajl_gen g) const { yajl_gen_free(g); }
  };
  std::unique_ptr<std::remove_pointer_t<yajl_gen>, Free> gen_;
};

}  // namespace runvm::json
