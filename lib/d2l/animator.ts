/**
 * d2l's `Animator`: the training chart that `train_ch13` keeps up to date, written to files
 * instead of redrawn in a notebook.
 *
 * ```ts
 * const animator = new Animator({ xlabel: 'epoch', xlim: [1, numEpochs], ylim: [0, 1],
 *                                 legend: ['train loss', 'train acc', 'test acc'] });
 * animator.add(epoch + (i + 1) / numBatches, [trainLoss, trainAcc, null]);
 * await animator.save('chart');          // chart.svg and chart.png, each replaced atomically
 * ```
 *
 * The look follows matplotlib's defaults as d2l uses them (figsize 3.5 x 2.5 inches, DejaVu Sans
 * 10 pt, 1.5 pt lines, grid, a legend placed where it covers the least data). This file keeps
 * the data and lays the chart out as a `ChartScene` in pixels; `chart-svg.ts` and
 * `chart-png.ts` draw that scene.
 */
import * as path from 'path';

import { writeFileAtomically } from '../core/atomic-file';
import { FONT_ASCENT, FONT_DESCENT, renderPNG, runsWidth, textWidth } from './chart-png';
import { renderSVG } from './chart-svg';

/** How an axis maps values: linearly, or by their base-10 logarithm. */
export type AxisScale = 'linear' | 'log';

/** Options of `new Animator()`; the names and defaults are d2l's. */
export interface AnimatorOptions {
  /** Label under the x axis. */
  xlabel?: string;
  /** Label left of the y axis, read bottom to top. */
  ylabel?: string;
  /** Legend entries, one per series in `add` order; series past its end have none. */
  legend?: string[];
  /** Fixed x range; without it the range follows the data with matplotlib's 5% margins. */
  xlim?: [number, number];
  /** Fixed y range; without it the range follows the data with matplotlib's 5% margins. */
  ylim?: [number, number];
  xscale?: AxisScale;
  yscale?: AxisScale;
  /**
   * matplotlib format strings, one per series: colour (`b g r c m y k w`, `C0`..`C9`), line
   * (`-`, `--`, `-.`, `:`) and marker (`.`, `o`, `s`, `^`, `v`, `D`, `x`, `+`), as in
   * `plt.plot(x, y, 'g-.')`. A format without a colour takes the next one of matplotlib's
   * colour cycle. Default d2l's `['-', 'm--', 'g-.', 'r:']`. Series past the end are drawn as
   * solid lines in cycle colours (d2l would not draw them at all).
   */
  fmts?: string[];
  /** Image width in pixels; default 350, d2l's 3.5 inch figure at matplotlib's 100 dpi. */
  width?: number;
  /** Image height in pixels; default 250 (2.5 inches at 100 dpi). */
  height?: number;
}

/** One series as `add` collected it: the (x, y) pairs in order. */
export interface AnimatorSeries {
  /** Its legend entry, or '' when the legend has none for it. */
  name: string;
  points: [number, number][];
}

/** A point in pixels, origin at the top left, y pointing down. */
export type Point = [number, number];

/** An axis-aligned rectangle in pixels. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** How a stroke ends: flat at the end point, or extended by half its width. */
export type LineCap = 'butt' | 'square';

/** How a line or outline is drawn; joins are always round. */
export interface Stroke {
  /** `#rrggbb`. */
  color: string;
  /** Width in pixels. */
  width: number;
  /** On/off lengths in pixels, starting with a dash; absent for a solid line. */
  dash?: readonly number[];
  cap: LineCap;
  /** 0..1; default 1. */
  opacity?: number;
}

/** Marker shapes of matplotlib's format strings. */
export type MarkerShape = 'point' | 'circle' | 'square' | 'triangle_up' | 'triangle_down' | 'diamond' | 'x' | 'plus';

/** A piece of text: superscripts are smaller and raised (exponents of log-axis labels). */
export interface TextRun {
  text: string;
  superscript?: boolean;
}

