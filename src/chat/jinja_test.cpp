// SPDX-License-Identifier: MIT
// Unit tests of the Jinja interpreter: whitespace control, loops, macros, filters, errors.
#include <gtest/gtest.h>

#include "chat/chat_template.h"

namespace moefit {
namespace {

std::string Render(std::string_view source, const nlohmann::ordered_json& context = nlohmann::ordered_json::object()) {
  return ChatTemplate(source).Render(context);
}

TEST(Jinja, Text) { EXPECT_EQ(Render("hello {{ 'world' }}"), "hello world"); }

}  // namespace
}  // namespace moefit
