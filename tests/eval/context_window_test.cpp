// The default window and the beyond-the-trained-context warning (eval/context_window.h).
#include "eval/context_window.h"

#include <gtest/gtest.h>

namespace edgefit {
namespace {

TEST(ContextWindow, DefaultIsLlamaCppsFiveTwelveCappedAtTheTrainedContext) {
  EXPECT_EQ(default_context(256), 256);   // polyglot, the ref models
  EXPECT_EQ(default_context(512), 512);   // stories260K
  EXPECT_EQ(default_context(4096), 512);  // Llama-2
  EXPECT_EQ(default_context(0), 512);     // unknown
  EXPECT_EQ(resolve_context(0, 256), 256);
  EXPECT_EQ(resolve_context(128, 256), 128);
  EXPECT_EQ(resolve_context(1024, 256), 1024);  // explicit wins, with a warning
}

TEST(ContextWindow, WarnsOnlyBeyondTheTrainedContext) {
  EXPECT_FALSE(context_warning(256, 256, "--ctx"));
  EXPECT_FALSE(context_warning(4096, 0, "--ctx"));
  const auto w = context_warning(512, 256, "--context");
  ASSERT_TRUE(w);
  EXPECT_EQ(*w,
            "--context 512 exceeds the model's trained context of 256 tokens; results beyond it "
            "are not what "
            "the model learned");
}

}  // namespace
}  // namespace edgefit
