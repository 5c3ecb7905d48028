# GPTQ through the layer-streaming pipeline on a TinyLlama-shaped random model: time per block
# and peak RSS; included from bench/CMakeLists.txt. Run: build/bench/gptq_bench [--layers N]
# (see the file's header for options).
add_executable(gptq_bench ${CMAKE_CURRENT_LIST_DIR}/gptq_bench.cpp)
target_link_libraries(gptq_bench PRIVATE edgefit_compress)
