// `runvm list` output, byte-compatible with runc's: the table goes through
// a Go text/tabwriter equivalent, the JSON is encoding/json's array.
#pragma once

#include <string>
#include <vector>

#include "spec/state.h"

namespace runvm::cli {

// Go's tabwriter.NewWriter(w, minwidth, 1, padding, ' ', 0) over lines of
// tab-terminated cells: each column is as wide as its widest cell plus
// `padding`, at least `minwidth`; a line's last cell is not padded.
std::string tabwrite(const std::vector<std::vector<std::string>>& lines, size_t minwidth,
                     size_t padding);

// ID PID STATUS BUNDLE CREATED OWNER, as `runc list` prints it.
std::string list_table(const std::vector<oci::ContainerState>& states);
// The states as one JSON array and a newline; runc prints "null" for none.
std::string list_json(const std::vector<oci::ContainerState>& states);

}  // namespace runvm::cli
