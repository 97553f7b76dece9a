#!/usr/bin/env node
// Validates a scan bundle's reports against the official schemas: every reports/**/*.sarif.json
// against SARIF 2.1.0 (the draft-04 schema shipped in @microsoft/jest-sarif), reports/sbom/sbom.cyclonedx.json
// against CycloneDX 1.5 (@cyclonedx/cyclonedx-library), reports/sbom/sbom.spdx.json against the
// mandatory fields and formats of the SPDX 2.3 specification (no npm or Debian package ships the
// official SPDX 2.3 JSON schema, so that subset is written out below from the spec's clauses 6, 7
// and 11) plus its cross-references. The npm packages are installed into
// <prefix> on first use. Each schema must also reject a broken document, so a pass means something.
// usage: validate_bundle.js <bundle_dir> <npm_prefix>
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const [bundle, prefix] = process.argv.slice(2);
const pkgs = ['@microsoft/jest-sarif@1.0.0-beta.0', '@cyclonedx/cyclonedx-library@10.3.0', 'ajv@8.17.1',
              'ajv-formats@3.0.1', 'ajv-draft-04@1.0.0'];
const nm = path.join(prefix, 'node_modules');
const sarifSchema = path.join(nm, '@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json');
const cdxDir = path.join(nm, '@cyclonedx/cyclonedx-library/res/schema');
if (!fs.existsSync(sarifSchema) || !fs.existsSync(cdxDir) || !fs.existsSync(path.join(nm, 'ajv-formats')) ||
    !fs.existsSync(path.join(nm, 'ajv-draft-04'))) {
  fs.mkdirSync(prefix, { recursive: true });
  execFileSync('npm', ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--ignore-scripts',
                       '--omit=optional', '--no-save', ...pkgs], { stdio: ['ignore', 'ignore', 'inherit'] });
}
const Ajv = require(path.join(nm, 'ajv'));
const addFormats = require(path.join(nm, 'ajv-formats'));
const read = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));

let failed = 0, passed = 0;
function check(name, ok, detail) {
  if (ok) { passed++; console.log(`ok   ${name}`); }
  else { failed++; console.log(`FAIL ${name}${detail ? ': ' + detail : ''}`); }
}

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]);
}

// The SARIF schema is JSON Schema draft-04.
const AjvDraft04 = require(path.join(nm, 'ajv-draft-04'));
// Its language-tag pattern is not valid under the u flag, hence unicodeRegExp: false.
const ajv = new AjvDraft04({ strict: false, allErrors: true, unicodeRegExp: false });
addFormats(ajv);
const validateSarif = ajv.compile(read(sarifSchema));
const sarifs = walk(path.join(bundle, 'reports')).filter((f) => f.endsWith('.sarif.json'));
check('bundle has SARIF reports', sarifs.length > 0);
for (const f of sarifs) {
  check(`SARIF 2.1.0 schema: ${path.relative(bundle, f)}`, validateSarif(read(f)),
        JSON.stringify(validateSarif.errors, null, 1));
}
check('SARIF schema rejects a broken log', !validateSarif({ version: '2.1.0', runs: [{ tool: {} }] }));

const ajv2 = new Ajv({ strict: false, allErrors: true });
addFormats(ajv2);
ajv2.addSchema({ ...read(path.join(cdxDir, 'spdx.SNAPSHOT.schema.json')),
                 $id: 'http://cyclonedx.org/schema/spdx.SNAPSHOT.schema.json' });
ajv2.addSchema({ ...read(path.join(cdxDir, 'jsf-0.82.SNAPSHOT.schema.json')),
                 $id: 'http://cyclonedx.org/schema/jsf-0.82.SNAPSHOT.schema.json' });
const validateCdx = ajv2.compile(read(path.join(cdxDir, 'bom-1.5.SNAPSHOT.schema.json')));
const cdx = read(path.join(bundle, 'reports/sbom/sbom.cyclonedx.json'));
check('CycloneDX 1.5 schema: reports/sbom/sbom.cyclonedx.json', validateCdx(cdx),
      JSON.stringify(validateCdx.errors, null, 1));
check('CycloneDX schema rejects a broken document', !validateCdx({ ...cdx, components: [{ name: 1 }] }));