/** What a chart is drawn from; both renderers draw exactly these items, in order. */
export type ChartItem =
  | { kind: 'rect'; rect: Rect; radius: number; fill: string; fillOpacity: number; stroke?: Stroke }
  /** A straight axis-aligned line (spine, tick, grid line); raster output snaps it to pixels. */
  | { kind: 'line'; from: Point; to: Point; stroke: Stroke }
  /** A run of a series' line (or its legend handle); `clip`: kept inside the plot area. */
  | { kind: 'polyline'; series: number; points: Point[]; stroke: Stroke; clip: boolean }
  /** A series' markers, `shape` centred on each point, edges `edgeWidth` pixels wide. */
  | { kind: 'markers'; series: number; shape: MarkerGeometry; centers: Point[]; edgeWidth: number; color: string; clip: boolean }
  /** Black text; `at` is the start of the baseline, shifted by `anchor`; `vertical`: read bottom to top. */
  | { kind: 'text'; at: Point; runs: TextRun[]; size: number; anchor: 'start' | 'middle' | 'end'; vertical: boolean };

/** A whole chart in pixels. */
export interface ChartScene {
  width: number;
  height: number;
  /** The plot area inside the spines; series items with `clip` are cut to it. */
  plotArea: Rect;
  items: ChartItem[];
}

/** A marker's outline relative to its centre, as both renderers draw it. */
export type MarkerGeometry =
  | { kind: 'disk'; radius: number }
  /** Filled, and outlined with the edge width. */
  | { kind: 'polygon'; points: Point[] }
  /** Unfilled strokes, each `[from, to]`, drawn with the edge width. */
  | { kind: 'strokes'; segments: [Point, Point][] };

/** Where the outline of a marker `size` pixels across lies, around (0, 0). */
function markerGeometry(shape: MarkerShape, size: number): MarkerGeometry {
  const h = size / 2;
  switch (shape) {
    case 'point':
      return { kind: 'disk', radius: h / 2 };
    case 'circle':
      return { kind: 'disk', radius: h };
    case 'square':
      return { kind: 'polygon', points: [[-h, -h], [h, -h], [h, h], [-h, h]] };
    case 'triangle_up':
      return { kind: 'polygon', points: [[0, -h], [h, h], [-h, h]] };
    case 'triangle_down':
      return { kind: 'polygon', points: [[0, h], [-h, -h], [h, -h]] };
    case 'diamond': {
      const d = h * Math.SQRT2;
      return { kind: 'polygon', points: [[0, -d], [d, 0], [0, d], [-d, 0]] };
    }
    case 'x':
      return { kind: 'strokes', segments: [[[-h, -h], [h, h]], [[-h, h], [h, -h]]] };
    case 'plus':
      return { kind: 'strokes', segments: [[[-h, 0], [h, 0]], [[0, -h], [0, h]]] };
  }
}

// matplotlib's defaults (rcParams), in points unless said otherwise.
const FIGSIZE_INCHES: Point = [3.5, 2.5]; // d2l.set_figsize's default
const PAD_INCHES = 0.1; // savefig.pad_inches, kept around everything drawn
const FONT_SIZE = 10;
const LINE_WIDTH = 1.5;
const AXES_LINE_WIDTH = 0.8;
const GRID_COLOR = '#b0b0b0';
const TICK_LENGTH = 3.5;
const MINOR_TICK_LENGTH = 2;
const MINOR_TICK_WIDTH = 0.6;
const TICK_PAD = 3.5;
const LABEL_PAD = 4;
const MARKER_SIZE = 6;
const MARKER_EDGE_WIDTH = 1;
const AXES_MARGIN = 0.05; // autoscale margin, a fraction of the data span
// Legend geometry, in units of the font size.
const LEGEND = { borderPad: 0.4, labelSpacing: 0.5, handleLength: 2, handleTextPad: 0.8, borderAxesPad: 0.5, radius: 0.2 };
const LEGEND_EDGE_COLOR = '#cccccc';
const LEGEND_ALPHA = 0.8;
const LEGEND_EDGE_WIDTH = 1;
// Dash patterns per point of line width (lines.scale_dashes).
const DASHES = { dashed: [3.7, 1.6], dashdot: [6.4, 1.6, 1, 1.6], dotted: [1, 1.65] };
const COLOR_CYCLE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const BASE_COLORS: Readonly<Record<string, string>> = {
  b: '#0000ff', g: '#008000', r: '#ff0000', c: '#00bfbf', m: '#bf00bf', y: '#bfbf00', k: '#000000', w: '#ffffff',
};
const MARKERS: Readonly<Record<string, MarkerShape>> = {
  '.': 'point', o: 'circle', s: 'square', '^': 'triangle_up', v: 'triangle_down', D: 'diamond', x: 'x', '+': 'plus',
};
const D2L_FMTS = ['-', 'm--', 'g-.', 'r:'];
const MINUS = '\u2212'; // matplotlib's axes.unicode_minus

