// engine/journal/record_format.hpp — the bytes of a durable journal file, and the pure
// decoder that recovery and the fuzz target share.
//
// File layout (all integers little-endian):
//
//   file header, 32 bytes
//     0  "PHYXJRNL"                magic
//     8  u32 version = 1
//    12  u32 header size = 32
//    16  u64 base sequence         the sequence of the first record in this file
//    24  u32 reserved = 0            (checked: anything else is a later version)
//    28  u32 CRC-32C of bytes 0..28
//   records, back to back, each:
//     0  u32 header CRC            CRC-32C of bytes 4..48 of this record
//     4  u32 payload CRC           CRC-32C of the payload
//     8  u32 payload length        <= kMaxPayload
//    12  u32 kind = 1              (an entry; other kinds are reserved)
//    16  u64 sequence              base sequence + index: contiguous, checked
//    24  i64 wall_ms               the entry's Instant, as the clock gave it
//    32  i64 mono_ms
//    40  i64 mono_ns
//    48  payload                   the codec's bytes
//
// Why two checksums: the header's own CRC makes the length trustworthy before the
// payload is read, so a record cut short (its length points past the end of the file)
// is told apart from a damaged length field.
//
// Torn tail or corruption? A crash can only damage the end of the file: write() appends,
// and the file is never rewritten in place (clear() replaces it whole by rename). So:
//   1. A record whose header CRC holds but which extends past the end is torn.
//   2. A record whose payload CRC fails and which ends exactly at the end is torn.
//   3. A record whose header CRC fails is torn if no valid record starts anywhere after
//      it (the decoder scans every later offset); if one does, the damage is in the
//      middle: corrupt.
//   4. Anything else that fails (a payload CRC failing with bytes after the record, a
//      sequence out of order, an unknown kind with a valid header CRC) is corrupt.
// Nothing is ever skipped: the decoder stops at the first bad record and says which.
// Rejected: per-block framing as in LevelDB's log (32 KiB blocks let a reader resync
// after damage, which we do not want: a journal with a hole in the middle must not be
// replayed as if it were whole).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace phyx::detail {

inline constexpr std::size_t kFileHeaderSize = 32;
inline constexpr std::size_t kRecordHeaderSize = 48;
inline constexpr std::uint32_t kMaxPayload = 1u << 30;  // 1 GiB: larger lengths are damage
inline constexpr std::uint32_t kRecordKindEntry = 1;

struct RecordStamp {
  std::uint64_t sequence = 0;
  std::int64_t wall_ms = 0;
  std::int64_t mono_ms = 0;
  std::int64_t mono_ns = 0;
};

/// The 32-byte file header for a file whose first record has `base_sequence`.
std::string encode_file_header(std::uint64_t base_sequence);

/// Appends one record (header + payload) to `out`. Any thread; allocates only if `out`
/// must grow. Throws std::length_error when the payload exceeds kMaxPayload.
void encode_record(const RecordStamp& stamp, std::string_view payload, std::string& out);

struct DecodedRecord {
  std::uint64_t offset = 0;  // of the record's first byte in the file
  RecordStamp stamp;
  std::string_view payload;  // points into the decoded bytes
};

enum class DecodeEnd {
  clean,      // every byte belongs to a valid record
  torn_tail,  // valid records, then a damaged tail from problem_offset to the end
  corrupt,    // a bad record at problem_offset with valid data after it (or a bad header)
};

struct DecodedLog {
  std::uint64_t base_sequence = 0;
  std::vector<DecodedRecord> records;
  std::uint64_t valid_bytes = 0;  // header + every valid record: where a torn tail is cut
  DecodeEnd end = DecodeEnd::clean;
  std::uint64_t problem_offset = 0;  // first byte of the torn tail or of the corrupt record
  std::string problem;               // what is wrong there, for the error message
};

/// Decodes a whole journal file. Pure: never throws (except std::bad_alloc), never reads
/// outside `file`, finishes in O(size) for intact files and O(size * 48) at worst.
/// An empty `file` decodes as a clean log with no header (a file about to be created).
DecodedLog decode_log(std::string_view file);

}  // namespace phyx::detail
