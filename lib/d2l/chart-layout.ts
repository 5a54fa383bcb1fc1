/**
 * d2l's chart as an echarts option: matplotlib's look as d2l uses it (figsize 3.5 x 2.5 inches at
 * 100 dpi, DejaVu Sans 10 pt, 1.5 pt lines, grid, a framed axes box, ticks out, a legend where it
 * covers the least data). echarts draws the axes, grid, ticks, labels, lines, markers and the
 * legend; this file keeps only what echarts' options cannot express: matplotlib's autoscaled
 * limits and tick positions (MaxNLocator, LogLocator), its tick label formats, margins that fit
 * the labels (savefig's tight bounding box), and the legend's loc='best'.
 */
import type { LegendComponentOption, LineSeriesOption, XAXisComponentOption, YAXisComponentOption } from 'echarts';

import { CHART_FONT_FAMILY, chartFontMetrics, textWidth } from './chart-font';
import type { ChartOption } from './chart-render';

/** The options of a value axis, either way round. */
type ValueAxisOption = XAXisComponentOption & YAXisComponentOption & { type: 'value' };
/** A line's style in series and legend options. */
type LineStyleOption = NonNullable<LineSeriesOption['lineStyle']>;

import type { AxisScale } from './animator';

export type { AxisScale };

/** matplotlib's line styles of format strings. */
export type LineStyle = 'solid' | 'dashed' | 'dashdot' | 'dotted';

/** Marker shapes of matplotlib's format strings. */
export type MarkerShape = 'point' | 'circle' | 'square' | 'triangle_up' | 'triangle_down' | 'diamond' | 'x' | 'plus';

/** How one series is drawn. */
export interface SeriesStyle {
  /** `#rrggbb`. */
  color: string;
  /** null: no line (markers only). */
  line: LineStyle | null;
  /** null: no markers. */
  marker: MarkerShape | null;
}

/** What a chart shows, options filled in with their defaults. */
export interface ChartSettings {
  /** Label under the x axis; none when absent or empty. */
  xlabel?: string;
  /** Label left of the y axis, read bottom to top; none when absent or empty. */
  ylabel?: string;
  /** Legend entries, one per series in order; series past its end have none. */
  legend: string[];
  /** Fixed x limits, low < high; absent: autoscaled as matplotlib does. */
  xlim?: [number, number];
  /** Fixed y limits, low < high; absent: autoscaled as matplotlib does. */
  ylim?: [number, number];
  /** How the x axis maps values. */
  xscale: AxisScale;
  /** How the y axis maps values. */
  yscale: AxisScale;
  /** Image width in pixels; the figure's dpi follows from it and the height. */
  width: number;
  /** Image height in pixels. */
  height: number;
}

// matplotlib's defaults (rcParams), in points unless said otherwise.
const FIGSIZE_INCHES: [number, number] = [3.5, 2.5]; // d2l.set_figsize's default
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
const LEGEND_FACE = 'rgba(255,255,255,0.8)'; // white at legend.framealpha
const LEGEND_EDGE = 'rgba(204,204,204,0.8)'; // legend.edgecolor '0.8' at framealpha
const LEGEND_EDGE_WIDTH = 1;
// echarts puts a legend entry's text this many pixels after its icon.
const ECHARTS_LEGEND_TEXT_GAP = 5;
// Dash patterns per point of line width (lines.scale_dashes).
const DASHES: Readonly<Record<Exclude<LineStyle, 'solid'>, number[]>> = { dashed: [3.7, 1.6], dashdot: [6.4, 1.6, 1, 1.6], dotted: [1, 1.65] };
const MINUS = '\u2212'; // matplotlib's axes.unicode_minus
const SUPERSCRIPTS: Readonly<Record<string, string>> = {
  0: '\u2070', 1: '\u00b9', 2: '\u00b2', 3: '\u00b3', 4: '\u2074', 5: '\u2075', 6: '\u2076', 7: '\u2077', 8: '\u2078', 9: '\u2079', '-': '\u207b',
};

/** A labelled tick: its value on the axis, and its label. */
interface Tick {
  value: number;
  label: string;
}

