#pragma once

// One lambda per alternative of a std::variant: std::visit over them does not compile when an
// alternative has no handler, so a new kind (of command, say) cannot fall through to a handler meant
// for another.
namespace ehg::core {

template <class... Handlers>
struct Overloaded : Handlers... {
  using Handlers::operator()...;
};
template <class... Handlers>
Overloaded(Handlers...) -> Overloaded<Handlers...>;

}  // namespace ehg::core
