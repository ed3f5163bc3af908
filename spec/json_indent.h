// Go's json.Indent for compact JSON from json::Writer, so our output matches
// runc byte for byte (`runc spec` indents with tabs, `runc state` with two
// spaces, `runc features` with four).
#pragma once

#include <string>
#include <string_view>

namespace runvm::oci {

// Each element on its own line, nested by `indent`; "key": value with one
// space; empty arrays and objects stay "[]" and "{}". No trailing newline.
std::string indent_json(std::string_view compact, std::string_view indent);

}  // namespace runvm::oci
