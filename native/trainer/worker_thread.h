// A persistent thread that runs submitted jobs in order (the trainer's replicas each own one).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "core/omp_pool.h"

namespace tb {

// A persistent thread that runs submitted jobs in order. Each replica's work runs on its own
// such thread, step after step: glibc's malloc gives every thread its own arena, so work that
// hopped between libuv's pool threads (or fresh threads per step) kept several arenas' worth of
// freed activations mapped (twice the RSS of PyTorch's loop) and faulted in new pages each step.
// A thread idle for 50 ms gives back its OpenMP team (core/omp_pool.h), so that an idle
// Trainer's team does not throttle another's.
class WorkerThread {
 public:
  WorkerThread() : thread_([this] { loop(); }) {}
  WorkerThread(const WorkerThread&) = delete;
  WorkerThread& operator=(const WorkerThread&) = delete;
  ~WorkerThread() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

  // Queues `job`; the future reports its end (and rethrows what it threw).
  std::future<void> submit(std::function<void()> job) {
    std::packaged_task<void()> task(std::move(job));
    std::future<void> done = task.get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      jobs_.push_back(std::move(task));
    }
    wake_.notify_one();
    return done;
  }

 private:
  void loop() {
    for (;;) {
      std::packaged_task<void()> task;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        task = std::move(jobs_.front());
        jobs_.pop_front();
      }
      task();
      // idle for kTeamRelease with nothing queued: give the OpenMP team back (not between the
      // steps of a running loop, where a new team each step would cost 15% of a bert.small step)
      std::unique_lock<std::mutex> lock(mutex_);
      if (!wake_.wait_for(lock, kTeamRelease, [this] { return stopping_ || !jobs_.empty(); })) {
        lock.unlock();
        releaseOmpTeamOfThisThread();
      }
    }
  }

  static constexpr std::chrono::milliseconds kTeamRelease{50};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::packaged_task<void()>> jobs_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members it uses exist
};

}  // namespace tb