// SPDX 2.3: document creation information (clause 6), packages (clause 7), relationships (clause 11).
const spdxId = { type: 'string', pattern: '^SPDXRef-[A-Za-z0-9.-]+$' };
const noAssertionOr = (schema) => ({ anyOf: [{ enum: ['NOASSERTION', 'NONE'] }, schema] });
const validateSpdx = ajv2.compile({
  type: 'object',
  required: ['spdxVersion', 'dataLicense', 'SPDXID', 'name', 'documentNamespace', 'creationInfo'],
  properties: {
    spdxVersion: { const: 'SPDX-2.3' },
    dataLicense: { const: 'CC0-1.0' },
    SPDXID: { const: 'SPDXRef-DOCUMENT' },
    name: { type: 'string', minLength: 1 },
    documentNamespace: { type: 'string', format: 'uri', not: { pattern: '#' } },
    creationInfo: {
      type: 'object', required: ['created', 'creators'],
      properties: {
        created: { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z$' },
        creators: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^(Person|Organization|Tool): .+' } },
      },
    },
    documentDescribes: { type: 'array', items: spdxId },
    packages: {
      type: 'array',
      items: {
        type: 'object', required: ['SPDXID', 'name', 'downloadLocation'],
        properties: {
          SPDXID: spdxId,
          name: { type: 'string', minLength: 1 },
          versionInfo: { type: 'string' },
          downloadLocation: noAssertionOr({ type: 'string', minLength: 1 }),
          filesAnalyzed: { type: 'boolean' },
          licenseConcluded: { type: 'string', minLength: 1 },
          licenseDeclared: { type: 'string', minLength: 1 },
          copyrightText: { type: 'string', minLength: 1 },
          primaryPackagePurpose: { enum: ['APPLICATION', 'FRAMEWORK', 'LIBRARY', 'CONTAINER', 'OPERATING-SYSTEM',
                                          'DEVICE', 'FIRMWARE', 'SOURCE', 'ARCHIVE', 'FILE', 'INSTALL', 'OTHER'] },
          externalRefs: {
            type: 'array',
            items: {
              type: 'object', required: ['referenceCategory', 'referenceType', 'referenceLocator'],
              properties: {
                referenceCategory: { enum: ['SECURITY', 'PACKAGE-MANAGER', 'PACKAGE_MANAGER', 'PERSISTENT-ID',
                                            'PERSISTENT_ID', 'OTHER'] },
                referenceType: { type: 'string', minLength: 1 },
                referenceLocator: { type: 'string', pattern: '^\\S+$' },
              },
              if: { properties: { referenceType: { const: 'purl' } } },
              then: { properties: { referenceLocator: { pattern: '^pkg:[a-z0-9.+-]+/\\S+$' } } },
            },
          },
        },
      },
    },
    relationships: {
      type: 'array',
      items: {
        type: 'object', required: ['spdxElementId', 'relationshipType', 'relatedSpdxElement'],
        properties: { relationshipType: { type: 'string', pattern: '^[A-Z_]+$' } },
      },
    },
  },
});
const spdx = read(path.join(bundle, 'reports/sbom/sbom.spdx.json'));
check('SPDX 2.3 mandatory fields: reports/sbom/sbom.spdx.json', validateSpdx(spdx),
      JSON.stringify(validateSpdx.errors, null, 1));
const ids = new Set([spdx.SPDXID, ...(spdx.packages || []).map((p) => p.SPDXID)]);
check('SPDX ids are unique', ids.size === 1 + (spdx.packages || []).length);
const dangling = [...(spdx.documentDescribes || []),
                  ...(spdx.relationships || []).flatMap((r) => [r.spdxElementId, r.relatedSpdxElement])]
  .filter((id) => !ids.has(id) && id !== 'NOASSERTION' && id !== 'NONE');
check('SPDX relationships name elements of the document', dangling.length === 0, dangling.join(', '));
check('SPDX check rejects a broken document',
      !validateSpdx({ ...spdx, packages: [{ SPDXID: 'pkg 1', name: 'x' }] }) &&
      !validateSpdx({ ...spdx, spdxVersion: 'SPDX-2.2' }));

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
