#!/usr/bin/env node
// npm's install step: use the prebuilt binary that fits the libtorch on this machine
// (scripts/libtorch-runtime.js), else build from source with node-gyp. npm_config_build_from_source
// (npm install --build-from-source) always builds.
'use strict';
const path = require('path');
const { spawnSync } = require('child_process');
const { choosePrebuilt, describe } = require('./libtorch-runtime');

const root = path.resolve(__dirname, '..');
const fromSource = /^(1|true)$/i.test(process.env.npm_config_build_from_source || '');
if (!fromSource) {
  const choice = choosePrebuilt(root);
  if (choice.variant) {
    console.log(`torchbridge: using the prebuilt ${path.relative(root, choice.variant.file)} for ${describe(choice.present)}`);
    process.exit(0);
  }
  console.log(`torchbridge: ${choice.reason.split('. Build from source')[0]}; building from source`);
}
// npm hands install scripts its own node-gyp (npm_config_node_gyp), as node-gyp-build uses it
const nodeGyp = process.env.npm_config_node_gyp || require.resolve('node-gyp/bin/node-gyp.js');
const build = spawnSync(process.execPath, [nodeGyp, 'rebuild'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) {
  console.error('torchbridge: the source build failed. It needs libtorch with its headers (Debian/Ubuntu: apt-get install -y ' +
    'libtorch-dev; or pip install torch, whose libtorch is used; or export LIBTORCH=/path/to/libtorch), g++ and make.');
  process.exit(build.status || 1);
}
