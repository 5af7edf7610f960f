#pragma once

// AsyncMutex: mutual exclusion between coroutines of one io_context (one
// thread): lock() suspends the caller until no Guard is held, then hands it
// one. It owns a wake-up timer; it never blocks a thread and is not meant for
// several threads.
//
// A Guard may outlive its mutex: releasing it then does nothing. That is what
// happens when a coroutine suspended while holding the lock is destroyed with
// the io_context after the object owning the mutex (a netlink socket, the API
// client) is gone. Coroutines still waiting when the mutex is destroyed resume
// with a boost::system::system_error (operation_aborted).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <memory>

namespace hostgw::common {

class AsyncMutex {
  struct State;

 public:
  // Holds the lock until destroyed, moved from, or release()d.
  class Guard {
   public:
    Guard() = default;
    Guard(Guard&& other) noexcept;
    Guard& operator=(Guard&& other) noexcept;
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() { release(); }

    void release() noexcept;
    bool holds() const { return !state_.expired(); }

   private:
    friend class AsyncMutex;
    explicit Guard(std::weak_ptr<State> state) : state_(std::move(state)) {}
    std::weak_ptr<State> state_;
  };

  explicit AsyncMutex(boost::asio::any_io_executor executor);
  ~AsyncMutex();
  AsyncMutex(const AsyncMutex&) = delete;
  AsyncMutex& operator=(const AsyncMutex&) = delete;

  // Waits until the mutex is free and takes it. First come is not guaranteed
  // first served: every waiter wakes on release and the first to run wins.
  boost::asio::awaitable<Guard> lock();
  bool locked() const;

 private:
  std::shared_ptr<State> state_;
};

}  // namespace hostgw::common
