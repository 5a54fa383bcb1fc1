/**
 * Tensor pretty-printing that reproduces PyTorch 1.13's `repr(tensor)`
 * (torch/_tensor_str.py) under the default print options.
 *
 * The layout code mirrors `_Formatter`, `_vector_str`,
 * `_tensor_str_with_formatter`, `get_summarized_data` and `_add_suffixes`;
 * the number formatting reproduces Python's `'{:.4f}'`, `'{:.4e}'` and
 * `'{:.0f}'` exactly (correctly rounded, ties to even), which JavaScript's
 * `toFixed`/`toExponential` do not (they round ties away from zero).
 */

import { DType } from './types';

/** Tensor attributes that PyTorch prints as suffixes after the data. */
export interface FormatExtras {
  /** Device string, e.g. 'cpu' (omitted from output) or 'cuda:0' (printed as `device='cuda:0'`). */
  device?: string;
  /** Whether the tensor is a leaf that requires grad (printed as `requires_grad=True`). */
  requiresGrad?: boolean;
  /** Name of the grad_fn node, e.g. 'AddBackward0'; printed instead of `requires_grad=True`. */
  gradFn?: string | null;
}

/** PyTorch's default print options (`torch.set_printoptions(profile='default')`). */
const PRECISION = 4;
const THRESHOLD = 1000;
const EDGE_ITEMS = 3;
const LINE_WIDTH = 80;

const PREFIX = 'tensor(';

/** Dtypes whose name PyTorch leaves out of the repr of a non-empty tensor. */
const IMPLICIT_DTYPES: ReadonlySet<DType> = new Set<DType>(['float32', 'int64', 'bool']);

const FLOATING_DTYPES: ReadonlySet<DType> = new Set<DType>(['float32', 'float64', 'float16', 'bfloat16']);

type Element = number | bigint | boolean;

// ---------------------------------------------------------------------------
// Python-compatible number formatting
// ---------------------------------------------------------------------------

/** Splits a finite, non-negative double into integers with `x === mantissa * 2 ** exponent`. */
function decompose(x: number): { mantissa: bigint; exponent: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const bits = view.getBigUint64(0);
  const biasedExponent = Number((bits >> 52n) & 0x7ffn);
  const fraction = bits & ((1n << 52n) - 1n);
  return biasedExponent === 0
    ? { mantissa: fraction, exponent: -1074 }
    : { mantissa: fraction | (1n << 52n), exponent: biasedExponent - 1075 };
}

/** Exactly computes `x * 10 ** scale` rounded to the nearest integer, ties to even (x finite, >= 0). */
function roundScaled(x: number, scale: number): bigint {
  const { mantissa, exponent } = decompose(x);
  let numerator = mantissa;
  let denominator = 1n;
  if (exponent >= 0) numerator <<= BigInt(exponent);
  else denominator <<= BigInt(-exponent);
  if (scale >= 0) numerator *= 10n ** BigInt(scale);
  else denominator *= 10n ** BigInt(-scale);
  const quotient = numerator / denominator;
  const twiceRemainder = (numerator % denominator) * 2n;
  const roundUp = twiceRemainder > denominator || (twiceRemainder === denominator && (quotient & 1n) === 1n);
  return roundUp ? quotient + 1n : quotient;
}

/** Python's spelling of a non-finite float, or null for finite values. */
function nonFiniteString(x: number): string | null {
  if (Number.isNaN(x)) return 'nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  return null;
}

/** Sign prefix as Python prints it, including the sign of negative zero. */
function signOf(x: number): string {
  return x < 0 || Object.is(x, -0) ? '-' : '';
}

/** A shape as PyTorch's messages print it: `torch.Size([2, 3])`. */
export function torchSize(shape: readonly number[]): string {
  return `torch.Size([${shape.join(', ')}])`;
}

/** Python's `'{:.<digits>f}'.format(x)` (correctly rounded, ties to even, unlike `toFixed`). */
export function formatFixed(x: number, digits: number): string {
  const special = nonFiniteString(x);
  if (special !== null) return special;
  const scaled = roundScaled(Math.abs(x), digits).toString().padStart(digits + 1, '0');
  const integerPart = scaled.slice(0, scaled.length - digits);
  const fractionPart = scaled.slice(scaled.length - digits);
  return signOf(x) + integerPart + (digits > 0 ? `.${fractionPart}` : '');
}

