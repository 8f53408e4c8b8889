// libFuzzer target for the journal decoder (engine/journal/record_format.hpp): it must
// never crash, hang or read out of bounds, whatever the bytes, and what it accepts must
// be exactly what was written.
//
// The first byte picks a mode:
//   raw         the input is a whole journal file. Few random inputs get past the header
//               checksum, so this mode mostly guards the header checks and the scan.
//   structured  the input describes a valid file (base sequence, payloads) and damage
//               to it (truncations, byte flips, appended bytes). This reaches every
//               record path, and the decoder's answer can be checked against the truth:
//               with cuts and at most one flip, the records it returns are a prefix of
//               the records written, never something invented; with no damage it
//               returns them all.
// In both modes the structural invariants hold: records contiguous from the header to
// valid_bytes, sequences consecutive, re-encoding the records reproduces the accepted
// bytes exactly, and decoding the accepted bytes alone is clean with the same records.
//
// Run: `bash tools/test.sh fuzz` (clang; the preset `fuzz`, PHYX_FUZZ_SECONDS each, as in
// CI), or longer by hand: build/fuzz/journal_record_format_fuzz -max_total_time=600.
// Replay a crash: build/fuzz/journal_record_format_fuzz <crash-file>.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "journal/record_format.hpp"

namespace fmt = phyx::detail;

namespace {

void require(bool ok) {
  if (!ok) std::abort();  // libFuzzer reports the input that got here
}

void check_invariants(std::string_view file, const fmt::DecodedLog& log) {
  require(log.valid_bytes <= file.size());
  if (file.empty()) {
    require(log.end == fmt::DecodeEnd::clean && log.records.empty());
    return;
  }
  if (log.end == fmt::DecodeEnd::clean) require(log.valid_bytes == file.size());
  // A torn tail or a corrupt record starts right after the last valid byte.
  if (log.end != fmt::DecodeEnd::clean) require(log.problem_offset == log.valid_bytes);
  if (log.valid_bytes == 0) {
    require(log.records.empty() && log.end == fmt::DecodeEnd::corrupt);
    return;
  }
  // Re-encoding what was accepted reproduces the accepted bytes exactly.
  std::string again = fmt::encode_file_header(log.base_sequence);
  std::uint64_t at = fmt::kFileHeaderSize;
  for (std::size_t i = 0; i < log.records.size(); ++i) {
    const fmt::DecodedRecord& r = log.records[i];
    require(r.offset == at);
    require(r.stamp.sequence == log.base_sequence + i);
    fmt::encode_record(r.stamp, r.payload, again);
    at = again.size();
  }
  require(at == log.valid_bytes);
  require(std::string_view(again) == file.substr(0, log.valid_bytes));
  // The accepted prefix alone decodes clean, with the same records.
  const fmt::DecodedLog prefix = fmt::decode_log(file.substr(0, log.valid_bytes));
  require(prefix.end == fmt::DecodeEnd::clean);
  require(prefix.records.size() == log.records.size());
}

void structured(FuzzedDataProvider& in) {
  const std::uint64_t base =
      in.ConsumeIntegral<std::uint64_t>() >> in.ConsumeIntegralInRange(0, 63);
  const int count = in.ConsumeIntegralInRange(0, 12);
  std::string file = fmt::encode_file_header(base);
  std::vector<std::string> payloads;
  for (int i = 0; i < count; ++i) {
    payloads.push_back(in.ConsumeRandomLengthString(300));
    const auto seq = base + static_cast<std::uint64_t>(i);
    fmt::encode_record(
        {seq, in.ConsumeIntegral<std::int64_t>(), 0, in.ConsumeIntegral<std::int64_t>()},
        payloads.back(), file);
  }
  bool appended = false;
  int flips = 0;
  const int damages = in.ConsumeIntegralInRange(0, 4);
  for (int d = 0; d < damages && !file.empty(); ++d) {
    const std::size_t at = in.ConsumeIntegralInRange<std::size_t>(0, file.size() - 1);
    switch (in.ConsumeIntegralInRange(0, 2)) {
      case 0:
        file.resize(at);
        break;
      case 1:
        file[at] = static_cast<char>(file[at] ^ in.ConsumeIntegralInRange(1, 255));
        ++flips;
        break;
      default:
        file += in.ConsumeRandomLengthString(200);
        appended = true;
        break;
    }
  }
  const fmt::DecodedLog log = fmt::decode_log(file);
  check_invariants(file, log);
  if (damages == 0) {
    require(log.end == fmt::DecodeEnd::clean);
    require(log.records.size() == payloads.size());
  }
  if (!appended && flips <= 1 && log.valid_bytes > 0) {
    // Nothing invented: a prefix of what was written. CRC-32C catches every single
    // damaged byte, so with one flip (and any cuts) this must hold. Two or more flips
    // can be chosen to keep a checksum right (libFuzzer solves the comparison, and did):
    // a checksum guards against damage, not forgery, so those inputs get the structural
    // checks only.
    require(log.base_sequence == base);
    require(log.records.size() <= payloads.size());
    for (std::size_t i = 0; i < log.records.size(); ++i)
      require(log.records[i].payload == payloads[i]);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  if (data[0] % 2 == 0) {
    const std::string_view file(reinterpret_cast<const char*>(data + 1), size - 1);
    check_invariants(file, fmt::decode_log(file));
  } else {
    FuzzedDataProvider in(data + 1, size - 1);
    structured(in);
  }
  return 0;
}
