#pragma once

#include <span>
#include <string_view>

namespace ehg::store {

// The migration that brings a database from version N-1 to N is element N-1. Each is applied inside the
// same transaction as the others and the user_version update. Never edit a released migration: add one.
std::span<const std::string_view> Migrations();

}  // namespace ehg::store
