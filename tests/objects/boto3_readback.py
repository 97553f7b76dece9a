#!/usr/bin/env python3
"""Independent read-back of what the S3 adapter wrote, with boto3 (python3-boto3).

  boto3_readback.py ENDPOINT BUCKET PREFIX EXPECTED_JSON

EXPECTED_JSON is a list of {key, size, sha256, content_type, metadata}. The script lists PREFIX
(every page, 2 keys per page so pagination is exercised), requires exactly the expected keys, reads
every object back and compares size, sha256, content type and user metadata. Then it writes
PREFIX + "from-boto3 ü.txt" (text/plain, metadata writer=boto3) for the adapter to read back.
Exit status 0 when everything matches.
"""
import hashlib
import json
import sys

import boto3
from botocore.config import Config


def main():
    endpoint, bucket, prefix, expected_path = sys.argv[1:5]
    with open(expected_path) as f:
        expected = {e["key"]: e for e in json.load(f)}
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="S3RVER",
        aws_secret_access_key="S3RVER",
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"),
    )
    failures = 0
    listed = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix,
                                                              PaginationConfig={"PageSize": 2}):
        listed += [o["Key"] for o in page.get("Contents", [])]
    if sorted(listed) != sorted(expected):
        print(f"FAIL listing: boto3 sees {sorted(listed)}, expected {sorted(expected)}")
        failures += 1
    for key, e in expected.items():
        obj = s3.get_object(Bucket=bucket, Key=key)
        h = hashlib.sha256()
        size = 0
        for chunk in obj["Body"].iter_chunks(1 << 20):
            h.update(chunk)
            size += len(chunk)
        problems = []
        if size != e["size"]:
            problems.append(f"size {size} != {e['size']}")
        if h.hexdigest() != e["sha256"]:
            problems.append("sha256 differs")
        if obj.get("ContentType") != e["content_type"]:
            problems.append(f"content type {obj.get('ContentType')!r} != {e['content_type']!r}")
        if obj.get("Metadata", {}) != e["metadata"]:
            problems.append(f"metadata {obj.get('Metadata')} != {e['metadata']}")
        if problems:
            failures += 1
            print(f"FAIL {key}: {'; '.join(problems)}")
        else:
            print(f"ok   {key} ({size} bytes)")
    s3.put_object(Bucket=bucket, Key=prefix + "from-boto3 ü.txt", Body=b"written by boto3\n",
                  ContentType="text/plain", Metadata={"writer": "boto3"})
    print(f"boto3 {boto3.__version__}: {len(expected) - failures}/{len(expected)} objects read back")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