/** Python's `'{:.<digits>e}'.format(x)`. */
function formatExponential(x: number, digits: number): string {
  const special = nonFiniteString(x);
  if (special !== null) return special;
  const abs = Math.abs(x);
  let exponent = 0;
  let scaled = 0n;
  if (abs !== 0) {
    const lower = 10n ** BigInt(digits);
    const upper = lower * 10n;
    // log10 is only an estimate near powers of ten; the exact check corrects it.
    exponent = Math.floor(Math.log10(abs));
    scaled = roundScaled(abs, digits - exponent);
    while (scaled < lower || scaled >= upper) {
      exponent += scaled < lower ? -1 : 1;
      scaled = roundScaled(abs, digits - exponent);
    }
  }
  const mantissa = scaled.toString().padStart(digits + 1, '0');
  const fraction = digits > 0 ? `.${mantissa.slice(1)}` : '';
  const exponentSign = exponent < 0 ? '-' : '+';
  const exponentDigits = String(Math.abs(exponent)).padStart(2, '0');
  return `${signOf(x)}${mantissa[0]}${fraction}e${exponentSign}${exponentDigits}`;
}

// ---------------------------------------------------------------------------
// Element formatters (torch._tensor_str._Formatter)
// ---------------------------------------------------------------------------

/** Formats single elements right-aligned to the common width of the printed elements. */
interface ElementFormatter {
  readonly width: number;
  format(value: Element): string;
}

function integerString(value: Element): string {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (!Number.isInteger(value)) throw new RangeError(`formatTensor: integer element ${value} is not an integer`);
  return BigInt(value).toString();
}

function boolString(value: Element): string {
  return value ? 'True' : 'False';
}

/** Formatter for integer and bool tensors: `str(value)` padded to the widest element. */
function discreteFormatter(visible: readonly Element[], stringify: (value: Element) => string): ElementFormatter {
  const width = visible.reduce<number>((widest, value) => Math.max(widest, stringify(value).length), 1);
  return { width, format: (value) => stringify(value).padStart(width) };
}

/**
 * Formatter for floating tensors. Like PyTorch it looks at the nonzero finite
 * elements only: all integral selects `1.` style, a wide dynamic range or
 * extreme magnitude selects scientific notation, otherwise fixed 4 decimals.
 */
function floatFormatter(visible: readonly number[]): ElementFormatter {
  const nonzeroFinite = visible.filter((value) => Number.isFinite(value) && value !== 0);
  let intMode = true;
  let sciMode = false;
  let width = 1;
  if (nonzeroFinite.length > 0) {
    const magnitudes = nonzeroFinite.map(Math.abs);
    const min = magnitudes.reduce((a, b) => Math.min(a, b));
    const max = magnitudes.reduce((a, b) => Math.max(a, b));
    intMode = nonzeroFinite.every((value) => value === Math.ceil(value));
    sciMode = max / min > 1000 || max > 1e8 || (!intMode && min < 1e-4);
    const widthOf = sciMode
      ? (value: number): number => formatExponential(value, PRECISION).length
      : intMode
        ? (value: number): number => formatFixed(value, 0).length + 1
        : (value: number): number => formatFixed(value, PRECISION).length;
    width = nonzeroFinite.reduce((widest, value) => Math.max(widest, widthOf(value)), width);
  }
  const formatValue = (value: number): string => {
    if (sciMode) return formatExponential(value, PRECISION);
    if (intMode) return formatFixed(value, 0) + (Number.isFinite(value) ? '.' : '');
    return formatFixed(value, PRECISION);
  };
  return { width, format: (value) => formatValue(Number(value)).padStart(width) };
}

// ---------------------------------------------------------------------------
// Layout (_tensor_str_with_formatter, _vector_str, _add_suffixes)
// ---------------------------------------------------------------------------

/** Indices printed along a dimension of the given size; null marks the '...' gap. */
function visibleIndices(size: number, summarize: boolean): Array<number | null> {
  const all = (count: number, start: number): number[] => Array.from({ length: count }, (_, i) => start + i);
  if (summarize && size > 2 * EDGE_ITEMS) {
    return [...all(EDGE_ITEMS, 0), null, ...all(EDGE_ITEMS, size - EDGE_ITEMS)];
  }
  return all(size, 0);
}

/** A non-empty tensor's elements, with the geometry needed to walk them in print order. */
class TensorLayout {
  private readonly strides: number[];

  constructor(
    private readonly values: ArrayLike<Element>,
    private readonly shape: readonly number[],
    private readonly summarize: boolean,
  ) {
    this.strides = shape.map((_, dim) => shape.slice(dim + 1).reduce((product, size) => product * size, 1));
  }

  /** The elements that will be printed (get_summarized_data), which alone determine the format. */
  visibleElements(offset = 0, dim = 0): Element[] {
    if (dim === this.shape.length) return [this.values[offset]];
    return visibleIndices(this.shape[dim], this.summarize).flatMap((index) =>
      index === null ? [] : this.visibleElements(offset + index * this.strides[dim], dim + 1),
    );
  }

