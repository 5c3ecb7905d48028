# Tokenizer throughput (tokens/s, MB/s) on the 12-language NTREX-128 eval text, single thread;
# included from bench/CMakeLists.txt. Run: build/bench/tokenizer_bench
find_package(ZLIB REQUIRED)
add_executable(tokenizer_bench ${CMAKE_CURRENT_LIST_DIR}/tokenizer_bench.cpp)
target_link_libraries(tokenizer_bench PRIVATE edgefit_tokenizer benchmark::benchmark ZLIB::ZLIB)
target_compile_definitions(tokenizer_bench PRIVATE
  EDGEFIT_SHARED_DIR="${EDGEFIT_SHARED_DIR}" EDGEFIT_BINARY_DIR="${CMAKE_BINARY_DIR}")
