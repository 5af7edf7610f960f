#pragma once

// EventLoop: the daemon's io_context (one thread), with the shutdown order
// made explicit. Handlers still pending when the loop stops — a coroutine
// suspended in a netlink request, cut off after the grace period — hold
// references to the objects they run on (a socket, its lock). Destroying the
// io_context after those objects would unwind those frames against freed
// memory. PendingFirst, declared after every object the handlers use,
// destroys the pending handlers before any of those objects go, on every
// return path; the io_context itself goes last.
//
// Must be used from one thread.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <optional>

namespace hostgw::controller {

class EventLoop : public boost::asio::io_context {
 public:
  using Clock = std::chrono::steady_clock;

  EventLoop() : boost::asio::io_context(1) {}

  enum class Ended { done, cut_off };
  // Runs until no work is left, or until `cut_off` has passed since the time
  // `stop_requested()` returns (nullopt: no stop asked for yet). It is asked
  // after every handler, so a handler sets the stop; an idle loop sleeps in
  // the kernel until its next event or timer (no polling).
  Ended run_until_done(const std::function<std::optional<Clock::time_point>()>& stop_requested,
                       std::chrono::milliseconds cut_off);

  // Destroys every handler that has not run (suspended coroutine frames
  // included, so their local guards run now). The loop cannot run again.
  void destroy_pending() { shutdown(); }

  // Calls destroy_pending() when it goes out of scope.
  class PendingFirst {
   public:
    explicit PendingFirst(EventLoop& loop) : loop_(loop) {}
    ~PendingFirst() { loop_.destroy_pending(); }
    PendingFirst(const PendingFirst&) = delete;
    PendingFirst& operator=(const PendingFirst&) = delete;

   private:
    EventLoop& loop_;
  };
};

}  // namespace hostgw::controller
