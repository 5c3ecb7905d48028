# Kernel throughput vs memory bandwidth and int8 peak; included from bench/CMakeLists.txt.
# Run: build/bench/kernels_bench --benchmark_counters_tabular=true (EDGEFIT_ISA=avx2 etc. to force
# a lower instruction set).
add_executable(kernels_bench ${CMAKE_CURRENT_LIST_DIR}/kernels_bench.cpp)
target_link_libraries(kernels_bench PRIVATE edgefit_kernels benchmark::benchmark)