type LineStyle = 'solid' | keyof typeof DASHES;

interface SeriesStyle {
  color: string;
  line: LineStyle | null;
  marker: MarkerShape | null;
}

interface Format {
  color?: string;
  line: LineStyle | null;
  marker: MarkerShape | null;
}

const LINE_FORMATS: [string, LineStyle][] = [['--', 'dashed'], ['-.', 'dashdot'], ['-', 'solid'], [':', 'dotted']];

/** Parses a matplotlib format string such as 'm--' or 'bo'. */
function parseFormat(fmt: string): Format {
  let color: string | undefined;
  let line: LineStyle | undefined;
  let marker: MarkerShape | undefined;
  const fail = (what: string): never => {
    throw new Error(`Animator: ${what} in format string ${JSON.stringify(fmt)}`);
  };
  for (let i = 0; i < fmt.length; ) {
    const c = fmt[i];
    const lineFormat = LINE_FORMATS.find(([token]) => fmt.startsWith(token, i));
    if (lineFormat) {
      if (line !== undefined) fail('two line styles');
      line = lineFormat[1];
      i += lineFormat[0].length;
    } else if (c === 'C' && /[0-9]/.test(fmt[i + 1] ?? '')) {
      if (color !== undefined) fail('two colours');
      color = COLOR_CYCLE[Number(fmt[i + 1])];
      i += 2;
    } else if (c in BASE_COLORS) {
      if (color !== undefined) fail('two colours');
      color = BASE_COLORS[c];
      ++i;
    } else if (c in MARKERS) {
      if (marker !== undefined) fail('two markers');
      marker = MARKERS[c];
      ++i;
    } else {
      fail(`unknown character ${JSON.stringify(c)}`);
    }
  }
  // As in matplotlib: a marker alone means no line.
  return { color, line: line ?? (marker === undefined ? 'solid' : null), marker: marker ?? null };
}

/** Resolves the formats to styles, handing out cycle colours as matplotlib does. */
function seriesStyles(formats: Format[], count: number): SeriesStyle[] {
  let cycle = 0;
  const styles: SeriesStyle[] = [];
  for (let i = 0; i < count; ++i) {
    const format = formats[i] ?? { line: 'solid', marker: null };
    const color = format.color ?? COLOR_CYCLE[cycle++ % COLOR_CYCLE.length];
    styles.push({ color, line: format.line, marker: format.marker });
  }
  return styles;
}

/** The options with their defaults filled in. */
interface ChartSettings {
  xlabel?: string;
  ylabel?: string;
  legend: string[];
  xlim?: [number, number];
  ylim?: [number, number];
  xscale: AxisScale;
  yscale: AxisScale;
  width: number;
  height: number;
}

function checkLimits(name: string, limits: [number, number] | undefined, scale: AxisScale): void {
  if (limits === undefined) return;
  const [lo, hi] = limits;
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(lo < hi)) {
    throw new RangeError(`Animator: ${name} must be two finite numbers, low < high; got [${lo}, ${hi}]`);
  }
  if (scale === 'log' && lo <= 0) throw new RangeError(`Animator: ${name} must be positive on a log axis; got [${lo}, ${hi}]`);
}

function checkSize(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 16 || value > 16384) {
    throw new RangeError(`Animator: ${name} must be an integer number of pixels in 16..16384; got ${value}`);
  }
}

/**
 * d2l's `Animator`: collects (x, y) points per series with d2l's `add`, and draws them as a
 * matplotlib-style line chart, as SVG, PNG, or files that are replaced atomically.
 */
