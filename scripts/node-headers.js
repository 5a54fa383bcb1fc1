// The directory holding this Node's own headers (include/node), so that node-gyp builds
// without downloading them: npm_config_nodedir when set, else the prefix of the running node.
'use strict';
const fs = require('fs');
const path = require('path');

function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) return prefix;
  return undefined;
}

module.exports = { nodeDir };
