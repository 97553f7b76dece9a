// Publishing a scan bundle to an OCI registry as one artifact, signed the way cosign signs images,
// and reading it back with every digest and the signature checked.
//
// Layout in the repository (everything addressed by digest; tags only name digests):
//   <tag>                 image manifest, artifactType application/vnd.secplat.scan-bundle.v1,
//                         config application/vnd.secplat.scan-bundle.config.v1+json
//                         ({"test_id","created","files"}), one layer per bundle file with
//                         annotation org.opencontainers.image.title = its relative path.
//   sha256-<hex>.sig      cosign signature image: one layer per signature, each the simple-signing
//                         payload (application/vnd.dev.cosign.simplesigning.v1+json) with
//                         annotation dev.cosignproject.cosign/signature = base64 ECDSA signature.
//   sha256-<hex>.att      cosign attestation image: the bundle's DSSE envelope as a layer
//                         (application/vnd.dsse.envelope.v1+json) annotated with its predicateType.
//
// Order of a push (fail closed): every file is re-hashed and compared with the digest the trust
// gate verified before the first byte is sent; then blobs, the manifest by digest (untagged), the
// signature and attestation, and only then the tag. A push that fails midway leaves at most
// unreferenced blobs or an untagged manifest, never a tag pointing at an unsigned bundle.
//
// Pushing the same bundle again is idempotent: same manifest digest, blobs already present are
// skipped, and a signature by the same key that already verifies is kept instead of adding another.
//
// Threading: free functions; thread-safe as far as OciRegistry is. They block on network I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "objects/oci_registry.h"

namespace secplat::objects {

inline constexpr const char* kBundleArtifactType = "application/vnd.secplat.scan-bundle.v1";
inline constexpr const char* kBundleConfigType = "application/vnd.secplat.scan-bundle.config.v1+json";
inline constexpr const char* kTitleAnnotation = "org.opencontainers.image.title";

// One bundle file as the trust gate verified it.
struct BundleLayer {
  std::string path;        // relative, '/'-separated, no "." / ".." components
  std::string sha256_hex;  // 64 lower-case hex digits
  int64_t size = 0;
  std::string media_type;  // "" = application/octet-stream
};

struct BundleSigning {
  std::string private_pem;            // P-256 PKCS#8 (crypto/ecdsa.h); required
  std::string attestation_dsse_json;  // the bundle's DSSE envelope, exact bytes; "" = no .att
};

// Optional manifest metadata. `created` (RFC 3339) defaults to the newest mtime among the files,
// so re-pushing an unchanged bundle gives the same manifest digest.
struct BundleInfo {
  std::string test_id;
  std::string created;
};

struct PushedBundle {
  std::string reference;        // host/repo@sha256:...
  std::string manifest_digest;  // sha256:...
  std::string signature_tag;    // sha256-<hex>.sig
  std::string attestation_tag;  // sha256-<hex>.att, "" when there is none
};

// Errors: Errc::bad_request for invalid names, paths, keys or a malformed attestation;
// Errc::conflict naming every file whose content no longer matches `files` (nothing is pushed);
// Errc::not_found for a missing file; otherwise OciRegistry's errors.
Result<PushedBundle> push_bundle(OciRegistry& registry, const std::string& repo, const std::string& tag,
                                 const std::string& bundle_dir, const std::vector<BundleLayer>& files,
                                 const BundleSigning& signing, const BundleInfo& info = {});

struct VerifiedBundle {
  PushedBundle bundle;
  std::vector<Descriptor> layers;  // manifest order; annotations carry the title
  std::string test_id;             // from the config blob
  std::string predicate_type;      // of the attestation, "" when there is none
  bool attestation_verified = false;  // the DSSE envelope verifies with the same public key
};

// Pulls the manifest by digest, the config and every layer (streamed, each digest checked), and
// requires at least one signature in the .sig image over a simple-signing payload that names this
// host/repo and digest and verifies with `public_pem`. Errc::bad_request says what does not match;
// Errc::not_found when the bundle or its signature is missing.
Result<VerifiedBundle> verify_pushed_bundle(OciRegistry& registry, const std::string& repo,
                                            const std::string& manifest_digest, const std::string& public_pem);

// Resolves `tag` to the bundle's digest and names the attachments that exist (nothing verified).
Result<PushedBundle> find_bundle(OciRegistry& registry, const std::string& repo, const std::string& tag);

// The content of the layer titled `title` (org.opencontainers.image.title, as `oras push` and
// push_bundle write it) in the image manifest at `reference` (tag or digest), digest-checked.
// Errc::not_found when no layer has that title; Errc::too_large above `max_bytes`.
Result<std::string> pull_file_artifact(OciRegistry& registry, const std::string& repo, const std::string& reference,
                                       const std::string& title, std::size_t max_bytes = 16u << 20);

// "sha256:<hex>" -> "sha256-<hex>.sig" / ".att" (cosign's tag scheme).
std::string cosign_signature_tag(const std::string& digest);
std::string cosign_attestation_tag(const std::string& digest);

// The exact bytes cosign signs for an image: {"critical":{"identity":{"docker-reference":...},
// "image":{"docker-manifest-digest":...},"type":"cosign container image signature"},"optional":null}
std::string simple_signing_payload(const std::string& docker_reference, const std::string& digest);

}  // namespace secplat::objects
