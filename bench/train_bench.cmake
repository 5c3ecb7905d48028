# Training throughput (forward + backward + AdamW tokens/s, peak RSS) on the polyglot model;
# included from bench/CMakeLists.txt. Run: build/bench/train_bench (EDGEFIT_THREADS=N to pin).
add_executable(train_bench ${CMAKE_CURRENT_LIST_DIR}/train_bench.cpp)
target_link_libraries(train_bench PRIVATE edgefit_train edgefit_methods benchmark::benchmark)
target_compile_definitions(train_bench PRIVATE EDGEFIT_SHARED_DIR="${EDGEFIT_SHARED_DIR}")
