#!/usr/bin/env node
// Finds the libtorch to build against, for both builds (binding.gyp and CMakeLists.txt).
// Order: LIBTORCH (an unpacked libtorch) -> Torch_DIR (a directory holding TorchConfig.cmake)
// -> the libtorch inside the torch package of TORCHBRIDGE_PYTHON (else python3 on PATH; how GPU
// machines with PyTorch get a CUDA build) -> Debian's libtorch-dev under /usr (CPU only).
// The C++ ABI (_GLIBCXX_USE_CXX11_ABI) is the one that libtorch was built with.
//
//   node scripts/find-libtorch.js                 prints what was found
//   node scripts/find-libtorch.js --json          the same as JSON
//   node scripts/find-libtorch.js --include       include directories (one per line, for gyp)
//   node scripts/find-libtorch.js --libs          linker flags (one per line, for gyp)
//   node scripts/find-libtorch.js --defines       preprocessor definitions (one per line)
//   node scripts/find-libtorch.js --cxx-std       the C++ standard to compile with (c++17, c++20)
//   node scripts/find-libtorch.js --cmake-dir     the directory holding TorchConfig.cmake
//   node scripts/find-libtorch.js --write-info F  also writes the JSON to F (the loader reads it)
//
// A CUDA libtorch also gets c10d's NCCL backend (the 'nccl' process group) when the headers that
// ProcessGroupNCCL.hpp includes are there: CUDA's runtime headers with their crt/ directory and
// NCCL's nccl.h (see ncclIncludeDirs). TORCHBRIDGE_NCCL=0 builds without it; TORCHBRIDGE_NCCL=1
// makes missing headers an error instead of a build without NCCL.
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

// TORCH_VERSION_* moved from torch/version.h to torch/headeronly/version.h in 2.x.
const VERSION_HEADERS = [
  ['torch', 'csrc', 'api', 'include', 'torch', 'version.h'],
  ['torch', 'headeronly', 'version.h'],
];

function readVersion(includeDir) {
  for (const parts of VERSION_HEADERS) {
    const file = path.join(includeDir, ...parts);
    if (!isFile(file)) continue;
    const header = fs.readFileSync(file, 'utf8');
    const part = (name) => (header.match(new RegExp(`#define TORCH_VERSION_${name} (\\d+)`)) || [])[1];
    if (part('MAJOR') !== undefined) return [part('MAJOR'), part('MINOR'), part('PATCH')].join('.');
  }
  return null;
}

// The ABI from TorchConfig.cmake's TORCH_CXX_FLAGS (1.x sets it there; 2.11 sets none).
function abiFromCmake(cmakeDir) {
  const config = fs.readFileSync(path.join(cmakeDir, 'TorchConfig.cmake'), 'utf8');
  const flag = config.match(/^\s*set\(TORCH_CXX_FLAGS\s+"[^"]*-D_GLIBCXX_USE_CXX11_ABI=([01])/m);
  return flag ? Number(flag[1]) : null;
}

// Our sources are C++17; libtorch may require more (2.15's headers refuse anything before C++20).
// TorchConfig.cmake states it: CXX_STANDARD 14 (1.13) or 17 (2.11), or cxx_std_20 (2.15).
function cxxStandardFromCmake(cmakeDir) {
  const config = fs.readFileSync(path.join(cmakeDir, 'TorchConfig.cmake'), 'utf8');
  const stated = [...config.matchAll(/\bCXX_STANDARD\s+(\d+)|\bcxx_std_(\d+)/g)].map((m) => Number(m[1] ?? m[2]));
  return Math.max(17, ...stated);
}

// The ABI libc10.so was built with: the new one mangles std::string as std::__cxx11::basic_string,
// so its dynamic symbol names contain "__cxx11". Reads the ELF64 string table of .dynsym.
function abiFromLibrary(file) {
  const elf = fs.readFileSync(file);
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) return null; // ELF64 little-endian
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const section = (k) => {
    const at = shoff + k * shentsize;
    return { type: elf.readUInt32LE(at + 4), offset: Number(elf.readBigUInt64LE(at + 0x18)), size: Number(elf.readBigUInt64LE(at + 0x20)), link: elf.readUInt32LE(at + 0x28) };
  };
  for (let k = 0; k < shnum; k++) {
    const dynsym = section(k);
    if (dynsym.type !== 11) continue; // SHT_DYNSYM
    const strings = section(dynsym.link);
    return elf.subarray(strings.offset, strings.offset + strings.size).includes('__cxx11') ? 1 : 0;
  }
  return null;
}

