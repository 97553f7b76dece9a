#!/usr/bin/env node
// Schema test: runs the real scanner (sbom_cli) over fixtures/tree and validates the CycloneDX
// output against the official CycloneDX 1.5 JSON schema shipped by @cyclonedx/cyclonedx-library
// (installed from npm into <build>/npm-schemas on first run), using ajv + ajv-formats.
// SPDX: no npm package ships the SPDX 2.3 JSON schema, so the SPDX document is checked against the
// spec's required fields instead (set SPDX23_SCHEMA=/path/spdx-schema.json to validate fully).
// usage: validate_schemas.js <sbom_cli> <fixtures_dir> <build_dir>
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const [cli, fixtures, buildDir] = process.argv.slice(2);
const prefix = path.join(buildDir, 'npm-schemas');
const pkgs = ['@cyclonedx/cyclonedx-library@10.3.0', 'ajv@8.17.1', 'ajv-formats@3.0.1'];
const schemaDir = path.join(prefix, 'node_modules/@cyclonedx/cyclonedx-library/res/schema');
if (!fs.existsSync(path.join(schemaDir, 'bom-1.5.SNAPSHOT.schema.json')) ||
    !fs.existsSync(path.join(prefix, 'node_modules/ajv-formats'))) {
  fs.mkdirSync(prefix, { recursive: true });
  execFileSync('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--ignore-scripts',
                       '--omit=optional', '--no-save', ...pkgs], { stdio: 'inherit' });
}
const Ajv = require(path.join(prefix, 'node_modules/ajv'));
const addFormats = require(path.join(prefix, 'node_modules/ajv-formats'));

let failed = 0, passed = 0;
function check(name, ok, detail) {
  if (ok) { passed++; console.log(`ok   ${name}`); }
  else { failed++; console.log(`FAIL ${name}${detail ? ': ' + detail : ''}`); }
}

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'sbom-schema-'));
try {
  const outcome = JSON.parse(execFileSync(cli, [path.join(fixtures, 'tree'), out, path.join(fixtures, 'osv')],
                                          { encoding: 'utf8' }));
  check('scan succeeded despite a malformed lockfile', outcome.status === 'succeeded', JSON.stringify(outcome));
  const cdx = JSON.parse(fs.readFileSync(path.join(out, 'reports/sbom/sbom.cyclonedx.json'), 'utf8'));
  const spdx = JSON.parse(fs.readFileSync(path.join(out, 'reports/sbom/sbom.spdx.json'), 'utf8'));

  const load = (f) => JSON.parse(fs.readFileSync(path.join(schemaDir, f), 'utf8'));
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  // bom-1.5 refers to its siblings by their SNAPSHOT file names; register them under those URIs.
  ajv.addSchema({ ...load('spdx.SNAPSHOT.schema.json'), $id: 'http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json' });
  ajv.addSchema({ ...load('jsf-0.82.SNAPSHOT.schema.json'), $id: 'http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json' });
  const validateCdx = ajv.compile(load('bom-1.5.SNAPSHOT.schema.json'));
  check('CycloneDX 1.5 schema', validateCdx(cdx), JSON.stringify(validateCdx.errors, null, 1));
  check('CycloneDX has vulnerabilities', Array.isArray(cdx.vulnerabilities) && cdx.vulnerabilities.length === 2,
        JSON.stringify(cdx.vulnerabilities));
  // A broken document must fail, or the validation above proves nothing.
  check('CycloneDX schema rejects a bad document', !validateCdx({ ...cdx, specVersion: 1.5, components: [{ name: 1 }] }));

  if (process.env.SPDX23_SCHEMA) {
    const ajv2 = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv2);
    const v = ajv2.compile(JSON.parse(fs.readFileSync(process.env.SPDX23_SCHEMA, 'utf8')));
    check('SPDX 2.3 schema', v(spdx), JSON.stringify(v.errors, null, 1));
  } else {
    console.log('note: SPDX 2.3 JSON schema is not available from npm; checking required fields only');
  }
  const ids = new Set();
  let spdxOk = spdx.spdxVersion === 'SPDX-2.3' && spdx.dataLicense === 'CC0-1.0' && spdx.SPDXID === 'SPDXRef-DOCUMENT' &&
      typeof spdx.name === 'string' && /^[a-z]+:\/\/\S+$/.test(spdx.documentNamespace) &&
      !isNaN(Date.parse(spdx.creationInfo.created)) && /^Tool: secplat-sbom-/.test(spdx.creationInfo.creators[0]);
  for (const p of spdx.packages) {
    spdxOk = spdxOk && /^SPDXRef-[A-Za-z0-9.-]+$/.test(p.SPDXID) && !ids.has(p.SPDXID) && typeof p.name === 'string' &&
        p.downloadLocation === 'NOASSERTION' && p.filesAnalyzed === false;
    ids.add(p.SPDXID);
  }
  for (const r of spdx.relationships) {
    spdxOk = spdxOk && (ids.has(r.spdxElementId) || r.spdxElementId === 'SPDXRef-DOCUMENT') && ids.has(r.relatedSpdxElement);
  }
  check('SPDX 2.3 required fields and ids', spdxOk);
  check('SPDX package count = CycloneDX components + root', spdx.packages.length === cdx.components.length + 1);
} finally {
  fs.rmSync(out, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
