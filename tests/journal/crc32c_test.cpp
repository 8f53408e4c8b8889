// CRC-32C against the published check values (RFC 3720 appendix B.4 and the common
// "123456789" check), and the piecewise continuation the record format relies on.
#include "journal/crc32c.hpp"

#include <doctest/doctest.h>

#include <string>

using phyx::detail::crc32c;

TEST_CASE("crc32c matches the standard check values") {
  CHECK(crc32c("") == 0u);
  CHECK(crc32c("123456789") == 0xE3069283u);
  CHECK(crc32c(std::string(32, '\0')) == 0x8A9136AAu);    // RFC 3720 B.4: 32 zero bytes
  CHECK(crc32c(std::string(32, '\xff')) == 0x62A8AB43u);  // 32 bytes of 0xff
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  CHECK(crc32c(ascending) == 0x46DD794Eu);  // 0x00, 0x01, ... 0x1f
}

TEST_CASE("crc32c continues across pieces, at every split point and length") {
  std::string data;
  for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>((i * 131 + 7) & 0xFF));
  for (std::size_t len = 0; len <= data.size(); len += 7) {
    const std::string_view whole(data.data(), len);
    const std::uint32_t expected = crc32c(whole);
    for (std::size_t split = 0; split <= len; split += 3)
      CHECK(crc32c(whole.substr(split), crc32c(whole.substr(0, split))) == expected);
  }
}

TEST_CASE("crc32c notices every single-bit flip") {
  std::string data = "an event: deposit 100 into account 7";
  const std::uint32_t good = crc32c(data);
  for (std::size_t byte = 0; byte < data.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      data[byte] = static_cast<char>(data[byte] ^ (1 << bit));
      CHECK(crc32c(data) != good);
      data[byte] = static_cast<char>(data[byte] ^ (1 << bit));
    }
  }
}