// Where Gloo's headers come from for c10d's ProcessGroupGloo.hpp. Debian's libtorch links the
// system's libgloo, whose headers are libgloo-dev's (beside libtorch's, in /usr/include).
// PyTorch's wheels and libtorch archives compile Gloo in and ship no headers of it: theirs are
// vendored in native/third_party/gloo (the commit torch 2.11 builds; see its README).
function glooIncludeDirs(includeDir, debian) {
  if (isFile(path.join(includeDir, 'gloo', 'context.h'))) return [];
  if (debian) {
    throw new Error(`Debian's libtorch links the system's Gloo, whose headers are missing (${includeDir}/gloo/context.h): ` +
      'apt-get install -y libgloo-dev');
  }
  return [path.join(__dirname, '..', 'native', 'third_party', 'gloo')];
}

function isDir(p) {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

// The include directories c10d's ProcessGroupNCCL.hpp needs beside libtorch's, searched in:
// CUDA_HOME / CUDA_PATH and NCCL_HOME (toolkit installs), the NVIDIA wheels that PyTorch's CUDA
// wheels depend on (site-packages/nvidia/cu13/include, or CUDA 12's nvidia/<part>/include), and
// /usr/local/cuda and /usr/include. The runtime's crt/ headers come in their own wheel
// (nvidia-cuda-crt), which torch does not depend on. Returns {dirs} or {missing: what to install}.
function ncclIncludeDirs(found, env = process.env) {
  const nvidia = path.join(found.prefix, '..', 'nvidia');
  const candidates = [];
  for (const home of [env.CUDA_HOME, env.CUDA_PATH, env.NCCL_HOME]) if (home) candidates.push(path.join(home, 'include'));
  if (isDir(nvidia)) {
    for (const part of fs.readdirSync(nvidia).sort()) candidates.push(path.join(nvidia, part, 'include'));
  }
  candidates.push('/usr/local/cuda/include', '/usr/include');
  const where = (header) => candidates.find((dir) => isFile(path.join(dir, header)));
  const needed = [
    ['cuda_runtime_api.h', "CUDA's runtime headers (pip install nvidia-cuda-runtime matching torch's CUDA, or set CUDA_HOME)"],
    ['crt/host_config.h', "CUDA's crt headers (pip install \"nvidia-cuda-crt==<torch's CUDA major.minor>.*\", or set CUDA_HOME)"],
    ['nccl.h', 'NCCL\'s header (pip install nvidia-nccl matching torch\'s CUDA, or set NCCL_HOME)'],
  ];
  const dirs = [];
  const missing = [];
  if (!isFile(path.join(found.includeDirs[0], 'torch', 'csrc', 'distributed', 'c10d', 'ProcessGroupNCCL.hpp'))) {
    missing.push('c10d\'s ProcessGroupNCCL.hpp (this libtorch ships no NCCL backend)');
  }
  for (const [header, install] of needed) {
    const dir = where(header);
    if (dir === undefined) missing.push(`${header}: ${install}`);
    else if (!dirs.includes(dir) && dir !== '/usr/include') dirs.push(dir);
  }
  return missing.length === 0 ? { dirs } : { missing };
}

// c10d's NCCL backend for a CUDA libtorch (see the header): found.nccl is true when it is built
// in, found.ncclMissing says why not.
function withNccl(found, env = process.env) {
  if (!found.cuda || env.TORCHBRIDGE_NCCL === '0') {
    return { ...found, nccl: false, ncclMissing: found.cuda ? 'TORCHBRIDGE_NCCL=0' : 'a CPU-only libtorch' };
  }
  const headers = ncclIncludeDirs(found, env);
  if (headers.missing) {
    if (env.TORCHBRIDGE_NCCL === '1') throw new Error(`TORCHBRIDGE_NCCL=1, but NCCL's build needs:\n  ${headers.missing.join('\n  ')}`);
    return { ...found, nccl: false, ncclMissing: headers.missing.join('; ') };
  }
  return { ...found, nccl: true, includeDirs: [...found.includeDirs, ...headers.dirs] };
}

// A libtorch install from its TorchConfig.cmake directory (<prefix>/share/cmake/Torch, or
// Debian's /usr/lib/<triplet>/cmake/Torch). `known`: what the caller knows already (abi, python).
function fromCmakeDir(cmakeDir, source, known = {}) {
  if (!isFile(path.join(cmakeDir, 'TorchConfig.cmake'))) return null;
  const debian = /\/usr\/lib\/[^/]+\/cmake\/Torch\/?$/.test(cmakeDir);
  const prefix = debian ? '/usr' : path.resolve(cmakeDir, '..', '..', '..');
  const libDir = debian ? path.resolve(cmakeDir, '..', '..') : path.join(prefix, 'lib');
  const includeDir = path.join(prefix, 'include');
  const version = readVersion(includeDir);
  if (!version || !isFile(path.join(libDir, 'libtorch_cpu.so'))) return null;
  const abi = known.abi ?? abiFromCmake(cmakeDir) ?? abiFromLibrary(path.join(libDir, 'libc10.so'));
  if (abi === null) throw new Error(`cannot tell the C++ ABI of the libtorch in ${libDir} (no TORCH_CXX_FLAGS in TorchConfig.cmake, no readable libc10.so)`);
  return {
    source,
    prefix,
    cmakeDir: path.resolve(cmakeDir),
    includeDirs: [includeDir, path.join(includeDir, 'torch', 'csrc', 'api', 'include'), ...glooIncludeDirs(includeDir, debian)],
    libDir,
    version,
    cuda: isFile(path.join(libDir, 'libtorch_cuda.so')),
    abi,
    cxxStandard: cxxStandardFromCmake(cmakeDir),
    ...(known.python ? { python: known.python } : {}),
  };
}

// The libtorch inside a Python's torch package, with the ABI torch reports for itself.
function fromPython(python) {
  let out;
  try {
    out = execFileSync(python, ['-c', 'import torch, torch.utils; print(torch.utils.cmake_prefix_path); print(int(torch._C._GLIBCXX_USE_CXX11_ABI))'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return null;
  }
  const [cmakePrefix, abi] = out.trim().split('\n');
  return fromCmakeDir(path.join(cmakePrefix, 'Torch'), `${python} torch`, { abi: Number(abi), python });
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
  const python = fromPython(env.TORCHBRIDGE_PYTHON || 'python3');
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

function defines(found) {
  return [`_GLIBCXX_USE_CXX11_ABI=${found.abi}`, ...(found.nccl ? ['TB_WITH_NCCL=1'] : [])];
}

function describe(found) {
  const nccl = found.cuda ? (found.nccl ? ', with NCCL' : `, without NCCL: ${found.ncclMissing}`) : '';
  return `libtorch ${found.version} (${found.cuda ? 'CUDA' : 'CPU only'}, _GLIBCXX_USE_CXX11_ABI=${found.abi}${nccl}) from ${found.source}: ${found.prefix}`;
}

function main(argv) {
  let found;
  try {
    found = withNccl(findLibtorch());
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
    const info = { libtorch: found.version, cuda: found.cuda, nccl: found.nccl, abi: found.abi, source: found.source, libDir: found.libDir };
    if (found.python) info.python = found.python;
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(info, null, 2) + '\n');
    fs.renameSync(`${file}.tmp`, file);
  }
  if (argv.includes('--json')) process.stdout.write(JSON.stringify(found, null, 2) + '\n');
  else if (argv.includes('--include')) process.stdout.write(found.includeDirs.join('\n') + '\n');
  else if (argv.includes('--libs')) process.stdout.write(linkFlags(found).join('\n') + '\n');
  else if (argv.includes('--defines')) process.stdout.write(defines(found).join('\n') + '\n');
  else if (argv.includes('--cxx-std')) process.stdout.write(`c++${found.cxxStandard}\n`);
  else if (argv.includes('--cmake-dir')) process.stdout.write(found.cmakeDir + '\n');
  else if (argv.includes('--cuda')) process.stdout.write(found.cuda ? '1\n' : '0\n');
  else process.stdout.write(describe(found) + '\n');
}

module.exports = { findLibtorch, withNccl, ncclIncludeDirs, linkFlags, defines, describe, abiFromLibrary };

if (require.main === module) main(process.argv.slice(2));