export class Animator {
  private readonly settings: ChartSettings;
  private readonly formats: Format[];
  private points: [number, number][][] = [];
  private lastSave: Promise<void> = Promise.resolve();

  constructor(options: AnimatorOptions = {}) {
    const { xlabel, ylabel, legend = [], xlim, ylim, xscale = 'linear', yscale = 'linear', width = 350, height = 250 } = options;
    checkLimits('xlim', xlim, xscale);
    checkLimits('ylim', ylim, yscale);
    checkSize('width', width);
    checkSize('height', height);
    this.formats = (options.fmts ?? D2L_FMTS).map(parseFormat);
    this.settings = {
      xlabel, ylabel, legend: [...legend], xlim: xlim && [xlim[0], xlim[1]], ylim: ylim && [ylim[0], ylim[1]], xscale, yscale, width, height,
    };
  }

  /**
   * d2l's `Animator.add(x, y)`: appends `(x[i], y[i])` to series `i`, skipping a series whose
   * y is null. A scalar `x` is shared by all series. The first call fixes the number of series
   * (`y.length`); a later `y` may be shorter, not longer.
   */
  add(x: number | number[], y: (number | null)[]): void {
    if (Array.isArray(x) && x.length !== y.length) {
      throw new RangeError(`Animator.add: ${x.length} x values for ${y.length} y values`);
    }
    if (this.points.length === 0) this.points = y.map(() => []);
    if (y.length > this.points.length) {
      throw new RangeError(`Animator.add: ${y.length} y values, but the chart has ${this.points.length} series`);
    }
    y.forEach((value, i) => {
      if (value !== null) this.points[i].push([Array.isArray(x) ? x[i] : x, value]);
    });
  }

  /** The series so far, copies: name (legend entry) and points, in `add` order. */
  series(): readonly AnimatorSeries[] {
    return this.points.map((points, i) => ({ name: this.settings.legend[i] ?? '', points: points.map(([x, y]): [number, number] => [x, y]) }));
  }

  /** The chart as a standalone SVG document. */
  toSVG(): string {
    return renderSVG(this.scene());
  }

  /** The chart as a PNG image (8-bit RGB), `width` x `height` pixels. */
  toPNG(): Buffer {
    return renderPNG(this.scene());
  }

  /**
   * Writes the chart to `file`: SVG for `.svg`, PNG for `.png`, and both `<file>.svg` and
   * `<file>.png` when `file` has no extension. Each file is written to a temporary file in the
   * same directory and renamed over the old one, so a reader sees the previous chart or the new
   * one, never part of one. The chart is drawn when `save` is called; saves complete in call
   * order, so the last call's chart is the one that stays.
   */
  save(file: string): Promise<void> {
    const extension = path.extname(file).toLowerCase();
    let outputs: [string, string | Buffer][];
    if (extension === '.svg') outputs = [[file, this.toSVG()]];
    else if (extension === '.png') outputs = [[file, this.toPNG()]];
    else if (extension === '') outputs = [[`${file}.svg`, this.toSVG()], [`${file}.png`, this.toPNG()]];
    else {
      return Promise.reject(new Error(`Animator.save: ${file}: use .svg, .png, or no extension for both (got "${extension}")`));
    }
    const saved = this.lastSave.then(async () => {
      for (const [target, data] of outputs) {
        await writeFileAtomically(target, data).catch((error: Error) => {
          throw new Error(`Animator.save: ${error.message}`);
        });
      }
    });
    this.lastSave = saved.catch(() => undefined);
    return saved;
  }

  /** The chart laid out in pixels. */
  private scene(): ChartScene {
    const styles = seriesStyles(this.formats, this.points.length);
    return layoutChart(this.settings, this.points, styles);
  }
}

// ---- Layout -----------------------------------------------------------------------------------

interface Tick {
  value: number;
  label: TextRun[];
}

interface Axis {
  lo: number;
  hi: number;
  scale: AxisScale;
  major: Tick[];
  /** Unlabelled ticks between the decades of a log axis. */
  minor: number[];
}

const transform = (value: number, scale: AxisScale): number => (scale === 'log' ? (value > 0 ? Math.log10(value) : NaN) : value);

/**
 * matplotlib's autoscaling of drawable `values`: their range, widened when empty or a single
 * value, plus 5% margins.
 */
