// The journal file format's decoder (engine/journal/record_format.hpp), byte by byte:
// round trips, a torn tail cut at every offset, corruption at every offset of the middle
// record told apart from a torn tail, and the header's own checks. No files, no threads.
#include "journal/crc32c.hpp"
#include "journal/record_format.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace fmt = phyx::detail;

namespace {

std::string payload_for(std::uint64_t seq) {
  return "event-" + std::to_string(seq) + std::string(seq % 23, 'x');
}

/// A file with `n` records starting at `base`; offsets[i] = where record i starts.
std::string make_file(std::uint64_t base, int n, std::vector<std::size_t>* offsets = nullptr) {
  std::string file = fmt::encode_file_header(base);
  for (int i = 0; i < n; ++i) {
    if (offsets != nullptr) offsets->push_back(file.size());
    const std::uint64_t seq = base + static_cast<std::uint64_t>(i);
    fmt::encode_record({seq, 1000 + static_cast<std::int64_t>(seq), static_cast<std::int64_t>(seq),
                        static_cast<std::int64_t>(seq) * 1'000'000},
                       payload_for(seq), file);
  }
  return file;
}

}  // namespace

TEST_CASE("records round trip: sequence, timestamps and payload") {
  const std::string file = make_file(7, 5);
  const fmt::DecodedLog log = fmt::decode_log(file);
  CHECK(log.end == fmt::DecodeEnd::clean);
  CHECK(log.base_sequence == 7);
  CHECK(log.valid_bytes == file.size());
  REQUIRE(log.records.size() == 5);
  for (std::size_t i = 0; i < 5; ++i) {
    const auto& r = log.records[i];
    CHECK(r.stamp.sequence == 7 + i);
    CHECK(r.stamp.wall_ms == static_cast<std::int64_t>(1007 + i));
    CHECK(r.stamp.mono_ns == static_cast<std::int64_t>((7 + i) * 1'000'000));
    CHECK(r.payload == payload_for(7 + i));
  }
  CHECK(log.records[0].offset == fmt::kFileHeaderSize);
}

TEST_CASE("an empty payload and an empty file decode") {
  std::string file = fmt::encode_file_header(0);
  fmt::encode_record({0, 0, 0, 0}, "", file);
  const auto log = fmt::decode_log(file);
  CHECK(log.end == fmt::DecodeEnd::clean);
  CHECK(log.records.size() == 1);
  const auto nothing = fmt::decode_log("");
  CHECK(nothing.end == fmt::DecodeEnd::clean);
  CHECK(nothing.records.empty());
}

TEST_CASE("a file cut at any byte of its last record is a torn tail at that record") {
  std::vector<std::size_t> offsets;
  const std::string file = make_file(0, 4, &offsets);
  for (std::size_t cut = offsets[3] + 1; cut < file.size(); ++cut) {
    const auto log = fmt::decode_log(std::string_view(file).substr(0, cut));
    CAPTURE(cut);
    CHECK(log.end == fmt::DecodeEnd::torn_tail);
    CHECK(log.records.size() == 3);
    CHECK(log.valid_bytes == offsets[3]);
    CHECK(log.problem_offset == offsets[3]);
  }
  // Cut exactly between records: clean.
  CHECK(fmt::decode_log(std::string_view(file).substr(0, offsets[3])).end == fmt::DecodeEnd::clean);
}

TEST_CASE("garbage or zeros after the last record are a torn tail") {
  std::mt19937 rng(42);
  for (std::size_t extra : {1u, 5u, 47u, 48u, 49u, 200u, 4096u}) {
    std::string file = make_file(0, 3);
    const std::size_t valid = file.size();
    std::string zeros = file + std::string(extra, '\0');
    std::string noise = file;
    for (std::size_t i = 0; i < extra; ++i) noise.push_back(static_cast<char>(rng()));
    for (const std::string& f : {zeros, noise}) {
      const auto log = fmt::decode_log(f);
      CAPTURE(extra);
      CHECK(log.end == fmt::DecodeEnd::torn_tail);
      CHECK(log.records.size() == 3);
      CHECK(log.valid_bytes == valid);
    }
  }
}

TEST_CASE("any damaged byte of a middle record is corruption at that record, never a torn tail") {
  std::vector<std::size_t> offsets;
  const std::string file = make_file(0, 3, &offsets);
  for (std::size_t at = offsets[1]; at < offsets[2]; ++at) {
    std::string damaged = file;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5A);
    const auto log = fmt::decode_log(damaged);
    CAPTURE(at);
    CHECK(log.end == fmt::DecodeEnd::corrupt);
    CHECK(log.problem_offset == offsets[1]);
    CHECK(log.records.size() == 1);  // what came before is still reported
  }
}

TEST_CASE("a damaged last record: header damage or payload damage reads as a torn tail") {
  std::vector<std::size_t> offsets;
  const std::string file = make_file(0, 3, &offsets);
  for (std::size_t at = offsets[2]; at < file.size(); ++at) {
    std::string damaged = file;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x01);
    const auto log = fmt::decode_log(damaged);
    CAPTURE(at);
    CHECK(log.end == fmt::DecodeEnd::torn_tail);
    CHECK(log.valid_bytes == offsets[2]);
  }
}

TEST_CASE("records out of sequence are corruption") {
  std::string file = fmt::encode_file_header(0);
  fmt::encode_record({0, 0, 0, 0}, "a", file);
  const std::size_t second = file.size();
  fmt::encode_record({2, 0, 0, 0}, "c", file);  // 1 is missing
  fmt::encode_record({3, 0, 0, 0}, "d", file);
  const auto log = fmt::decode_log(file);
  CHECK(log.end == fmt::DecodeEnd::corrupt);
  CHECK(log.problem_offset == second);
  CHECK(log.problem == "sequence 2 where 1 was expected");
}

TEST_CASE("the file header: magic, checksum, version, and a short file") {
  const std::string good = make_file(0, 1);
  std::string not_a_journal = good;
  not_a_journal[0] = 'X';
  CHECK(fmt::decode_log(not_a_journal).problem == "not a phyx journal (no PHYXJRNL magic)");
  std::string bad_crc = good;
  bad_crc[20] ^= 1;  // inside the base sequence
  CHECK(fmt::decode_log(bad_crc).problem == "file header checksum mismatch");
  const auto short_file = fmt::decode_log(std::string_view(good).substr(0, 10));
  CHECK(short_file.end == fmt::DecodeEnd::corrupt);
  CHECK(short_file.problem_offset == 0);
  CHECK(short_file.problem == "file header cut short (10 of 32 bytes)");
}

TEST_CASE("a header whose reserved flags are set is refused even with a matching checksum") {
  // Found by the fuzzer, which forged the checksum: version 1 has no flags.
  std::string file = fmt::encode_file_header(0);
  file[24] = 1;
  const std::uint32_t crc = phyx::detail::crc32c(std::string_view(file).substr(0, 28));
  std::memcpy(file.data() + 28, &crc, 4);
  const auto log = fmt::decode_log(file);
  CHECK(log.end == fmt::DecodeEnd::corrupt);
  CHECK(log.problem_offset == 0);
  CHECK(log.problem == "unsupported journal version 1 (header size 32, flags 1)");
}
