// SPDX-License-Identifier: MIT
// Sizes and budgets as typed on the command line; bad strings are errors, never silent caps.
#include "plan/byte_size.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace moefit {
namespace {

TEST(ByteSize, ParsesBinaryUnits) {
  EXPECT_EQ(ParseByteSize("18G"), 18ull << 30);
  EXPECT_EQ(ParseByteSize("18g"), 18ull << 30);
  EXPECT_EQ(ParseByteSize("18GiB"), 18ull << 30);
  EXPECT_EQ(ParseByteSize("18GB"), 18ull << 30);
  EXPECT_EQ(ParseByteSize("512M"), 512ull << 20);
  EXPECT_EQ(ParseByteSize("64K"), 64ull << 10);
  EXPECT_EQ(ParseByteSize("1T"), 1ull << 40);
  EXPECT_EQ(ParseByteSize("1.5G"), 3ull << 29);
  EXPECT_EQ(ParseByteSize(" 2G "), 2ull << 30);
  EXPECT_EQ(ParseByteSize("2 G"), 2ull << 30);
  EXPECT_EQ(ParseByteSize("17179869184"), 17179869184ull);
  EXPECT_EQ(ParseByteSize("100B"), 100u);
  EXPECT_EQ(ParseByteSize("0"), 0u);
}

TEST(ByteSize, RejectsBadStrings) {
  for (const char* bad : {"", " ", "abc", "G", "-1G", "+1G", "12X", "1.2.3G", "nan", "inf", "1e9", "12GG", "0x10",
                          "99999999999T", ".G", "1,5G"}) {
    EXPECT_THROW(ParseByteSize(bad), Error) << "'" << bad << "'";
  }
}

TEST(ByteSize, ErrorSaysWhatIsWrong) {
  try {
    ParseByteSize("12X");
    FAIL();
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("12X"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("unit"), std::string::npos);
  }
}

TEST(BudgetSpec, FractionsAndBytes) {
  const BudgetSpec fraction = ParseBudgetSpec("0.8");
  ASSERT_TRUE(fraction.fraction.has_value());
  EXPECT_DOUBLE_EQ(*fraction.fraction, 0.8);
  EXPECT_EQ(fraction.Resolve(1000), 800u);
  EXPECT_EQ(ParseBudgetSpec("1").Resolve(12345), 12345u);
  EXPECT_EQ(ParseBudgetSpec("0").Resolve(12345), 0u);
  EXPECT_EQ(ParseBudgetSpec("18G").Resolve(1), 18ull << 30) << "bytes do not depend on the device";
  EXPECT_EQ(ParseBudgetSpec("4096").Resolve(1), 4096u);
  EXPECT_FALSE(BudgetSpec{}.given());
  EXPECT_EQ(BudgetSpec{}.Resolve(777), 777u) << "no budget: the whole device";
  EXPECT_THROW(ParseBudgetSpec("1.5"), Error) << "ambiguous: neither a fraction nor a size";
  EXPECT_THROW(ParseBudgetSpec("-0.5"), Error);
  EXPECT_THROW(ParseBudgetSpec("0.8x"), Error);
}

TEST(ByteSize, Formats) {
  EXPECT_EQ(FormatByteSize(512), "512 B");
  EXPECT_EQ(FormatByteSize(18ull << 30), "18.00 GiB");
  EXPECT_EQ(FormatByteSize(1536ull << 20), "1.50 GiB");
  EXPECT_EQ(FormatThousands(40960), "40,960");
  EXPECT_EQ(FormatThousands(512), "512");
}

}  // namespace
}  // namespace moefit