function autoLimits(values: number[], scale: AxisScale): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const value of values) [lo, hi] = [Math.min(lo, transform(value, scale)), Math.max(hi, transform(value, scale))];
  if (lo > hi) return scale === 'log' ? [1, 10] : [0, 1];
  if (lo === hi) {
    // matplotlib's nonsingular(): widen by 5% of the value, or by 0.05 around 0.
    const widen = lo === 0 ? 0.05 : 0.05 * Math.abs(lo);
    lo -= widen;
    hi += widen;
  }
  const margin = (hi - lo) * AXES_MARGIN;
  lo -= margin;
  hi += margin;
  return scale === 'log' ? [10 ** lo, 10 ** hi] : [lo, hi];
}

/** The fewest decimals that write `step` exactly (up to rounding noise). */
function decimalsOf(step: number): number {
  for (let d = 0; d < 15; ++d) {
    const scaled = step * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, scaled)) return d;
  }
  return 15;
}

function formatNumber(value: number, decimals: number): string {
  const text = value.toFixed(decimals);
  return /^-0?\.?0*$/.test(text) ? text.slice(1) : text.replace('-', MINUS);
}

/** matplotlib's MaxNLocator(nbins, steps=[1, 2, 2.5, 5, 10]): at most `bins` intervals. */
function linearTicks(lo: number, hi: number, bins: number): Tick[] {
  const raw = (hi - lo) / bins;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  let step = 10 * magnitude;
  for (const multiple of [1, 2, 2.5, 5, 10]) {
    const candidate = multiple * magnitude;
    const intervals = Math.ceil(hi / candidate - 1e-9) - Math.floor(lo / candidate + 1e-9);
    if (intervals <= bins) {
      step = candidate;
      break;
    }
  }
  const decimals = decimalsOf(step);
  const ticks: Tick[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k <= Math.floor(hi / step + 1e-9); ++k) {
    const value = k * step;
    ticks.push({ value, label: [{ text: formatNumber(value, decimals) }] });
  }
  return ticks;
}

/**
 * A log axis: labelled ticks at the decades (10 with a superscript exponent; every n-th decade
 * when more than `bins` + 1 are in view) and unlabelled ones at 2..9 times each decade; with fewer
 * than two decades in view, labelled ticks at 1, 2 and 5 times each decade instead, written out
 * as plain numbers.
 */
function logTicks(lo: number, hi: number, bins: number): { major: Tick[]; minor: number[] } {
  const inside = (v: number): boolean => v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9);
  const first = Math.floor(Math.log10(lo));
  const last = Math.ceil(Math.log10(hi));
  const decades: number[] = [];
  for (let e = first; e <= last; ++e) if (inside(10 ** e)) decades.push(e);
  if (decades.length >= 2) {
    const stride = Math.ceil((decades.length - 1) / bins);
    const minor: number[] = [];
    if (stride === 1) for (let e = first; e <= last; ++e) for (let m = 2; m <= 9; ++m) if (inside(m * 10 ** e)) minor.push(m * 10 ** e);
    const major = decades.filter((e) => e % stride === 0).map((e) => ({
      value: 10 ** e,
      label: [{ text: '10' }, { text: String(e).replace('-', MINUS), superscript: true }],
    }));
    return { major, minor };
  }
  const major: Tick[] = [];
  for (let e = first; e <= last; ++e) {
    for (const m of [1, 2, 5]) {
      const value = m * 10 ** e;
      if (inside(value)) major.push({ value, label: [{ text: formatNumber(value, Math.max(0, -e)) }] });
    }
  }
  return { major, minor: [] };
}

/** Ticks spaced as matplotlib spaces them, on an axis with room for `room` intervals. */
function makeAxis([lo, hi]: [number, number], scale: AxisScale, room: number): Axis {
  const bins = Math.min(9, Math.max(1, Math.floor(room)));
  if (scale === 'log') return { lo, hi, scale, ...logTicks(lo, hi, bins) };
  return { lo, hi, scale, major: linearTicks(lo, hi, bins), minor: [] };
}

