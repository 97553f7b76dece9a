// A local OSV (https://ossf.github.io/osv-schema/) database: a directory of JSON records, one per
// file (a file holding a JSON array of records is accepted too). Only what matching needs is kept.
//
// Threading: an OsvDatabase is immutable after load; match() may be called from many threads.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "scanners/sbom/component.h"

namespace secplat::scanners::sbom {

struct OsvEvent {
  enum class Kind { introduced, fixed, last_affected } kind;
  std::string version;  // introduced "0" means "from the beginning"
};

struct OsvRange {
  std::string type;  // "ECOSYSTEM" or "SEMVER" (GIT ranges are dropped at load)
  std::vector<OsvEvent> events;
};

struct OsvAffected {
  std::string ecosystem;  // e.g. "npm", "PyPI", "Go", "Maven", "crates.io"
  std::string name;
  std::vector<OsvRange> ranges;
  std::vector<std::string> versions;  // explicit affected versions
};

struct OsvRecord {
  std::string id;
  std::vector<std::string> aliases;
  std::string summary;
  std::string severity;     // "critical","high","medium","low"; "" when the record gives none
  double score = -1;        // CVSS base score when computable, else -1
  std::string cvss_vector;  // e.g. "CVSS:3.1/AV:N/..." or ""
  std::vector<OsvAffected> affected;
};

// Parses one OSV record (a JSON object). Malformed → Errc::bad_request.
Result<OsvRecord> parse_osv_record(std::string_view json_text);

// CVSS v3.x base score from a vector string ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
// or -1 when the vector is not a complete v3 vector.
double cvss3_base_score(std::string_view vector);

// True when `version` of package (ecosystem, name) is affected per `a` (ranges or versions list).
bool is_affected(const OsvAffected& a, std::string_view version);

struct VulnMatch {
  const OsvRecord* record;  // points into the OsvDatabase
  std::string purl;         // the affected component
};

class OsvDatabase {
 public:
  // Loads every *.json under `dir` (recursively). Unreadable/malformed files are reported through
  // `warn` and skipped; a missing directory is an error.
  static Result<OsvDatabase> load(const std::string& dir,
                                  const std::function<void(std::string_view)>& warn);
  void add(OsvRecord r);
  size_t size() const { return records_.size(); }

  // Matches for the components, ordered by (purl, record id). Components without a version never
  // match.
  std::vector<VulnMatch> match(const std::vector<Component>& components) const;

 private:
  std::vector<OsvRecord> records_;
};

}  // namespace secplat::scanners::sbom
