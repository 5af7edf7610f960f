#include "common/async_mutex.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

namespace hostgw::common {

namespace asio = boost::asio;

struct AsyncMutex::State {
  explicit State(asio::any_io_executor executor) : wakeup(std::move(executor), asio::steady_timer::time_point::max()) {}
  // Never expires: waiters wait on it and release() cancels it to wake them.
  asio::steady_timer wakeup;
  bool locked = false;
  bool closed = false;  // the AsyncMutex is gone
};

AsyncMutex::Guard::Guard(Guard&& other) noexcept : state_(std::move(other.state_)) {
  other.state_.reset();
}

AsyncMutex::Guard& AsyncMutex::Guard::operator=(Guard&& other) noexcept {
  if (this != &other) {
    release();
    state_ = std::move(other.state_);
    other.state_.reset();
  }
  return *this;
}

void AsyncMutex::Guard::release() noexcept {
  if (auto state = state_.lock()) {
    state->locked = false;
    state->wakeup.cancel();
  }
  state_.reset();
}

AsyncMutex::AsyncMutex(asio::any_io_executor executor) : state_(std::make_shared<State>(std::move(executor))) {}

AsyncMutex::~AsyncMutex() {
  state_->closed = true;
  state_->wakeup.cancel();
}

asio::awaitable<AsyncMutex::Guard> AsyncMutex::lock() {
  // A waiter keeps the state alive so it can see `closed` after the mutex is gone.
  std::shared_ptr<State> state = state_;
  while (state->locked) {
    co_await state->wakeup.async_wait(asio::as_tuple(asio::use_awaitable));
    if (state->closed) throw boost::system::system_error(asio::error::operation_aborted, "AsyncMutex destroyed");
  }
  state->locked = true;
  co_return Guard(state);
}

bool AsyncMutex::locked() const {
  return state_->locked;
}

}  // namespace hostgw::common