/** Pixel position of `value` on an axis drawn from `start` to `end` pixels. */
function position(axis: Axis, value: number, start: number, end: number): number {
  const t0 = transform(axis.lo, axis.scale);
  const t1 = transform(axis.hi, axis.scale);
  return start + ((transform(value, axis.scale) - t0) / (t1 - t0)) * (end - start);
}

/** Splits points at those that cannot be drawn (NaN, or <= 0 on a log axis), as matplotlib does. */
function drawableRuns(points: Point[]): Point[][] {
  const runs: Point[][] = [[]];
  for (const p of points) {
    if (Number.isFinite(p[0]) && Number.isFinite(p[1])) runs[runs.length - 1].push(p);
    else if (runs[runs.length - 1].length > 0) runs.push([]);
  }
  return runs.filter((run) => run.length > 0);
}

/** matplotlib's badness of a legend place: data points inside it, plus lines that cross it. */
function overlap(box: Rect, runs: Point[][]): number {
  const inBox = ([x, y]: Point): boolean => x >= box.x && x <= box.x + box.width && y >= box.y && y <= box.y + box.height;
  let count = 0;
  for (const run of runs) {
    count += run.filter(inBox).length;
    if (run.some((p, i) => i > 0 && segmentCrosses(box, run[i - 1], p))) ++count;
  }
  return count;
}

/** Liang-Barsky: whether the segment a-b meets the rectangle. */
function segmentCrosses(box: Rect, a: Point, b: Point): boolean {
  const dx = b[0] - a[0];
  const dy = b[1] - a[1];
  let t0 = 0;
  let t1 = 1;
  const edges: [number, number][] = [
    [-dx, a[0] - box.x], [dx, box.x + box.width - a[0]], [-dy, a[1] - box.y], [dy, box.y + box.height - a[1]],
  ];
  for (const [p, q] of edges) {
    if (p === 0) {
      if (q < 0) return false;
    } else if (p < 0) {
      t0 = Math.max(t0, q / p);
    } else {
      t1 = Math.min(t1, q / p);
    }
  }
  return t0 <= t1;
}

function lineStroke(style: SeriesStyle, width: number, pt: number): Stroke | null {
  if (style.line === null) return null;
  if (style.line === 'solid') return { color: style.color, width, cap: 'square' };
  return { color: style.color, width, cap: 'butt', dash: DASHES[style.line].map((d) => d * LINE_WIDTH * pt) };
}

