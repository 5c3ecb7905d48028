#include "core/thread_pool.h"

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace edgefit {

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  n_threads_ = n_threads;
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_chunks() {
  for (;;) {
    const int64_t begin = next_.fetch_add(chunk_);
    if (begin >= n_) break;
    const int64_t end = std::min(n_, begin + chunk_);
    try {
      (*fn_)(begin, end);
    } catch (...) {
      std::lock_guard lock(mu_);
      if (!error_) error_ = std::current_exception();
      next_ = n_;  // stop handing out work
    }
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
    }
    run_chunks();
    std::lock_guard lock(mu_);
    if (--active_ == 0) done_cv_.notify_one();
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain,
                              const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  if (n_threads_ == 1 || n <= grain) {
    fn(0, n);
    return;
  }
  {
    std::lock_guard lock(mu_);
    fn_ = &fn;
    n_ = n;
    // About 4 chunks per thread balances uneven rows without much counter traffic.
    chunk_ = std::max(grain, (n + 4 * n_threads_ - 1) / (4 * n_threads_));
    next_ = 0;
    error_ = nullptr;
    active_ = n_threads_;  // workers + caller
    ++generation_;
  }
  wake_.notify_all();
  run_chunks();
  std::unique_lock lock(mu_);
  --active_;
  done_cv_.wait(lock, [&] { return active_ == 0; });
  fn_ = nullptr;
  if (error_) std::rethrow_exception(error_);
}

namespace {
std::unique_ptr<ThreadPool>& global_slot() {
  static std::unique_ptr<ThreadPool> pool;
  return pool;
}
}  // namespace

ThreadPool& ThreadPool::global() {
  auto& p = global_slot();
  if (!p) {
    int n = 0;
    if (const char* env = std::getenv("EDGEFIT_THREADS")) n = std::atoi(env);
    p = std::make_unique<ThreadPool>(n);
  }
  return *p;
}

void ThreadPool::set_global_threads(int n_threads) {
  global_slot() = std::make_unique<ThreadPool>(n_threads);
}

}  // namespace edgefit
