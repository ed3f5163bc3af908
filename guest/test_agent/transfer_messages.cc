#include "guest/test_agent/transfer_messages.h"

#include "guest/protocol/fields.h"

namespace runvm::test_agent {

namespace fields = proto::fields;

void Transfer::write(json::Writer& w) const {
  w.key("id").uinteger(id);
  w.key("port").uinteger(port);
  w.key("bytes").uinteger(bytes);
  w.key("seed").uinteger(seed);
}
Result<Transfer> Transfer::parse(const json::Value& v) {
  Transfer m;
  m.id = RUNVM_TRY(fields::u64(v, "id"));
  m.port = RUNVM_TRY(fields::u32(v, "port"));
  m.bytes = RUNVM_TRY(fields::u64(v, "bytes"));
  if (m.bytes > kMaxTransferBytes)
    return make_error("bytes: must be at most " + std::to_string(kMaxTransferBytes));
  m.seed = RUNVM_TRY(fields::u64(v, "seed"));
  return m;
}

void TransferDone::write(json::Writer& w) const {
  w.key("id").uinteger(id);
  w.key("bytes").uinteger(bytes);
}
Result<TransferDone> TransferDone::parse(const json::Value& v) {
  TransferDone m;
  m.id = RUNVM_TRY(fields::u64(v, "id"));
  m.bytes = RUNVM_TRY(fields::u64(v, "bytes"));
  return m;
}

}  // namespace runvm::test_agent
