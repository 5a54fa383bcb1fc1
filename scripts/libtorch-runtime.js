// Prebuilt binaries per libtorch: which libtorch this machine has at run time, which prebuilt
// binary fits it, and how to bind that binary to it. Used by the install script (before any
// TypeScript is compiled) and by lib/native.ts when it loads a prebuilt binary.
//
// Layout: prebuilds/<platform>-<arch>/<variant>/torchbridge.node with libtorch.json beside it
// (or $TORCHBRIDGE_PREBUILDS/<variant>/...)
// (what scripts/find-libtorch.js recorded at build time: version, cuda, abi, libDir, source).
// variant = libtorch-<version>-<cpu|cuda>-abi<0|1>, e.g. libtorch-2.11.0-cuda-abi1.
//
// The libtorch present is looked for in the build's order (LIBTORCH, Torch_DIR, the torch package
// of TORCHBRIDGE_PYTHON or python3, Debian's /usr/lib/<triplet>), without headers and without
// importing torch (a prebuilt user needs neither). A prebuilt fits when its libtorch has the same
// version (major.minor.patch where both are known exactly; Debian's library names carry
// major.minor), the same CUDA-or-CPU build and the same C++ ABI. Nothing else is ever loaded.
//
// A binary links libtorch by soname, with an RPATH to the directory it was built against (a CI
// machine's). Before such a binary loads, the libtorch present is loaded from its own directory
// (RTLD_GLOBAL, never unloaded), so the binary binds to it and not to whatever its RPATH names.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const { abiFromLibrary } = require('./find-libtorch');

const ROOT = path.resolve(__dirname, '..');

