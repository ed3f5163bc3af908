// The container's live status (<state dir>/status, layout::kStatusFile),
// which `runvm state` reads at any time. It must stay true when the state
// directory's filesystem is full (docs/faults.md): a status written after a
// successful start, pause or resume that did not reach the file would leave
// `state` reporting the old one.
//
// So after the first write, a change needs no new space: two fixed-size
// files (status and status.spare, each one kSlotSize padded slot) are
// allocated up front; a change overwrites the spare in place and swaps the
// two names atomically (renameat2 RENAME_EXCHANGE). A reader always opens a
// complete file. Where the filesystem cannot exchange, every write falls back
// to write_file_atomic (a new file, which needs space).
#pragma once

#include <string>
#include <string_view>

#include "spec/base/result.h"
#include "spec/base/unique_fd.h"

namespace runvm {

class StatusFile {
 public:
  // Bytes of each file: the status, spaces, '\n' (readers trim both).
  static constexpr size_t kSlotSize = 16;

  explicit StatusFile(std::string state_dir) : dir_(std::move(state_dir)) {}

  // Records `status` (at most kSlotSize - 1 bytes).
  Status write(std::string_view status);

 private:
  // Creates status.spare with its slot allocated, and opens the directory.
  Status prepare();

  std::string dir_;
  bool exchange_ = true;     // false once the filesystem refused RENAME_EXCHANGE
  UniqueFd dir_fd_, spare_;  // spare_: the file under status.spare
};

}  // namespace runvm
