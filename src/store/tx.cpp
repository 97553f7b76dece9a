#include <string>

#include "store/db.h"

namespace secplat::store {

Result<std::optional<int64_t>> Tx::insert_id(std::string_view sql, const Params& params, std::string_view id_column) {
  std::string returning;
  returning.reserve(sql.size() + id_column.size() + 11);
  returning.append(sql).append(" RETURNING ").append(id_column);
  auto rows = query(returning, params);
  if (!rows.ok()) return std::move(rows).take_error();
  if (rows->empty()) return std::optional<int64_t>();
  return std::optional<int64_t>(rows->front().i64(id_column));
}

Result<std::optional<uint64_t>> Tx::change_stamp(std::string_view) { return std::optional<uint64_t>(); }

}  // namespace secplat::store
