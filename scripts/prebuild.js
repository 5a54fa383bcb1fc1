#!/usr/bin/env node
// Builds the prebuilt binary: prebuildify --napi --strip for the running Node version (its own
// headers, no download) -> prebuilds/linux-x64/torchbridge.node, plus libtorch.json beside
// it recording which libtorch the binary links against (the loader reports it).
// prebuildify moves the binary out of build/Release; a relink (the objects are up to date)
// puts the unstripped source build back, so both stay loadable.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { nodeDir } = require('./node-headers');

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

const target = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const info = path.join(root, 'build', 'libtorch.json');
if (!fs.existsSync(info)) {
  console.error('prebuild: build/libtorch.json is missing: the build did not record its libtorch');
  process.exit(1);
}
fs.copyFileSync(info, path.join(target, 'libtorch.json.tmp'));
fs.renameSync(path.join(target, 'libtorch.json.tmp'), path.join(target, 'libtorch.json'));
console.log(`prebuild: ${fs.readdirSync(target).join(', ')} in ${path.relative(root, target)}`);

const relink = spawnSync(process.execPath, [require.resolve('node-gyp/bin/node-gyp.js'), 'build'], { cwd: root, env, stdio: 'inherit' });
if (relink.status !== 0) {
  console.error('prebuild: relinking build/Release failed');
  process.exit(relink.status || 1);
}
