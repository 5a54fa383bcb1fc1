#!/usr/bin/env node
// Finds the libtorch to build against, for both builds (binding.gyp and CMakeLists.txt).
// Order: LIBTORCH (an unpacked libtorch) -> Torch_DIR (a directory holding TorchConfig.cmake)
// -> the libtorch inside python3's torch package (how GPU machines with PyTorch get a CUDA
// build) -> Debian's libtorch-dev under /usr (CPU only).
//
//   node scripts/find-libtorch.js                 prints what was found
//   node scripts/find-libtorch.js --json          the same as JSON
//   node scripts/find-libtorch.js --include       include directories (one per line, for gyp)
//   node scripts/find-libtorch.js --libs          linker flags (one per line, for gyp)
//   node scripts/find-libtorch.js --cmake-dir     the directory holding TorchConfig.cmake
//   node scripts/find-libtorch.js --write-info F  also writes the JSON to F (the loader reads it)
'use strict';

const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const INSTALL_HELP = [
  'libtorch was not found. Install it one of these ways, then build again:',
  '  - Debian/Ubuntu (CPU): apt-get install -y libtorch-dev',
  '  - an unpacked libtorch (CPU or CUDA, from pytorch.org): export LIBTORCH=/path/to/libtorch',
  '  - PyTorch in python3 (pip install torch): its bundled libtorch is used automatically',
  '  - a directory with TorchConfig.cmake: export Torch_DIR=/path/to/share/cmake/Torch',
].join('\n');

function isFile(p) {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

// A libtorch install from its TorchConfig.cmake directory (<prefix>/share/cmake/Torch, or
// Debian's /usr/lib/<triplet>/cmake/Torch).
function fromCmakeDir(cmakeDir, source) {
  if (!isFile(path.join(cmakeDir, 'TorchConfig.cmake'))) return null;
  const debian = /\/usr\/lib\/[^/]+\/cmake\/Torch\/?$/.test(cmakeDir);
  const prefix = debian ? '/usr' : path.resolve(cmakeDir, '..', '..', '..');
  const libDir = debian ? path.resolve(cmakeDir, '..', '..') : path.join(prefix, 'lib');
  const includeDir = path.join(prefix, 'include');
  const versionHeader = path.join(includeDir, 'torch', 'csrc', 'api', 'include', 'torch', 'version.h');
  if (!isFile(versionHeader) || !isFile(path.join(libDir, 'libtorch_cpu.so'))) return null;
  const header = fs.readFileSync(versionHeader, 'utf8');
  const part = (name) => (header.match(new RegExp(`#define TORCH_VERSION_${name} (\\d+)`)) || [])[1];
  const cuda = isFile(path.join(libDir, 'libtorch_cuda.so'));
  return {
    source,
    prefix,
    cmakeDir: path.resolve(cmakeDir),
    includeDirs: [includeDir, path.join(includeDir, 'torch', 'csrc', 'api', 'include')],
    libDir,
    version: [part('MAJOR'), part('MINOR'), part('PATCH')].join('.'),
    cuda,
  };
}

function fromPython() {
  try {
    const out = execFileSync('python3', ['-c', 'import torch.utils; print(torch.utils.cmake_prefix_path)'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return fromCmakeDir(path.join(out.trim(), 'Torch'), 'python3 torch');
  } catch {
    return null;
  }
}

function findLibtorch(env = process.env) {
  if (env.LIBTORCH) {
    const found = fromCmakeDir(path.join(env.LIBTORCH, 'share', 'cmake', 'Torch'), 'LIBTORCH');
    if (!found) throw new Error(`LIBTORCH=${env.LIBTORCH} is not an unpacked libtorch (no share/cmake/Torch/TorchConfig.cmake, include/ or lib/libtorch_cpu.so).\n${INSTALL_HELP}`);
    return found;
  }
  if (env.Torch_DIR) {
    const found = fromCmakeDir(env.Torch_DIR, 'Torch_DIR');
    if (!found) throw new Error(`Torch_DIR=${env.Torch_DIR} holds no usable TorchConfig.cmake.\n${INSTALL_HELP}`);
    return found;
  }
  const python = fromPython();
  if (python) return python;
  for (const triplet of ['x86_64-linux-gnu', 'aarch64-linux-gnu']) {
    const found = fromCmakeDir(`/usr/lib/${triplet}/cmake/Torch`, 'Debian libtorch-dev');
    if (found) return found;
  }
  throw new Error(INSTALL_HELP);
}

function linkFlags(found) {
  const libs = ['-ltorch', '-ltorch_cpu', '-lc10'];
  if (found.cuda) libs.push('-ltorch_cuda', '-lc10_cuda');
  // --no-as-needed keeps libtorch_cuda linked although no symbol of it is referenced directly:
  // it registers the CUDA kernels when loaded.
  return [`-L${found.libDir}`, `-Wl,-rpath,${found.libDir}`, '-Wl,--no-as-needed', ...libs, '-Wl,--as-needed'];
}

function describe(found) {
  return `libtorch ${found.version} (${found.cuda ? 'CUDA' : 'CPU only'}) from ${found.source}: ${found.prefix}`;
}

function main(argv) {
  let found;
  try {
    found = findLibtorch();
  } catch (err) {
    process.stderr.write(`find-libtorch: ${err.message}\n`);
    process.exit(1);
  }
  const infoAt = argv.indexOf('--write-info');
  if (infoAt >= 0) {
    const file = argv[infoAt + 1];
    if (!file) {
      process.stderr.write('find-libtorch: --write-info needs a file name\n');
      process.exit(2);
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const info = { libtorch: found.version, cuda: found.cuda, source: found.source, libDir: found.libDir };
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(info, null, 2) + '\n');
    fs.renameSync(`${file}.tmp`, file);
  }
  if (argv.includes('--json')) process.stdout.write(JSON.stringify(found, null, 2) + '\n');
  else if (argv.includes('--include')) process.stdout.write(found.includeDirs.join('\n') + '\n');
  else if (argv.includes('--libs')) process.stdout.write(linkFlags(found).join('\n') + '\n');
  else if (argv.includes('--cmake-dir')) process.stdout.write(found.cmakeDir + '\n');
  else if (argv.includes('--cuda')) process.stdout.write(found.cuda ? '1\n' : '0\n');
  else process.stdout.write(describe(found) + '\n');
}

module.exports = { findLibtorch, linkFlags, describe };

if (require.main === module) main(process.argv.slice(2));