/** Lays the chart out in pixels, as matplotlib would draw d2l's figure at this size. */
function layoutChart(options: ChartSettings, series: [number, number][][], styles: SeriesStyle[]): ChartScene {
  const { width, height, xscale, yscale } = options;
  const dpi = Math.min(width / FIGSIZE_INCHES[0], height / FIGSIZE_INCHES[1]);
  const pt = dpi / 72;
  const fontSize = FONT_SIZE * pt;
  const textHeight = (FONT_ASCENT + FONT_DESCENT) * fontSize;
  const pad = PAD_INCHES * dpi;
  const tickSpace = (TICK_LENGTH + TICK_PAD) * pt;
  const labelWidth = (label: TextRun[]): number => runsWidth(label, fontSize);

  // Points with NaN, or <= 0 on a log axis, are not drawn, and do not count for the limits.
  const drawable = series.flat().filter(([x, y]) => Number.isFinite(transform(x, xscale)) && Number.isFinite(transform(y, yscale)));
  const xlim = options.xlim ?? autoLimits(drawable.map((p) => p[0]), xscale);
  const ylim = options.ylim ?? autoLimits(drawable.map((p) => p[1]), yscale);

  // Margins fit the labels, as savefig(bbox_inches='tight') crops d2l's figure.
  const top = pad + (FONT_ASCENT * fontSize) / 2;
  const bottom = height - pad - textHeight - tickSpace - (options.xlabel ? textHeight + LABEL_PAD * pt : 0);
  // matplotlib sizes tick spacing by the axis length: 3 font sizes per x bin, 2 per y bin.
  const yAxis = makeAxis(ylim, yscale, (bottom - top) / (2 * fontSize));
  const yTickLabelWidth = Math.max(0, ...yAxis.major.map((t) => labelWidth(t.label)));
  const yTickLabelLeft = pad + (options.ylabel ? textHeight + LABEL_PAD * pt : 0);
  const left = yTickLabelLeft + yTickLabelWidth + tickSpace;
  const fullRight = width - pad;
  const provisional = makeAxis(xlim, xscale, (fullRight - left) / (3 * fontSize));
  // The last x tick label may stick out past the plot area's right edge.
  const overhang = Math.max(0, ...provisional.major.map((t) => position(provisional, t.value, left, fullRight) + labelWidth(t.label) / 2 - fullRight));
  const right = fullRight - overhang;
  const xAxis = makeAxis(xlim, xscale, (right - left) / (3 * fontSize));
  const plotArea: Rect = { x: left, y: top, width: right - left, height: bottom - top };

  const items: ChartItem[] = [{ kind: 'rect', rect: { x: 0, y: 0, width, height }, radius: 0, fill: '#ffffff', fillOpacity: 1 }];
  const axesStroke = (color: string): Stroke => ({ color, width: AXES_LINE_WIDTH * pt, cap: 'butt' });
  const px = (value: number): number => position(xAxis, value, left, right);
  const py = (value: number): number => position(yAxis, value, bottom, top);

  // Grid (d2l's axes.grid()) under the data.
  for (const t of xAxis.major) items.push({ kind: 'line', from: [px(t.value), top], to: [px(t.value), bottom], stroke: axesStroke(GRID_COLOR) });
  for (const t of yAxis.major) items.push({ kind: 'line', from: [left, py(t.value)], to: [right, py(t.value)], stroke: axesStroke(GRID_COLOR) });

  const lineWidth = LINE_WIDTH * pt;
  const runs = series.map((points) => drawableRuns(points.map(([x, y]): Point => [px(x), py(y)])));
  runs.forEach((seriesRuns, i) => {
    const stroke = lineStroke(styles[i], lineWidth, pt);
    const marker = styles[i].marker;
    for (const points of seriesRuns) {
      if (stroke) items.push({ kind: 'polyline', series: i, points, stroke, clip: true });
      if (marker) {
        items.push({
          kind: 'markers', series: i, shape: markerGeometry(marker, MARKER_SIZE * pt), centers: points,
          edgeWidth: MARKER_EDGE_WIDTH * pt, color: styles[i].color, clip: true,
        });
      }
    }
  });

  // Spines, ticks and their labels.
  const spine = { ...axesStroke('#000000'), cap: 'square' as const };
  items.push(
    { kind: 'line', from: [left, top], to: [left, bottom], stroke: spine },
    { kind: 'line', from: [right, top], to: [right, bottom], stroke: spine },
    { kind: 'line', from: [left, top], to: [right, top], stroke: spine },
    { kind: 'line', from: [left, bottom], to: [right, bottom], stroke: spine },
  );
  const tickLength = TICK_LENGTH * pt;
  const minorStroke: Stroke = { color: '#000000', width: MINOR_TICK_WIDTH * pt, cap: 'butt' };
  const xLabelBaseline = bottom + tickSpace + FONT_ASCENT * fontSize;
  for (const t of xAxis.major) {
    const x = px(t.value);
    items.push({ kind: 'line', from: [x, bottom], to: [x, bottom + tickLength], stroke: axesStroke('#000000') });
    items.push({ kind: 'text', at: [x, xLabelBaseline], runs: t.label, size: fontSize, anchor: 'middle', vertical: false });
  }
  for (const v of xAxis.minor) {
    items.push({ kind: 'line', from: [px(v), bottom], to: [px(v), bottom + MINOR_TICK_LENGTH * pt], stroke: minorStroke });
  }
  for (const t of yAxis.major) {
    const y = py(t.value);
    items.push({ kind: 'line', from: [left - tickLength, y], to: [left, y], stroke: axesStroke('#000000') });
    // matplotlib's 'center_baseline': the middle of the ascent sits on the tick.
    items.push({ kind: 'text', at: [left - tickSpace, y + (FONT_ASCENT * fontSize) / 2], runs: t.label, size: fontSize, anchor: 'end', vertical: false });
  }
  for (const v of yAxis.minor) {
    items.push({ kind: 'line', from: [left - MINOR_TICK_LENGTH * pt, py(v)], to: [left, py(v)], stroke: minorStroke });
  }
  if (options.xlabel) {
    const baseline = bottom + tickSpace + textHeight + LABEL_PAD * pt + FONT_ASCENT * fontSize;
    items.push({ kind: 'text', at: [(left + right) / 2, baseline], runs: [{ text: options.xlabel }], size: fontSize, anchor: 'middle', vertical: false });
  }
  if (options.ylabel) {
    // Read bottom to top, the descent towards the tick labels.
    const baseline = yTickLabelLeft - LABEL_PAD * pt - FONT_DESCENT * fontSize;
    items.push({ kind: 'text', at: [baseline, (top + bottom) / 2], runs: [{ text: options.ylabel }], size: fontSize, anchor: 'middle', vertical: true });
  }

  const entries = options.legend.slice(0, series.length);
  if (entries.length > 0) items.push(...legendItems(entries, styles, plotArea, runs.flat(), fontSize, textHeight, lineWidth, pt));
  return { width, height, plotArea, items };
}

