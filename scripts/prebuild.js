#!/usr/bin/env node
// Builds the prebuilt binary: prebuildify --napi --strip for the running Node version (its own
// headers, no download), moved into the directory of its libtorch,
// prebuilds/linux-x64/libtorch-<version>-<cpu|cuda>-abi<N>/torchbridge.node, with libtorch.json
// beside it recording which libtorch it links against. One such variant per libtorch: the loader
// (scripts/libtorch-runtime.js) picks the one that fits the libtorch present at run time.
// prebuildify moves the binary out of build/Release; a relink (the objects are up to date)
// puts the unstripped source build back, so both stay loadable.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { nodeDir } = require('./node-headers');
const { prebuildDir, variantName } = require('./libtorch-runtime');

const root = path.resolve(__dirname, '..');
const env = { ...process.env };
const dir = nodeDir();
if (dir) env.npm_config_nodedir = dir;
else console.warn('prebuild: no local Node headers found; node-gyp will try to download them');

const prebuildify = require.resolve('prebuildify/bin.js');
const result = spawnSync(process.execPath, [prebuildify, '--napi', '--strip', '--target', `node@${process.versions.node}`], {
  cwd: root,
  env,
  stdio: 'inherit',
});
if (result.status !== 0) {
  console.error(`prebuild: prebuildify failed (exit ${result.status})`);
  process.exit(result.status || 1);
}

const target = prebuildDir(root);
const infoFile = path.join(root, 'build', 'libtorch.json');
if (!fs.existsSync(infoFile)) {
  console.error('prebuild: build/libtorch.json is missing: the build did not record its libtorch');
  process.exit(1);
}
const info = JSON.parse(fs.readFileSync(infoFile, 'utf8'));
const made = fs.readdirSync(target).filter((f) => f.endsWith('.node')).map((f) => path.join(target, f));
if (made.length !== 1) {
  console.error(`prebuild: expected one new binary in ${path.relative(root, target)}, found ${made.length}`);
  process.exit(1);
}
const variant = path.join(target, variantName(info));
fs.mkdirSync(variant, { recursive: true });
fs.copyFileSync(infoFile, path.join(variant, 'libtorch.json.tmp'));
fs.renameSync(made[0], path.join(variant, 'torchbridge.node'));
fs.renameSync(path.join(variant, 'libtorch.json.tmp'), path.join(variant, 'libtorch.json'));
console.log(`prebuild: ${path.relative(root, path.join(variant, 'torchbridge.node'))} (libtorch ${info.libtorch}, ${info.cuda ? 'CUDA' : 'CPU'}, ABI ${info.abi})`);

const relink = spawnSync(process.execPath, [require.resolve('node-gyp/bin/node-gyp.js'), 'build'], { cwd: root, env, stdio: 'inherit' });
if (relink.status !== 0) {
  console.error('prebuild: relinking build/Release failed');
  process.exit(relink.status || 1);
}
