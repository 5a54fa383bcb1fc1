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
 * the data and reads matplotlib's format strings; `chart-layout.ts` turns them into an echarts
 * option, and `chart-render.ts` draws that with echarts' SVG renderer and resvg (PNG), in the
 * font `chart-font.ts` ships.
 */
import * as path from 'path';

import { writeFileAtomically } from '../core/atomic-file';
import { chartOption, type ChartSettings, type LineStyle, type MarkerShape, type SeriesStyle } from './chart-layout';
import { renderChartSVG, svgToPNG, svgToPNGAsync, type ChartOption } from './chart-render';

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
  /** How the x axis maps values; default 'linear'. On a log axis, points with x <= 0 are not drawn. */
  xscale?: AxisScale;
  /** How the y axis maps values; default 'linear'. On a log axis, points with y <= 0 are not drawn. */
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
  /** The (x, y) pairs in `add` order: a null y was skipped, a NaN is kept (a gap in the line). */
  points: [number, number][];
}

const COLOR_CYCLE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const BASE_COLORS: Readonly<Record<string, string>> = {
  b: '#0000ff', g: '#008000', r: '#ff0000', c: '#00bfbf', m: '#bf00bf', y: '#bfbf00', k: '#000000', w: '#ffffff',
};
const MARKERS: Readonly<Record<string, MarkerShape>> = {
  '.': 'point', o: 'circle', s: 'square', '^': 'triangle_up', v: 'triangle_down', D: 'diamond', x: 'x', '+': 'plus',
};
const D2L_FMTS = ['-', 'm--', 'g-.', 'r:'];

/** A parsed format string; without a colour it takes the next one of the colour cycle. */
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

  /**
   * A chart without data yet, as d2l's `Animator(xlabel=..., legend=..., xlim=..., ...)`.
   * @throws RangeError for limits that are not two finite increasing numbers (positive on a log
   *   axis) and for sizes that are not whole pixels in 16..16384; Error for a bad format string
   */
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

  /** The chart as a standalone SVG document, drawn by echarts' SVG renderer. */
  toSVG(): string {
    return renderChartSVG(this.option(), this.settings.width, this.settings.height);
  }

  /**
   * The chart as a PNG file's bytes (8-bit RGBA), `width` x `height` pixels: `toSVG()` rasterised
   * by resvg. Under Node the value is a Buffer (typed as Uint8Array, so that the declarations
   * need no Node types).
   */
  toPNG(): Uint8Array {
    return svgToPNG(this.toSVG());
  }

  /**
   * Writes the chart to `file`: SVG for `.svg`, PNG for `.png`, and both `<file>.svg` and
   * `<file>.png` when `file` has no extension. Each file is written to a temporary file in the
   * same directory and renamed over the old one, so a reader sees the previous chart or the new
   * one, never part of one, and a failed save leaves no partial file. The chart is drawn when
   * `save` is called (the PNG is rasterised off the event loop, and before any file is written);
   * saves complete in call order, so the last call's chart is the one that stays.
   */
  save(file: string): Promise<void> {
    const extension = path.extname(file).toLowerCase();
    const targets: { svg?: string; png?: string } = {};
    if (extension === '.svg') targets.svg = file;
    else if (extension === '.png') targets.png = file;
    else if (extension === '') Object.assign(targets, { svg: `${file}.svg`, png: `${file}.png` });
    else {
      return Promise.reject(new Error(`Animator.save: ${file}: use .svg, .png, or no extension for both (got "${extension}")`));
    }
    let svg: string;
    try {
      svg = this.toSVG();
    } catch (error) {
      return Promise.reject(new Error(`Animator.save: cannot draw the chart: ${(error as Error).message}`));
    }
    const png = targets.png === undefined ? undefined : svgToPNGAsync(svg);
    png?.catch(() => undefined); // awaited below, after the previous save
    const saved = this.lastSave.then(async () => {
      const outputs: [string, string | Buffer][] = [];
      if (targets.svg !== undefined) outputs.push([targets.svg, svg]);
      if (targets.png !== undefined && png !== undefined) {
        outputs.push([targets.png, await png.catch((error: Error) => {
          throw new Error(`Animator.save: cannot rasterise the chart: ${error.message}`);
        })]);
      }
      for (const [target, data] of outputs) {
        await writeFileAtomically(target, data).catch((error: Error) => {
          throw new Error(`Animator.save: ${error.message}`);
        });
      }
    });
    this.lastSave = saved.catch(() => undefined);
    return saved;
  }

  /** The chart as an echarts option. */
  private option(): ChartOption {
    return chartOption(this.settings, this.points, seriesStyles(this.formats, this.points.length));
  }
}
