// s3:// and oci:// manifest sources, behind allow-lists so a scan request cannot read arbitrary
// objects with the instance's storage credentials:
//   s3://BUCKET/KEY                         BUCKET in assurance.manifest_s3_buckets, on s3.endpoint
//   oci://HOST[:PORT]/REPO[:TAG|@DIGEST][#TITLE]
//                                           HOST[:PORT] = oci.registry, REPO in
//                                           assurance.manifest_oci_repositories; the file is the
//                                           artifact layer titled TITLE (org.opencontainers.image.title;
//                                           default manifest.json, or manifest.sig for a signature URI),
//                                           its digest checked, no Docker involved.
// Threading: thread-safe (the adapters are).
#pragma once

#include <string>
#include <vector>

#include "assurance/manifest.h"

namespace secplat::objects {
class ObjectStore;
class OciRegistry;
}  // namespace secplat::objects

namespace secplat::assurance {

class ObjectManifestSource final : public RemoteManifestSource {
 public:
  // s3 / oci may be null (that scheme is then refused).
  ObjectManifestSource(objects::ObjectStore* s3, objects::OciRegistry* oci, std::string oci_registry,
                       std::vector<std::string> s3_buckets, std::vector<std::string> oci_repositories);
  std::string refusal(const std::string& field, const std::string& uri) const override;
  Result<std::string> fetch(const std::string& uri, bool signature, std::size_t max_bytes) override;

 private:
  objects::ObjectStore* s3_;
  objects::OciRegistry* oci_;
  std::string registry_;
  std::vector<std::string> buckets_;
  std::vector<std::string> repositories_;
};

}  // namespace secplat::assurance
