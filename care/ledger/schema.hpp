#pragma once

#include <span>
#include <string_view>

// The hub database's schema, owned by this library: numbered migrations, applied in order, each once,
// recorded in schema_version. Never edit a migration that has shipped; add the next one.
namespace ehg::ledger {

struct Migration {
  int version;
  std::string_view description;
  std::string_view sql;
};

std::span<const Migration> Migrations();
int LatestSchemaVersion();

// The key of the transaction-scoped advisory lock every migration run and partition change takes, so
// hub instances starting together migrate one after the other (the second finds nothing left to do).
inline constexpr long long kMigrationLock = 0x6568675f6c656467;  // "ehg_ledg"

}  // namespace ehg::ledger
