#include <gtest/gtest.h>

#include "scanners/sbom/osv.h"
#include "scanners/sbom/version_compare.h"

using namespace secplat::scanners::sbom;

TEST(SbomVersionCompare, SemverPep440AndGeneric) {
  EXPECT_LT(compare_semver("1.2.3", "1.10.0"), 0);
  EXPECT_LT(compare_semver("1.0.0-alpha", "1.0.0"), 0);
  EXPECT_LT(compare_semver("1.0.0-alpha.2", "1.0.0-alpha.10"), 0);
  EXPECT_LT(compare_semver("1.0.0-alpha", "1.0.0-beta"), 0);
  EXPECT_EQ(compare_semver("v1.8.0", "1.8.0"), 0);
  EXPECT_EQ(compare_semver("1.0.0+build.1", "1.0.0"), 0);
  EXPECT_LT(compare_pep440("1.0.dev1", "1.0a1"), 0);
  EXPECT_LT(compare_pep440("1.0a1", "1.0b2"), 0);
  EXPECT_LT(compare_pep440("1.0rc1", "1.0"), 0);
  EXPECT_LT(compare_pep440("1.0", "1.0.post1"), 0);
  EXPECT_EQ(compare_pep440("1.0", "1.0.0"), 0);
  EXPECT_LT(compare_pep440("2.0", "1!0.5"), 0);
  EXPECT_LT(compare_pep440("4.2.1", "4.2.10"), 0);
  EXPECT_LT(compare_generic("2.0-beta9", "2.0"), 0);
  EXPECT_LT(compare_generic("2.14.1", "2.15.0"), 0);
  EXPECT_LT(compare_generic("2.0", "2.0.1"), 0);
  EXPECT_GT(compare_generic("2.0-sp1", "2.0"), 0);
}

TEST(SbomCvss, BaseScore) {
  EXPECT_DOUBLE_EQ(cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"), 10.0);
  EXPECT_DOUBLE_EQ(cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"), 9.8);
  EXPECT_DOUBLE_EQ(cvss3_base_score("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:L/A:N"), 5.4);
  EXPECT_DOUBLE_EQ(cvss3_base_score("CVSS:3.0/AV:L/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N"), 0.0);
  EXPECT_LT(cvss3_base_score("CVSS:3.1/AV:N"), 0);
  EXPECT_LT(cvss3_base_score("AV:N/AC:L/Au:N/C:P/I:P/A:P"), 0);
}

namespace {

OsvAffected affected(std::string eco, std::string name, std::vector<OsvEvent> events) {
  OsvAffected a;
  a.ecosystem = std::move(eco);
  a.name = std::move(name);
  a.ranges.push_back({"ECOSYSTEM", std::move(events)});
  return a;
}

Component comp(std::string_view eco, std::string name, std::string version) {
  Component c;
  c.ecosystem = std::string(eco);
  c.purl = make_purl(eco, name, version);
  c.name = std::move(name);
  c.version = std::move(version);
  return c;
}

}  // namespace

TEST(SbomOsvMatch, IntroducedFixedLastAffectedAndVersions) {
  using K = OsvEvent::Kind;
  auto fixed = affected("npm", "lodash", {{K::introduced, "0"}, {K::fixed, "4.17.21"}});
  EXPECT_TRUE(is_affected(fixed, "4.17.20"));
  EXPECT_TRUE(is_affected(fixed, "1.0.0"));
  EXPECT_FALSE(is_affected(fixed, "4.17.21"));  // the fixed version is not affected
  EXPECT_FALSE(is_affected(fixed, "4.18.0"));

  auto last = affected("PyPI", "django", {{K::introduced, "4.0"}, {K::last_affected, "4.2.1"}});
  EXPECT_TRUE(is_affected(last, "4.2.1"));
  EXPECT_TRUE(is_affected(last, "4.0"));
  EXPECT_FALSE(is_affected(last, "4.2.2"));
  EXPECT_FALSE(is_affected(last, "3.2.19"));

  // Two windows in one range.
  auto two = affected("Maven", "g:a", {{K::introduced, "1.0"}, {K::fixed, "1.5"}, {K::introduced, "2.0"}, {K::fixed, "2.3"}});
  EXPECT_TRUE(is_affected(two, "1.4"));
  EXPECT_FALSE(is_affected(two, "1.7"));
  EXPECT_TRUE(is_affected(two, "2.2.9"));
  EXPECT_FALSE(is_affected(two, "2.3"));

  OsvAffected listed;
  listed.ecosystem = "crates.io";
  listed.name = "smallvec";
  listed.versions = {"1.6.0", "1.6.1"};
  EXPECT_TRUE(is_affected(listed, "1.6.1"));
  EXPECT_FALSE(is_affected(listed, "1.6.2"));
  EXPECT_FALSE(is_affected(listed, ""));
}

TEST(SbomOsvMatch, DatabaseMatchesByEcosystemAndNormalisedName) {
  auto rec = parse_osv_record(R"({
    "id": "PYSEC-1", "aliases": ["CVE-2023-1"], "summary": "bad",
    "database_specific": {"severity": "MODERATE"},
    "affected": [{"package": {"ecosystem": "PyPI", "name": "Requests_OAuthlib"},
                  "ranges": [{"type": "GIT", "repo": "x", "events": [{"introduced": "abc"}]},
                             {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.3.2"}]}]}]})");
  ASSERT_TRUE(rec.ok()) << rec.error().message;
  EXPECT_EQ(rec->severity, "medium");
  EXPECT_EQ(rec->affected[0].ranges.size(), 1u);  // GIT range dropped
  OsvDatabase db;
  db.add(*rec);
  std::vector<Component> cs = {comp(kPyPI, "requests-oauthlib", "1.3.1"), comp(kPyPI, "requests-oauthlib", "1.3.2"),
                               comp(kNpm, "requests-oauthlib", "1.0.0"), comp(kPyPI, "requests-oauthlib", "")};
  auto m = db.match(cs);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].purl, "pkg:pypi/requests-oauthlib@1.3.1");
  EXPECT_EQ(m[0].record->id, "PYSEC-1");
  EXPECT_FALSE(parse_osv_record("{\"id\": ").ok());
  EXPECT_FALSE(parse_osv_record("{\"summary\": \"no id\"}").ok());
}