  /** Renders the sub-tensor at `offset` starting at dimension `dim`, whose '[' sits at column `indent`. */
  render(formatter: ElementFormatter, indent: number, offset = 0, dim = 0): string {
    if (dim === this.shape.length) return formatter.format(this.values[offset]);
    const indices = visibleIndices(this.shape[dim], this.summarize);
    const stride = this.strides[dim];
    if (dim === this.shape.length - 1) {
      const items = indices.map((index) => (index === null ? ' ...' : formatter.format(this.values[offset + index * stride])));
      const perLine = Math.max(1, Math.floor((LINE_WIDTH - indent) / (formatter.width + 2)));
      const lines: string[] = [];
      for (let start = 0; start < items.length; start += perLine) {
        lines.push(items.slice(start, start + perLine).join(', '));
      }
      return `[${lines.join(`,\n${' '.repeat(indent + 1)}`)}]`;
    }
    const slices = indices.map((index) =>
      index === null ? '...' : this.render(formatter, indent + 1, offset + index * stride, dim + 1),
    );
    const separator = `,${'\n'.repeat(this.shape.length - dim - 1)}${' '.repeat(indent + 1)}`;
    return `[${slices.join(separator)}]`;
  }
}

/** Appends `, suffix` items, moving one to a new line when it would pass the line width. */
function addSuffixes(text: string, suffixes: readonly string[], indent: number): string {
  let result = text;
  // Same arithmetic as PyTorch's `len(s) - s.rfind("\n") + 1`, quirks included.
  let lastLineLength = text.length - text.lastIndexOf('\n') + 1;
  for (const suffix of suffixes) {
    if (lastLineLength + suffix.length + 2 > LINE_WIDTH) {
      result += `,\n${' '.repeat(indent)}${suffix}`;
      lastLineLength = indent + suffix.length;
    } else {
      result += `, ${suffix}`;
      lastLineLength += suffix.length + 2;
    }
  }
  return `${result})`;
}

/** Python's `str(tuple(shape))`. */
function shapeTuple(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}

/**
 * Formats a tensor exactly like PyTorch 1.13's `repr(tensor)` with the default
 * print options (precision 4, threshold 1000, edgeitems 3, linewidth 80).
 *
 * @param values the elements in row-major order: numbers for floating dtypes
 *   (float16/bfloat16 already widened to float32), integral numbers or bigints
 *   for integer dtypes, booleans or 0/1 for bool.
 * @param shape the tensor's sizes; `[]` for a 0-dim tensor.
 * @param dtype the tensor's element type, which selects the formatting rules
 *   and the `dtype=torch.*` suffix.
 * @param extras device and autograd attributes printed after the data.
 * @returns the text `repr(tensor)` would produce, e.g. `tensor([1., 2.])`.
 * @throws RangeError if `values.length` does not match the shape, or an integer
 *   dtype gets a non-integral number.
 */
export function formatTensor(
  values: ArrayLike<number | bigint | boolean>,
  shape: readonly number[],
  dtype: DType,
  extras: FormatExtras = {},
): string {
  if (!shape.every((size) => Number.isInteger(size) && size >= 0)) {
    throw new RangeError(`formatTensor: invalid shape [${shape.join(', ')}]`);
  }
  const numel = shape.reduce((product, size) => product * size, 1);
  if (values.length !== numel) {
    throw new RangeError(`formatTensor: ${values.length} values for shape [${shape.join(', ')}] (${numel} elements)`);
  }

  const suffixes: string[] = [];
  if (extras.device !== undefined && extras.device !== 'cpu') suffixes.push(`device='${extras.device}'`);

  let body: string;
  if (numel === 0) {
    body = '[]';
    if (shape.length !== 1) suffixes.push(`size=${shapeTuple(shape)}`);
    // Without elements the dtype cannot be inferred, so only float32 is implicit.
    if (dtype !== 'float32') suffixes.push(`dtype=torch.${dtype}`);
  } else {
    if (!IMPLICIT_DTYPES.has(dtype)) suffixes.push(`dtype=torch.${dtype}`);
    const layout = new TensorLayout(values, shape, numel > THRESHOLD);
    const visible = layout.visibleElements();
    const formatter = FLOATING_DTYPES.has(dtype)
      ? floatFormatter(visible.map(Number))
      : discreteFormatter(visible, dtype === 'bool' ? boolString : integerString);
    body = layout.render(formatter, PREFIX.length);
  }

  if (extras.gradFn) suffixes.push(`grad_fn=<${extras.gradFn}>`);
  else if (extras.requiresGrad) suffixes.push('requires_grad=True');

  return addSuffixes(PREFIX + body, suffixes, PREFIX.length);
}