/** The legend at matplotlib's loc='best': the first candidate place that covers the least data. */
function legendItems(
  entries: string[], styles: SeriesStyle[], area: Rect, data: Point[][], fontSize: number, textHeight: number, lineWidth: number, pt: number,
): ChartItem[] {
  const pad = LEGEND.borderPad * fontSize;
  const handle = LEGEND.handleLength * fontSize;
  const textLeft = pad + handle + LEGEND.handleTextPad * fontSize;
  const rowStep = textHeight + LEGEND.labelSpacing * fontSize;
  const width = textLeft + Math.max(...entries.map((e) => textWidth(e, fontSize))) + pad;
  const height = 2 * pad + entries.length * rowStep - LEGEND.labelSpacing * fontSize;
  const gap = LEGEND.borderAxesPad * fontSize;
  const xs = { left: area.x + gap, center: area.x + (area.width - width) / 2, right: area.x + area.width - gap - width };
  const ys = { top: area.y + gap, center: area.y + (area.height - height) / 2, bottom: area.y + area.height - gap - height };
  // matplotlib's order: upper right, upper left, lower left, lower right, right, center left,
  // center right (same place as right), lower center, upper center, center.
  const candidates: Point[] = [
    [xs.right, ys.top], [xs.left, ys.top], [xs.left, ys.bottom], [xs.right, ys.bottom], [xs.right, ys.center],
    [xs.left, ys.center], [xs.center, ys.bottom], [xs.center, ys.top], [xs.center, ys.center],
  ];
  let best = candidates[0];
  let bestOverlap = Infinity;
  for (const [x, y] of candidates) {
    const covered = overlap({ x, y, width, height }, data);
    if (covered < bestOverlap) {
      best = [x, y];
      bestOverlap = covered;
    }
  }
  const [x, y] = best;
  const items: ChartItem[] = [{
    kind: 'rect', rect: { x, y, width, height }, radius: LEGEND.radius * fontSize, fill: '#ffffff', fillOpacity: LEGEND_ALPHA,
    stroke: { color: LEGEND_EDGE_COLOR, width: LEGEND_EDGE_WIDTH * pt, cap: 'butt', opacity: LEGEND_ALPHA },
  }];
  entries.forEach((entry, i) => {
    const rowTop = y + pad + i * rowStep;
    const middle = rowTop + textHeight / 2;
    const style = styles[i];
    const stroke = lineStroke(style, lineWidth, pt);
    if (stroke) items.push({ kind: 'polyline', series: i, points: [[x + pad, middle], [x + pad + handle, middle]], stroke, clip: false });
    if (style.marker) {
      items.push({
        kind: 'markers', series: i, shape: markerGeometry(style.marker, MARKER_SIZE * pt), centers: [[x + pad + handle / 2, middle]],
        edgeWidth: MARKER_EDGE_WIDTH * pt, color: style.color, clip: false,
      });
    }
    items.push({ kind: 'text', at: [x + textLeft, rowTop + FONT_ASCENT * fontSize], runs: [{ text: entry }], size: fontSize, anchor: 'start', vertical: false });
  });
  return items;
}