/** An axis' limits and ticks, values as given (not transformed). */
interface Axis {
  lo: number;
  hi: number;
  scale: AxisScale;
  major: Tick[];
  /** Unlabelled ticks between the decades of a log axis. */
  minor: number[];
}

/** Where the chart's pieces go, in pixels: what the option is built from. */
interface Layout {
  pt: number;
  fontSize: number;
  textHeight: number;
  plot: { left: number; top: number; right: number; bottom: number };
  xAxis: Axis;
  yAxis: Axis;
  /** Left edge of the y tick labels (right of the y label). */
  yTickLabelLeft: number;
}

/** A value on an axis' linear coordinate: itself, or its base-10 logarithm (NaN when <= 0). */
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

/** A tick label as matplotlib's ScalarFormatter writes it: fixed decimals, a minus sign, no -0. */
function formatNumber(value: number, decimals: number): string {
  const text = value.toFixed(decimals);
  return /^-0?\.?0*$/.test(text) ? text.slice(1) : text.replace('-', MINUS);
}

/** `value` moved onto [lo, hi] when rounding put it just outside. */
const clampTo = (value: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, value));

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
    ticks.push({ value: clampTo(value, lo, hi), label: formatNumber(value, decimals) });
  }
  return ticks;
}

/** `10` with exponent `e` in superscript digits, as matplotlib writes log-axis labels. */
const powerOfTen = (e: number): string => `10${[...String(e)].map((c) => SUPERSCRIPTS[c]).join('')}`;

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
    const major = decades.filter((e) => e % stride === 0).map((e) => ({ value: clampTo(10 ** e, lo, hi), label: powerOfTen(e) }));
    return { major, minor };
  }
  const major: Tick[] = [];
  for (let e = first; e <= last; ++e) {
    for (const m of [1, 2, 5]) {
      const value = m * 10 ** e;
      if (inside(value)) major.push({ value: clampTo(value, lo, hi), label: formatNumber(value, Math.max(0, -e)) });
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

/** Lays the chart out in pixels, as matplotlib would lay out d2l's figure at this size. */
function layout(settings: ChartSettings, series: [number, number][][]): Layout {
  const { width, height, xscale, yscale } = settings;
  const font = chartFontMetrics();
  const dpi = Math.min(width / FIGSIZE_INCHES[0], height / FIGSIZE_INCHES[1]);
  const pt = dpi / 72;
  const fontSize = FONT_SIZE * pt;
  const textHeight = (font.ascent + font.descent) * fontSize;
  const pad = PAD_INCHES * dpi;
  const tickSpace = (TICK_LENGTH + TICK_PAD) * pt;

  // Points with NaN, or <= 0 on a log axis, are not drawn, and do not count for the limits.
  const drawable = series.flat().filter(([x, y]) => Number.isFinite(transform(x, xscale)) && Number.isFinite(transform(y, yscale)));
  const xlim = settings.xlim ?? autoLimits(drawable.map((p) => p[0]), xscale);
  const ylim = settings.ylim ?? autoLimits(drawable.map((p) => p[1]), yscale);

  // Margins fit the labels, as savefig(bbox_inches='tight') crops d2l's figure.
  const top = pad + (font.ascent * fontSize) / 2;
  const bottom = height - pad - textHeight - tickSpace - (settings.xlabel ? textHeight + LABEL_PAD * pt : 0);
  // matplotlib sizes tick spacing by the axis length: 3 font sizes per x bin, 2 per y bin.
  const yAxis = makeAxis(ylim, yscale, (bottom - top) / (2 * fontSize));
  const yTickLabelWidth = Math.max(0, ...yAxis.major.map((t) => textWidth(t.label, fontSize)));
  const yTickLabelLeft = pad + (settings.ylabel ? textHeight + LABEL_PAD * pt : 0);
  const left = yTickLabelLeft + yTickLabelWidth + tickSpace;
  const fullRight = width - pad;
  const provisional = makeAxis(xlim, xscale, (fullRight - left) / (3 * fontSize));
  // The last x tick label may stick out past the plot area's right edge.
  const overhang = Math.max(0, ...provisional.major.map((t) => position(provisional, t.value, left, fullRight) + textWidth(t.label, fontSize) / 2 - fullRight));
  const right = fullRight - overhang;
  const xAxis = makeAxis(xlim, xscale, (right - left) / (3 * fontSize));
  // The spines on pixel centres, as matplotlib snaps them, so that they are crisp and the ticks
  // (which echarts snaps) meet them.
  const snap = (v: number): number => Math.round(v - 0.5) + 0.5;
  const plot = { left: snap(left), top: snap(top), right: snap(right), bottom: snap(bottom) };
  return { pt, fontSize, textHeight, plot, xAxis, yAxis, yTickLabelLeft };
}

/** Splits points (in pixels) at those that cannot be drawn (NaN, or <= 0 on a log axis), as matplotlib does. */
function drawableRuns(points: [number, number][]): [number, number][][] {
  const runs: [number, number][][] = [[]];
  for (const p of points) {
    if (Number.isFinite(p[0]) && Number.isFinite(p[1])) runs[runs.length - 1].push(p);
    else if (runs[runs.length - 1].length > 0) runs.push([]);
  }
  return runs.filter((run) => run.length > 0);
}

/** An axis-aligned box in pixels. */
interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** matplotlib's badness of a legend place: data points inside it, plus lines that cross it. */
function overlap(box: Box, runs: [number, number][][]): number {
  const inBox = ([x, y]: [number, number]): boolean => x >= box.x && x <= box.x + box.width && y >= box.y && y <= box.y + box.height;
  let count = 0;
  for (const run of runs) {
    count += run.filter(inBox).length;
    if (run.some((p, i) => i > 0 && segmentCrosses(box, run[i - 1], p))) ++count;
  }
  return count;
}

/** Liang-Barsky: whether the segment a-b meets the box. */
function segmentCrosses(box: Box, a: [number, number], b: [number, number]): boolean {
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

/**
 * matplotlib's loc='best' for a legend `width` x `height` pixels: of its candidate places in the
 * plot area, the first that covers the least data.
 */
function bestLegendPlace(width: number, height: number, area: Layout['plot'], gap: number, runs: [number, number][][]): [number, number] {
  const xs = { left: area.left + gap, center: (area.left + area.right - width) / 2, right: area.right - gap - width };
  const ys = { top: area.top + gap, center: (area.top + area.bottom - height) / 2, bottom: area.bottom - gap - height };
  // matplotlib's order: upper right, upper left, lower left, lower right, right, center left,
  // center right (same place as right), lower center, upper center, center.
  const candidates: [number, number][] = [
    [xs.right, ys.top], [xs.left, ys.top], [xs.left, ys.bottom], [xs.right, ys.bottom], [xs.right, ys.center],
    [xs.left, ys.center], [xs.center, ys.bottom], [xs.center, ys.top], [xs.center, ys.center],
  ];
  let best = candidates[0];
  let bestOverlap = Infinity;
  for (const [x, y] of candidates) {
    const covered = overlap({ x, y, width, height }, runs);
    if (covered < bestOverlap) {
      best = [x, y];
      bestOverlap = covered;
    }
  }
  return best;
}

/** A series' echarts name; its legend text is looked up from it, so entries may repeat. */
const SERIES_NAME = 'series ';
const seriesName = (i: number): string => `${SERIES_NAME}${i}`;

/** An echarts `path://` symbol: a cross of bars `thickness` (a fraction of its size) thick, upright or as an x. */
function crossSymbol(thickness: number, diagonal: boolean): string {
  const p = (x: number, y: number): string => `${+x.toFixed(4)},${+y.toFixed(4)}`;
  if (!diagonal) {
    const [a, b] = [0.5 - thickness / 2, 0.5 + thickness / 2];
    return `path://M${p(a, 0)}L${p(b, 0)}L${p(b, a)}L${p(1, a)}L${p(1, b)}L${p(b, b)}L${p(b, 1)}L${p(a, 1)}L${p(a, b)}L${p(0, b)}L${p(0, a)}L${p(a, a)}Z`;
  }
  const s = (thickness / 2) * Math.SQRT2;
  const corners = [[s, 0], [0.5, 0.5 - s], [1 - s, 0], [1, s], [0.5 + s, 0.5], [1, 1 - s], [1 - s, 1], [0.5, 0.5 + s], [s, 1], [0, 1 - s], [0.5 - s, 0.5], [0, s]];
  return `path://M${corners.map(([x, y]) => p(x, y)).join('L')}Z`;
}

/** echarts' symbol for a matplotlib marker `size` pixels across, with an edge `edge` pixels wide. */
function markerSymbol(marker: MarkerShape, size: number, edge: number): { symbol: string; symbolSize: number; symbolRotate: number; edgeWidth: number } {
  switch (marker) {
    case 'point':
      return { symbol: 'circle', symbolSize: size / 2, symbolRotate: 0, edgeWidth: edge };
    case 'circle':
      return { symbol: 'circle', symbolSize: size, symbolRotate: 0, edgeWidth: edge };
    case 'square':
      return { symbol: 'rect', symbolSize: size, symbolRotate: 0, edgeWidth: edge };
    case 'triangle_up':
      return { symbol: 'triangle', symbolSize: size, symbolRotate: 0, edgeWidth: edge };
    case 'triangle_down':
      return { symbol: 'triangle', symbolSize: size, symbolRotate: 180, edgeWidth: edge };
    case 'diamond':
      return { symbol: 'diamond', symbolSize: size * Math.SQRT2, symbolRotate: 0, edgeWidth: edge };
    case 'x':
    case 'plus': // strokes, drawn as filled bars as wide as matplotlib's marker edge
      return { symbol: crossSymbol(edge / size, marker === 'x'), symbolSize: size, symbolRotate: 0, edgeWidth: 0 };
  }
}

/**
 * How much lower echarts' line box of a horizontal text must start than the top of its text
 * (the top of 'l') for that to be where matplotlib draws it: echarts centres the line box on
 * SVG's central baseline, and matplotlib's text box starts at the ascent.
 */
function centralShift(fontSize: number, textHeight: number): number {
  const font = chartFontMetrics();
  return (font.ascent - font.central) * fontSize - textHeight / 2;
}

/** Options shared by the axes: black ticks out, black labels, grey grid lines, no axis line (the frame draws it). */
function axisOption(axis: Axis, l: Layout, horizontal: boolean): ValueAxisOption {
  const values = axis.major.map((t) => transform(t.value, axis.scale));
  const labels = axis.major.map((t) => t.label);
  // The label of the tick nearest `value`: echarts hands the formatter the values given it.
  const label = (value: number): string => {
    let best = 0;
    values.forEach((v, i) => {
      if (Math.abs(v - value) < Math.abs(values[best] - value)) best = i;
    });
    return labels[best] ?? '';
  };
  const { pt, fontSize, textHeight } = l;
  return {
    type: 'value',
    min: transform(axis.lo, axis.scale),
    max: transform(axis.hi, axis.scale),
    silent: true,
    axisLine: { show: false, onZero: false },
    axisTick: { show: true, inside: false, length: TICK_LENGTH * pt, lineStyle: { color: '#000000', width: AXES_LINE_WIDTH * pt }, customValues: values },
    axisLabel: {
      show: true,
      customValues: values,
      formatter: label,
      hideOverlap: false,
      color: '#000000',
      fontFamily: CHART_FONT_FAMILY,
      fontSize,
      lineHeight: textHeight,
      // x axis: matplotlib puts the top of the text (the top of 'l') one tick length plus the
      // tick pad under the axis. y axis: echarts centres the label on its tick, within half a
      // pixel of matplotlib's 'center_baseline' (the middle of the ascent on the tick).
      margin: (TICK_LENGTH + TICK_PAD) * pt + (horizontal ? centralShift(fontSize, textHeight) : 0),
    },
    splitLine: { show: true, showMinLine: true, showMaxLine: true, lineStyle: { color: GRID_COLOR, width: AXES_LINE_WIDTH * pt } },
    splitArea: { show: false },
    minorTick: { show: false },
    minorSplitLine: { show: false },
  };
}

/** A second axis over the first that draws only the minor ticks of a log axis. */
function minorAxisOption(axis: Axis, l: Layout): ValueAxisOption {
  const values = axis.minor.map((v) => transform(v, axis.scale));
  return {
    type: 'value',
    min: transform(axis.lo, axis.scale),
    max: transform(axis.hi, axis.scale),
    silent: true,
    axisLine: { show: false, onZero: false },
    axisTick: { show: true, inside: false, length: MINOR_TICK_LENGTH * l.pt, lineStyle: { color: '#000000', width: MINOR_TICK_WIDTH * l.pt }, customValues: values },
    axisLabel: { show: false },
    splitLine: { show: false },
    splitArea: { show: false },
  };
}

/** The chart as an echarts option, with d2l's look; `styles[i]` draws series `i`. */
export function chartOption(settings: ChartSettings, series: [number, number][][], styles: SeriesStyle[]): ChartOption {
  const l = layout(settings, series);
  const { pt, fontSize, textHeight, plot, xAxis, yAxis } = l;
  const font = chartFontMetrics();
  const shift = centralShift(fontSize, textHeight);
  const lineWidth = LINE_WIDTH * pt;
  const markerSize = MARKER_SIZE * pt;
  const edgeWidth = MARKER_EDGE_WIDTH * pt;
  const tx = (x: number): number => transform(x, settings.xscale);
  const ty = (y: number): number => transform(y, settings.yscale);
  const text = { color: '#000000', fontFamily: CHART_FONT_FAMILY, fontSize, lineHeight: textHeight };

  const lineStyle = (style: SeriesStyle): LineStyleOption => ({
    color: style.color,
    width: lineWidth,
    type: style.line === 'solid' || style.line === null ? 'solid' : DASHES[style.line].map((d) => d * lineWidth),
    cap: style.line === 'solid' ? 'square' : 'butt', // matplotlib's solid and dashed cap styles
    join: 'round',
    opacity: 1,
  });

  const seriesOptions = series.map((points, i): LineSeriesOption => {
    const style = styles[i];
    const marker = style.marker ? markerSymbol(style.marker, markerSize, edgeWidth) : null;
    // echarts leaves a gap at a point that is not a number, as matplotlib does at NaN
    const data = points.map(([x, y]) => {
      const p = [tx(x), ty(y)];
      return p.every(Number.isFinite) ? p : [p[0], NaN];
    });
    const common = {
      name: seriesName(i),
      data,
      xAxisIndex: 0,
      yAxisIndex: 0,
      clip: true,
      silent: true,
      animation: false,
      legendHoverLink: false,
      emphasis: { disabled: true },
      z: 2,
      ...(marker
        ? { symbol: marker.symbol, symbolSize: marker.symbolSize, symbolRotate: marker.symbolRotate, symbolKeepAspect: true,
          itemStyle: { color: style.color, borderColor: style.color, borderWidth: marker.edgeWidth, opacity: 1 } }
        : { symbol: 'none', itemStyle: { color: style.color } }),
    };
    // A format with a marker and no line draws markers only: its line is not drawn. (A line
    // series still, not a scatter one: its legend handle is then a marker of the line's size,
    // where a scatter series' would fill the handle's box.)
    return {
      type: 'line' as const, ...common, showSymbol: marker !== null, showAllSymbol: true, connectNulls: false, smooth: false,
      lineStyle: style.line === null ? { width: 0, opacity: 0 } : lineStyle(style),
    };
  });

  const option: ChartOption = {
    animation: false,
    backgroundColor: '#ffffff',
    textStyle: text,
    grid: {
      left: plot.left, top: plot.top, width: plot.right - plot.left, height: plot.bottom - plot.top,
      outerBoundsMode: 'none', containLabel: false, show: false,
    },
    // matplotlib's four spines, over the grid and the lines as in matplotlib, under the legend
    graphic: [{
      type: 'rect', silent: true, z: 3,
      shape: { x: plot.left, y: plot.top, width: plot.right - plot.left, height: plot.bottom - plot.top },
      style: { fill: 'none', stroke: '#000000', lineWidth: AXES_LINE_WIDTH * pt },
    }],
    xAxis: [
      {
        ...axisOption(xAxis, l, true),
        position: 'bottom' as const,
        ...(settings.xlabel ? {
          name: settings.xlabel,
          nameLocation: 'middle',
          nameMoveOverlap: false,
          // echarts puts the top of the label's line box nameGap under the axis; matplotlib, the
          // top of the text labelpad under the tick labels
          nameGap: (TICK_LENGTH + TICK_PAD) * pt + textHeight + LABEL_PAD * pt + shift,
          nameTextStyle: text,
        } : {}),
      },
      ...(xAxis.minor.length > 0 ? [{ ...minorAxisOption(xAxis, l), position: 'bottom' as const }] : []),
    ],
    yAxis: [
      {
        ...axisOption(yAxis, l, false),
        position: 'left' as const,
        ...(settings.ylabel ? {
          name: settings.ylabel,
          nameLocation: 'middle',
          nameRotate: 90,
          nameMoveOverlap: false,
          // Read bottom to top. echarts puts the descent side of the label's line box nameGap
          // left of the axis; matplotlib, the bottom of the text labelpad left of the tick labels.
          nameGap: plot.left - (l.yTickLabelLeft - LABEL_PAD * pt - (font.descent + font.central) * fontSize + textHeight / 2),
          nameTextStyle: text,
        } : {}),
      },
      ...(yAxis.minor.length > 0 ? [{ ...minorAxisOption(yAxis, l), position: 'left' as const }] : []),
    ],
    series: seriesOptions,
  };

  const entries = settings.legend.slice(0, series.length);
  if (entries.length > 0) {
    const pad = LEGEND.borderPad * fontSize;
    const handle = LEGEND.handleLength * fontSize;
    const textPad = LEGEND.handleTextPad * fontSize;
    const rowGap = LEGEND.labelSpacing * fontSize;
    // echarts' legend box also holds half the width of a line handle's stroke left of the handle
    const strokeOverhang = styles.slice(0, entries.length).some((style) => style.line !== null) ? lineWidth / 2 : 0;
    const width = 2 * pad + strokeOverhang + handle + textPad + Math.max(...entries.map((e) => textWidth(e, fontSize)));
    const height = 2 * pad + entries.length * textHeight + (entries.length - 1) * rowGap;
    const px = (x: number): number => plot.left + ((tx(x) - tx(xAxis.lo)) / (tx(xAxis.hi) - tx(xAxis.lo))) * (plot.right - plot.left);
    const py = (y: number): number => plot.bottom - ((ty(y) - ty(yAxis.lo)) / (ty(yAxis.hi) - ty(yAxis.lo))) * (plot.bottom - plot.top);
    const runs = series.flatMap((points) => drawableRuns(points.map(([x, y]): [number, number] => [px(x), py(y)])));
    const [left, top] = bestLegendPlace(width, height, plot, LEGEND.borderAxesPad * fontSize, runs);
    const legend: LegendComponentOption = {
      show: true,
      orient: 'vertical',
      align: 'left',
      left,
      top,
      padding: pad,
      itemGap: rowGap,
      itemWidth: handle,
      itemHeight: textHeight,
      backgroundColor: LEGEND_FACE,
      borderColor: LEGEND_EDGE,
      borderWidth: LEGEND_EDGE_WIDTH * pt,
      borderRadius: LEGEND.radius * fontSize,
      selectedMode: false,
      // matplotlib's handletextpad between the handle and the text, in place of echarts' 5 pixels
      textStyle: { ...text, padding: [0, 0, 0, textPad - ECHARTS_LEGEND_TEXT_GAP] },
      formatter: (name: string) => entries[Number(name.slice(SERIES_NAME.length))] ?? name,
      data: entries.map((_, i) => {
        const marker = styles[i].marker ? markerSymbol(styles[i].marker, markerSize, edgeWidth) : null;
        return {
          name: seriesName(i),
          // a line's handle is the line alone unless the series has markers
          itemStyle: marker ? { color: styles[i].color, borderColor: styles[i].color, borderWidth: marker.edgeWidth, opacity: 1 } : { opacity: 0 },
          lineStyle: styles[i].line ? lineStyle(styles[i]) : { width: 0, opacity: 0 },
        };
      }),
    };
    option.legend = legend;
  }
  return option;
}