function isFile(p) {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

// Where the variants are: TORCHBRIDGE_PREBUILDS (a directory of variants), else the package's.
function prebuildDir(root = ROOT, env = process.env) {
  return env.TORCHBRIDGE_PREBUILDS ? path.resolve(env.TORCHBRIDGE_PREBUILDS) : path.join(root, 'prebuilds', `${process.platform}-${process.arch}`);
}

/** The variant directory name of a build record. */
function variantName(info) {
  return `libtorch-${info.libtorch}-${info.cuda ? 'cuda' : 'cpu'}-abi${info.abi}`;
}

// A libtorch from its lib/ directory; `version` as exact as the source knows it, else the
// longest version in its library names (Debian: libtorch_cpu.so.1.13.0).
function fromLibDir(libDir, source, version) {
  let names;
  try {
    names = fs.readdirSync(libDir);
  } catch {
    return null;
  }
  const has = (stem) => names.some((n) => new RegExp(`^${stem}\\.so(\\.\\d+)*$`).test(n));
  if (!has('libtorch_cpu') || !has('libc10')) return null;
  const versioned = names.map((n) => n.match(/^libtorch_cpu\.so\.(\d+(?:\.\d+)*)$/)).filter(Boolean).map((m) => m[1]);
  const c10 = names.includes('libc10.so') ? 'libc10.so' : names.find((n) => /^libc10\.so\./.test(n));
  return {
    source,
    libDir,
    version: version ?? versioned.sort((a, b) => b.length - a.length)[0] ?? null,
    cuda: has('libtorch_cuda'),
    abi: abiFromLibrary(path.join(libDir, c10)),
  };
}

// torch/version.py's __version__ without the local part ('2.11.0+cu130' -> '2.11.0').
function pythonTorchVersion(torchDir) {
  try {
    const text = fs.readFileSync(path.join(torchDir, 'version.py'), 'utf8');
    const m = text.match(/^__version__\s*=\s*['"]([^'"+]+)/m);
    return m ? m[1] : undefined;
  } catch {
    return undefined;
  }
}

// The directory of a Python's torch package, found without importing torch (a second or so).
function pythonTorchDir(python) {
  try {
    const out = execFileSync(python, ['-c', 'import importlib.util as u; s = u.find_spec("torch"); print(s.submodule_search_locations[0] if s else "")'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    });
    return out.trim() || null;
  } catch {
    return null;
  }
}

/** The libtorch present at run time, or null: {source, libDir, version, cuda, abi}. */
function runtimeLibtorch(env = process.env) {
  if (env.LIBTORCH) {
    const versionFile = path.join(env.LIBTORCH, 'build-version');
    const version = isFile(versionFile) ? fs.readFileSync(versionFile, 'utf8').trim().replace(/\+.*$/, '') : undefined;
    return fromLibDir(path.join(env.LIBTORCH, 'lib'), 'LIBTORCH', version);
  }
  if (env.Torch_DIR) return fromLibDir(path.resolve(env.Torch_DIR, '..', '..', '..', 'lib'), 'Torch_DIR');
  const python = env.TORCHBRIDGE_PYTHON || 'python3';
  const torchDir = pythonTorchDir(python);
  if (torchDir) {
    const found = fromLibDir(path.join(torchDir, 'lib'), `${python} torch`, pythonTorchVersion(torchDir));
    if (found) return found;
  }
  for (const triplet of ['x86_64-linux-gnu', 'aarch64-linux-gnu']) {
    const found = fromLibDir(`/usr/lib/${triplet}`, 'Debian libtorch');
    if (found) return found;
  }
  return null;
}

// 1.13.0 and 1.13 agree (Debian's library names carry major.minor only); 1.13 and 2.6 do not.
function sameVersion(a, b) {
  const x = a.split('.');
  const y = b.split('.');
  const n = Math.min(x.length, y.length, 3);
  return n >= 2 && x.slice(0, n).join('.') === y.slice(0, n).join('.');
}

function fits(info, present) {
  return present.version !== null && sameVersion(info.libtorch, present.version) && info.cuda === present.cuda && info.abi === present.abi;
}

/** The prebuilt variants: [{dir, file, info}]. */
function prebuiltVariants(root = ROOT, env = process.env) {
  const base = prebuildDir(root, env);
  if (!fs.existsSync(base)) return [];
  return fs.readdirSync(base).flatMap((name) => {
    const dir = path.join(base, name);
    const file = path.join(dir, 'torchbridge.node');
    if (!isFile(file)) return [];
    try {
      return [{ dir, file, info: JSON.parse(fs.readFileSync(path.join(dir, 'libtorch.json'), 'utf8')) }];
    } catch {
      return [];
    }
  });
}

function describe(present) {
  return `libtorch ${present.version} (${present.cuda ? 'CUDA' : 'CPU'}, C++ ABI ${present.abi}) from ${present.source}: ${present.libDir}`;
}

/**
 * The prebuilt variant for the libtorch present: {variant, present} or {variant: null, present,
 * reason}, the reason naming what there is and the fix.
 */
function choosePrebuilt(root = ROOT, env = process.env) {
  const variants = prebuiltVariants(root, env);
  const present = runtimeLibtorch(env);
  const offered = variants.length === 0 ? 'none' : variants.map((v) => path.basename(v.dir)).join(', ');
  if (!present) {
    return {
      variant: null, present,
      reason: `no libtorch was found on this machine (prebuilt binaries here: ${offered}). Install one: ` +
        'apt-get install -y libtorch-dev (Debian, CPU), or pip install torch (its libtorch is used; TORCHBRIDGE_PYTHON names the Python), ' +
        'or export LIBTORCH=/path/to/libtorch',
    };
  }
  const variant = variants.find((v) => fits(v.info, present)) ?? null;
  if (variant) return { variant, present };
  return {
    variant: null, present,
    reason: `no prebuilt binary fits ${describe(present)} (prebuilt binaries here: ${offered}). Build from source against it: ` +
      'npm rebuild torchbridge (needs its headers: libtorch-dev on Debian; a pip torch has them), or install the libtorch of a prebuilt binary',
  };
}

/**
 * Loads the libtorch present from its own directory, globally and for good, so that a binary
 * built elsewhere binds to it (the dynamic linker reuses a loaded library of the same soname).
 */
function preload(present) {
  const { RTLD_NOW, RTLD_GLOBAL } = os.constants.dlopen;
  // Node names no RTLD_NODELETE; glibc's (and musl's) value. Without it, Node's dlclose after
  // "did not self-register" would unload the library again.
  const RTLD_NODELETE = os.constants.dlopen.RTLD_NODELETE ?? 0x1000;
  const names = fs.readdirSync(present.libDir);
  const order = ['libc10', ...(present.cuda ? ['libc10_cuda'] : []), 'libtorch_cpu', ...(present.cuda ? ['libtorch_cuda'] : []), 'libtorch'];
  for (const stem of order) {
    const name = names.find((n) => n === `${stem}.so`) ?? names.find((n) => new RegExp(`^${stem}\\.so\\.\\d`).test(n));
    if (!name) continue;
    try {
      process.dlopen({ exports: {} }, path.join(present.libDir, name), RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
    } catch (err) {
      // Loaded; it is just no Node addon. Anything else (a missing dependency) is a real failure.
      if (!/did not self-register|Module did not|napi_register_module/i.test(String(err.message))) throw err;
    }
  }
}

module.exports = { runtimeLibtorch, choosePrebuilt, prebuiltVariants, prebuildDir, preload, variantName, fits, describe };

if (require.main === module) {
  const choice = choosePrebuilt();
  if (process.argv.includes('--json')) process.stdout.write(JSON.stringify(choice, null, 2) + '\n');
  else if (choice.variant) process.stdout.write(`${choice.variant.file}\n  fits ${describe(choice.present)}\n`);
  else {
    process.stdout.write(`${choice.reason}\n`);
    process.exitCode = 1;
  }
}
