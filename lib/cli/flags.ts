/**
 * Command-line flags for the CLIs (`lib/train.ts`, `lib/predict.ts`) on Node's own
 * `util.parseArgs` (strict: unknown flags and missing values are errors), with typed value
 * conversion and one-line errors that name the flag, what was given and the fix.
 */
import { parseArgs } from 'util';

/** A problem with what the user asked for: the CLI prints its one-line message and exits with 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** One flag: its type, the value name shown in help, and its help text. */
export interface FlagSpec {
  type: 'string' | 'boolean';
  /** Shown after the flag in help, e.g. 'N' in `--epochs N`. */
  value?: string;
  help: string;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** What was given: strings for string flags, true for boolean ones; absent when not given. */
export type FlagValues<S extends FlagSpecs> = {
  [K in keyof S]?: S[K]['type'] extends 'boolean' ? boolean : string;
};

// Edit distance counting a swap of neighbours as one edit (optimal string alignment), for "did you mean" hints.
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; ++i) {
    for (let j = 1; j <= b.length; ++j) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The known flag closest to `given` (a typo of it), if any is close. */
function suggestion(given: string, specs: FlagSpecs): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const name of Object.keys(specs)) {
    const d = distance(given, name);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(given.length / 3)) ? best : undefined;
}

/**
 * Parses `argv` (without node and the script) against `specs`.
 * @throws UsageError for an unknown flag (with the closest known one), a string flag without a
 *   value, a value given to a boolean flag, a flag given twice, or positional arguments where
 *   `positionals` is 0.
 */
export function parseFlags<S extends FlagSpecs>(argv: readonly string[], specs: S, positionals = 0): { flags: FlagValues<S>; args: string[] } {
  // Check flag by flag (for messages that name the fix), joining `--name value` into
  // `--name=value` so that values starting with '-' (a negative number) reach the range checks.
  const joined: string[] = [];
  const seen = new Set<string>();
  for (let k = 0; k < argv.length; ++k) {
    const arg = argv[k];
    if (arg === '--') {
      joined.push(...argv.slice(k));
      break;
    }
    joined.push(arg);
    if (!arg.startsWith('--')) continue;
    const name = arg.slice(2).split('=')[0];
    const spec = Object.prototype.hasOwnProperty.call(specs, name) ? specs[name] : undefined;
    if (spec === undefined) {
      const hint = suggestion(name, specs);
      throw new UsageError(`unknown option --${name}${hint !== undefined ? ` (did you mean --${hint}?)` : ''}; see --help for the options`);
    }
    if (seen.has(name)) throw new UsageError(`--${name} is given twice; give it once`);
    seen.add(name);
    const inline = arg.includes('=');
    if (spec.type === 'boolean' && inline) throw new UsageError(`--${name} takes no value; give it alone to turn it on`);
    if (spec.type === 'string' && !inline) {
      if (k + 1 >= argv.length || argv[k + 1].startsWith('--')) throw new UsageError(`--${name} needs a value: --${name} ${spec.value ?? 'VALUE'}`);
      joined[joined.length - 1] = `--${name}=${argv[++k]}`;
    }
  }
  const options = Object.fromEntries(Object.entries(specs).map(([name, spec]) => [name, { type: spec.type }]));
  let parsed;
  try {
    parsed = parseArgs({ args: joined, options, strict: true, allowPositionals: true });
  } catch (err) {
    // parseArgs' own messages are multi-sentence; the checks above catch what users type, this is the rest.
    throw new UsageError((err as Error).message.split('\n')[0]);
  }
  if (parsed.positionals.length > positionals) {
    const extra = parsed.positionals[positionals];
    throw new UsageError(positionals === 0
      ? `unexpected argument ${JSON.stringify(extra)}: this command takes only --options (see --help)`
      : `unexpected argument ${JSON.stringify(extra)}: expected ${positionals} arguments (see --help)`);
  }
  return { flags: parsed.values as FlagValues<S>, args: parsed.positionals };
}

/**
 * An integer flag in [min, max] (default: positive, up to Number.MAX_SAFE_INTEGER); `fallback`
 * when not given. The message names the flag, the range and what was given.
 */
export function integerFlag(name: string, value: string | undefined, fallback: number, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    // the largest safe integer is named only when it is the bound that was crossed
    const range = max < Number.MAX_SAFE_INTEGER || n > max ? `of at least ${min} and at most ${max}` : `of at least ${min}`;
    throw new UsageError(`--${name} must be an integer ${range}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A finite number flag in [min, max] (`maxOpen`: below max); `fallback` when not given. */
export function numberFlag(name: string, value: string | undefined, fallback: number,
  range: { min: number; max?: number; minOpen?: boolean; maxOpen?: boolean }): number {
  if (value === undefined) return fallback;
  const n = value.trim() === '' ? NaN : Number(value);
  const { min, max = Infinity, minOpen = false, maxOpen = false } = range;
  const inRange = (minOpen ? n > min : n >= min) && (maxOpen ? n < max : n <= max);
  if (!Number.isFinite(n) || !inRange) {
    const lower = `${minOpen ? 'above' : 'at least'} ${min}`;
    const upper = max === Infinity ? '' : ` and ${maxOpen ? 'below' : 'at most'} ${max}`;
    throw new UsageError(`--${name} must be a number ${lower}${upper}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** One of `choices`; `fallback` when not given. */
export function choiceFlag<C extends string>(name: string, value: string | undefined, choices: readonly C[], fallback: C): C {
  if (value === undefined) return fallback;
  if (!(choices as readonly string[]).includes(value)) {
    throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as C;
}

/** The options part of a help text: one line per flag, descriptions aligned. */
export function formatFlagHelp(specs: FlagSpecs): string {
  const heads = Object.entries(specs).map(([name, spec]) => `--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`);
  const width = Math.max(...heads.map((h) => h.length)) + 2;
  return Object.values(specs).map((spec, k) => `  ${heads[k].padEnd(width)}${spec.help.replace(/\n/g, `\n  ${' '.repeat(width)}`)}`).join('\n');
}
