# Forward-pass throughput (prefill / decode tokens/s) on the polyglot model; included from
# bench/CMakeLists.txt. Run: build/bench/forward_bench (EDGEFIT_THREADS=N to pin the pool size).
add_executable(forward_bench ${CMAKE_CURRENT_LIST_DIR}/forward_bench.cpp)
target_link_libraries(forward_bench PRIVATE edgefit_model benchmark::benchmark)
target_compile_definitions(forward_bench PRIVATE EDGEFIT_SHARED_DIR="${EDGEFIT_SHARED_DIR}")
