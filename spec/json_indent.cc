#include "spec/json_indent.h"

namespace runvm::oci {

std::string indent_json(std::string_view in, std::string_view indent) {
  std::string out;
  out.reserve(in.size() * 2);
  size_t depth = 0;
  bool in_string = false, escaped = false;
  auto newline = [&] {
    out += '\n';
    for (size_t i = 0; i < depth; ++i) out += indent;
  };
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (in_string) {
      out += c;
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        out += c;
        break;
      case '{':
      case '[':
        out += c;
        if (i + 1 < in.size() && (in[i + 1] == '}' || in[i + 1] == ']')) {
          out += in[++i];  // empty: stays on one line
        } else {
          ++depth;
          newline();
        }
        break;
      case '}':
      case ']':
        if (depth > 0) --depth;
        newline();
        out += c;
        break;
      case ',':
        out += c;
        newline();
        break;
      case ':':
        out += ": ";
        break;
      case ' ':
      case '\t':
      case '\n':
      case '\r':
        break;  // the input's own whitespace
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace runvm::oci
