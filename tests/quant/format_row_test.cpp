// One row per format: every traits row's block size and bytes are core/dtype's (the GGUF reader's
// raw table), its GPTQ grid (where it has one) describes the same type with the same sizes, and
// format_grid finds exactly the rows that carry a grid.
#include <gtest/gtest.h>

#include "core/dtype.h"
#include "quant/format_grid.h"
#include "quant/quant_traits.h"

namespace edgefit {
namespace {

TEST(FormatRow, SizesComeFromCoreAndTheGridDescribesItsRow) {
  int with_grid = 0;
  for (const QuantTraits& t : all_quant_traits()) {
    SCOPED_TRACE(std::string(dtype_name(t.type)));
    const DTypeInfo* info = dtype_info(t.type);
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(static_cast<uint32_t>(t.block_size), info->block_size);
    EXPECT_EQ(static_cast<uint32_t>(t.type_size), info->type_size);
    EXPECT_EQ(quant_traits(t.type), &t);
    EXPECT_NE(t.quantize_row, nullptr);
    EXPECT_NE(t.dequantize_row, nullptr);
    EXPECT_NE(t.vec_dot_f32, nullptr);
    const FormatGrid* g = format_grid(t.type);
    if (t.gptq_grid.decode == nullptr) {
      EXPECT_EQ(g, nullptr);
      continue;
    }
    ++with_grid;
    ASSERT_EQ(g, &t.gptq_grid);
    EXPECT_EQ(g->type, t.type);
    EXPECT_EQ(g->block_size, t.block_size);
    EXPECT_EQ(g->type_size, static_cast<size_t>(t.type_size));
    EXPECT_NE(g->pack, nullptr);
    EXPECT_LT(g->q_min, g->q_max);
  }
  // Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K … Q6_K, IQ4_NL.
  EXPECT_EQ(with_grid, 11);
  EXPECT_EQ(format_grid(DType::IQ2_XXS), nullptr);
  EXPECT_EQ(format_grid(DType::F16), nullptr);
}

}  // namespace
}  // namespace edgefit
