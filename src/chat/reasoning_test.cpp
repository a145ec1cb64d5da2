// SPDX-License-Identifier: MIT
// ReasoningSplitter: the split of whole texts, and the same split for every chunking.
#include "chat/reasoning.h"

#include <gtest/gtest.h>

namespace moefit {
namespace {

struct Split {
  std::string reasoning, content;
  bool operator==(const Split&) const = default;
};

void PrintTo(const Split& split, std::ostream* os) { *os << "{reasoning: \"" << split.reasoning << "\", content: \"" << split.content << "\"}"; }

Split Run(const std::vector<std::string_view>& chunks, ReasoningOptions options = {}) {
  ReasoningSplitter splitter(options);
  Split split;
  for (std::string_view chunk : chunks) {
    const ReasoningDelta delta = splitter.Push(chunk);
    split.reasoning += delta.reasoning;
    split.content += delta.content;
  }
  const ReasoningDelta last = splitter.Finish();
  split.reasoning += last.reasoning;
  split.content += last.content;
  return split;
}

// The whole text, every two-chunk split and byte-by-byte all give the same split.
Split RunAllChunkings(std::string_view text, ReasoningOptions options = {}) {
  const Split whole = Run({text}, options);
  for (size_t cut = 0; cut <= text.size(); ++cut)
    EXPECT_EQ(Run({text.substr(0, cut), text.substr(cut)}, options), whole) << "cut at " << cut;
  std::vector<std::string_view> bytes;
  for (size_t i = 0; i < text.size(); ++i) bytes.push_back(text.substr(i, 1));
  EXPECT_EQ(Run(bytes, options), whole) << "byte by byte";
  return whole;
}

TEST(PartialMarkerSuffix, LongestPrefixOfAnyMarker) {
  EXPECT_EQ(PartialMarkerSuffix("abc</thi", {"</think>"}), 5u);
  EXPECT_EQ(PartialMarkerSuffix("abc<", {"</think>", "<tool_call>"}), 1u);
  EXPECT_EQ(PartialMarkerSuffix("abc", {"</think>"}), 0u);
  EXPECT_EQ(PartialMarkerSuffix("</think>", {"</think>"}), 0u);  // a whole marker is not partial
  EXPECT_EQ(PartialMarkerSuffix("", {"</think>"}), 0u);
}

TEST(ReasoningSplitter, QwenThinkingBlock) {
  EXPECT_EQ(RunAllChunkings("<think>\nThe user greets me.\nI greet back.\n</think>\n\nHello there!"),
            (Split{"The user greets me.\nI greet back.", "Hello there!"}));
}

TEST(ReasoningSplitter, NoReasoningIsAllContent) {
  EXPECT_EQ(RunAllChunkings("Hello <think> is just text"), (Split{"", "Hello <think> is just text"}));
  EXPECT_EQ(RunAllChunkings("  indented answer"), (Split{"", "  indented answer"}));
  EXPECT_EQ(RunAllChunkings("<thi"), (Split{"", "<thi"}));
}

TEST(ReasoningSplitter, EmptyThinkingBlock) {
  EXPECT_EQ(RunAllChunkings("<think>\n\n</think>\n\nThe answer."), (Split{"", "The answer."}));
}

TEST(ReasoningSplitter, UnclosedReasoningIsAllReasoning) {
  EXPECT_EQ(RunAllChunkings("<think>\nStill thinking when the tokens ran out  "), (Split{"Still thinking when the tokens ran out", ""}));
  EXPECT_EQ(RunAllChunkings("<think>\nalmost closed </thi"), (Split{"almost closed </thi", ""}));
}

TEST(ReasoningSplitter, PromptOpenedTheReasoning) {
  const ReasoningOptions inside{.start_inside = true};
  EXPECT_EQ(RunAllChunkings("\nfirst thought\n</think>\n\nanswer", inside), (Split{"first thought", "answer"}));
  EXPECT_EQ(RunAllChunkings("thought without end", inside), (Split{"thought without end", ""}));
}

TEST(ReasoningSplitter, MarkersInsideTheTextStayText) {
  EXPECT_EQ(RunAllChunkings("<think>a < b and c </ d</think>x </think> y"), (Split{"a < b and c </ d", "x </think> y"}));
}

TEST(ReasoningSplitter, StreamsReasoningBeforeItCloses) {
  ReasoningSplitter splitter;
  EXPECT_EQ(splitter.Push("<think>\nfirst").reasoning, "first");
  EXPECT_EQ(splitter.Push(" second \n").reasoning, " second");  // trailing space waits
  EXPECT_EQ(splitter.Push("third</").reasoning, " \nthird");
  const ReasoningDelta closing = splitter.Push("think>\n\nDone");
  EXPECT_EQ(closing.reasoning, "");
  EXPECT_EQ(closing.content, "Done");
  EXPECT_TRUE(splitter.Finish().empty());
}

TEST(ReasoningSplitter, UnicodeAroundMarkers) {
  EXPECT_EQ(RunAllChunkings("<think>héllo → 世界</think>日本語 ✓"), (Split{"héllo → 世界", "日本語 ✓"}));
}

}  // namespace
}  // namespace moefit
