// engine/journal/record_format.cpp — encoding and the pure decoder (format and the
// torn-or-corrupt rules are in record_format.hpp).
#include "journal/record_format.hpp"

#include <bit>
#include <cstring>
#include <stdexcept>

#include "journal/crc32c.hpp"

namespace phyx::detail {

static_assert(std::endian::native == std::endian::little,
              "the journal format is little-endian and is written with memcpy");

namespace {

constexpr std::string_view kMagic{"PHYXJRNL", 8};
constexpr std::uint32_t kVersion = 1;

template <class Int>
void put(std::string& out, Int v) {
  char bytes[sizeof(Int)];
  std::memcpy(bytes, &v, sizeof(Int));
  out.append(bytes, sizeof(Int));
}

template <class Int>
Int get(std::string_view bytes, std::size_t at) {
  Int v;
  std::memcpy(&v, bytes.data() + at, sizeof(Int));
  return v;
}

enum class RecordCheck {
  valid,
  bad_header_crc,
  past_end,         // header CRC holds, the record extends past the end of the file
  bad_payload_crc,  // header CRC holds, the payload does not match its CRC
  bad_kind,         // header CRC holds, an unknown kind or a length over kMaxPayload
};

/// Checks the record that would start at `at` (the caller guarantees a whole header fits).
RecordCheck check_record(std::string_view file, std::size_t at, DecodedRecord& out) {
  const std::string_view header = file.substr(at, kRecordHeaderSize);
  if (crc32c(header.substr(4)) != get<std::uint32_t>(header, 0)) return RecordCheck::bad_header_crc;
  const auto length = get<std::uint32_t>(header, 8);
  if (get<std::uint32_t>(header, 12) != kRecordKindEntry || length > kMaxPayload)
    return RecordCheck::bad_kind;
  out.offset = at;
  out.stamp = RecordStamp{get<std::uint64_t>(header, 16), get<std::int64_t>(header, 24),
                          get<std::int64_t>(header, 32), get<std::int64_t>(header, 40)};
  if (file.size() - at - kRecordHeaderSize < length) return RecordCheck::past_end;
  out.payload = file.substr(at + kRecordHeaderSize, length);
  if (crc32c(out.payload) != get<std::uint32_t>(header, 4)) return RecordCheck::bad_payload_crc;
  return RecordCheck::valid;
}

/// Rule 3: does a valid record start anywhere in (from, end)?
bool valid_record_after(std::string_view file, std::size_t from) {
  DecodedRecord ignored;
  for (std::size_t at = from + 1; at + kRecordHeaderSize <= file.size(); ++at) {
    if (check_record(file, at, ignored) == RecordCheck::valid) return true;
  }
  return false;
}

}  // namespace

std::string encode_file_header(std::uint64_t base_sequence) {
  std::string out;
  out.reserve(kFileHeaderSize);
  out.append(kMagic);
  put<std::uint32_t>(out, kVersion);
  put<std::uint32_t>(out, kFileHeaderSize);
  put<std::uint64_t>(out, base_sequence);
  put<std::uint32_t>(out, 0);
  put<std::uint32_t>(out, crc32c(out));
  return out;
}

void encode_record(const RecordStamp& stamp, std::string_view payload, std::string& out) {
  if (payload.size() > kMaxPayload) {
    throw std::length_error("Journal record payload of " + std::to_string(payload.size()) +
                            " bytes exceeds the maximum of " + std::to_string(kMaxPayload));
  }
  const std::size_t start = out.size();
  put<std::uint32_t>(out, 0);  // header CRC, filled in below
  put<std::uint32_t>(out, crc32c(payload));
  put<std::uint32_t>(out, static_cast<std::uint32_t>(payload.size()));
  put<std::uint32_t>(out, kRecordKindEntry);
  put<std::uint64_t>(out, stamp.sequence);
  put<std::int64_t>(out, stamp.wall_ms);
  put<std::int64_t>(out, stamp.mono_ms);
  put<std::int64_t>(out, stamp.mono_ns);
  const std::uint32_t header_crc =
      crc32c(std::string_view(out).substr(start + 4, kRecordHeaderSize - 4));
  std::memcpy(out.data() + start, &header_crc, 4);
  out.append(payload);
}

DecodedLog decode_log(std::string_view file) {
  DecodedLog log;
  if (file.empty()) return log;
  auto fail = [&log](DecodeEnd end, std::uint64_t at, std::string what) {
    log.end = end;
    log.problem_offset = at;
    log.problem = std::move(what);
    return std::move(log);
  };
  if (file.size() < kFileHeaderSize) {
    return fail(DecodeEnd::corrupt, 0,
                "file header cut short (" + std::to_string(file.size()) + " of 32 bytes)");
  }
  const std::string_view header = file.substr(0, kFileHeaderSize);
  if (header.substr(0, kMagic.size()) != kMagic)
    return fail(DecodeEnd::corrupt, 0, "not a phyx journal (no PHYXJRNL magic)");
  if (crc32c(header.substr(0, 28)) != get<std::uint32_t>(header, 28))
    return fail(DecodeEnd::corrupt, 0, "file header checksum mismatch");
  if (get<std::uint32_t>(header, 8) != kVersion ||
      get<std::uint32_t>(header, 12) != kFileHeaderSize || get<std::uint32_t>(header, 24) != 0) {
    // Version 1 has no flags: a reserved field that is not 0 was written by a later
    // version (or forged past the checksum), and is refused rather than guessed at.
    return fail(DecodeEnd::corrupt, 0,
                "unsupported journal version " + std::to_string(get<std::uint32_t>(header, 8)) +
                    " (header size " + std::to_string(get<std::uint32_t>(header, 12)) +
                    ", flags " + std::to_string(get<std::uint32_t>(header, 24)) + ")");
  }
  log.base_sequence = get<std::uint64_t>(header, 16);
  log.valid_bytes = kFileHeaderSize;

  std::size_t at = kFileHeaderSize;
  while (at < file.size()) {
    if (file.size() - at < kRecordHeaderSize) {
      // Too short for a header, so nothing valid can follow (rule 3).
      return fail(DecodeEnd::torn_tail, at, "record header cut short");
    }
    DecodedRecord record;
    switch (check_record(file, at, record)) {
      case RecordCheck::valid:
        break;
      case RecordCheck::past_end:
        return fail(DecodeEnd::torn_tail, at, "record cut short");
      case RecordCheck::bad_payload_crc:
        if (at + kRecordHeaderSize + record.payload.size() == file.size())
          return fail(DecodeEnd::torn_tail, at, "last record's payload checksum mismatch");
        return fail(DecodeEnd::corrupt, at, "payload checksum mismatch");
      case RecordCheck::bad_kind:
        return fail(DecodeEnd::corrupt, at, "unknown record kind or length");
      case RecordCheck::bad_header_crc:
        if (valid_record_after(file, at))
          return fail(DecodeEnd::corrupt, at, "record header checksum mismatch");
        return fail(DecodeEnd::torn_tail, at, "damaged record at the end of the file");
    }
    const std::uint64_t expected = log.base_sequence + log.records.size();
    if (record.stamp.sequence != expected) {
      return fail(DecodeEnd::corrupt, at,
                  "sequence " + std::to_string(record.stamp.sequence) + " where " +
                      std::to_string(expected) + " was expected");
    }
    at += kRecordHeaderSize + record.payload.size();
    log.records.push_back(record);
    log.valid_bytes = at;
  }
  return log;
}

}  // namespace phyx::detail
