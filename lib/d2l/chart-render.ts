/**
 * Draws charts with maintained libraries: echarts' server-side SVG renderer builds the SVG
 * document from an echarts option, and resvg (prebuilt binaries from npm) rasterises it to PNG.
 * Both see the same font: echarts measures text with the chart font's metrics (`chart-font.ts`)
 * and resvg loads that font file and no system font, so text is laid out and drawn the same on
 * every machine.
 */
import type * as ResvgJs from '@resvg/resvg-js';
import type * as Echarts from 'echarts';

import { CHART_FONT_FAMILY, chartFontFile, textWidth } from './chart-font';

/** An echarts option, as `setOption` takes it. */
export type ChartOption = Echarts.EChartsOption;

let loaded: typeof Echarts | undefined;

/**
 * echarts, loaded on first use (it takes a tenth of a second, which programs that draw no chart
 * need not spend), and set to measure text with the chart font. echarts keeps one text measurer
 * per process (without a canvas it would guess widths from a built-in table), so that applies to
 * every echarts chart drawn in this process; sizes come from the CSS font string.
 */
function echarts(): typeof Echarts {
  if (loaded) return loaded;
  const library = require('echarts') as typeof Echarts;
  library.setPlatformAPI({
    measureText: (text: string, font?: string) => {
      const size = Number(/(\d+(?:\.\d+)?)px/.exec(font ?? '')?.[1] ?? 12);
      return { width: textWidth(text, size) };
    },
  });
  loaded = library;
  return library;
}

/**
 * `option` drawn by echarts' SVG renderer as a standalone SVG document, `width` x `height`
 * pixels. (The ids and class names echarts writes count up within a process, so drawing the same
 * chart twice gives documents that differ in those names only.)
 */
export function renderChartSVG(option: ChartOption, width: number, height: number): string {
  const chart = echarts().init(null, null, { renderer: 'svg', ssr: true, width, height });
  try {
    chart.setOption(option);
    return chart.renderToSVGString();
  } finally {
    chart.dispose();
  }
}

let resvgLoaded: typeof ResvgJs | undefined;

/** resvg (a native binary), loaded on first use, as echarts is: programs that draw no PNG need not load it. */
function resvg(): typeof ResvgJs {
  resvgLoaded ??= require('@resvg/resvg-js') as typeof ResvgJs;
  return resvgLoaded;
}

/** resvg's options: the chart font only, sizes as in the SVG document. */
function resvgOptions(): ResvgJs.ResvgRenderOptions {
  return {
    font: { fontFiles: [chartFontFile()], loadSystemFonts: false, defaultFontFamily: CHART_FONT_FAMILY, sansSerifFamily: CHART_FONT_FAMILY },
    fitTo: { mode: 'original' },
    logLevel: 'off',
  };
}

/** An SVG document rasterised by resvg: a PNG image (8-bit RGBA) of the document's size. */
export function svgToPNG(svg: string): Buffer {
  return new (resvg().Resvg)(svg, resvgOptions()).render().asPng();
}

/** `svgToPNG`, rasterised on resvg's worker thread, so that the event loop goes on meanwhile. */
export async function svgToPNGAsync(svg: string): Promise<Buffer> {
  return (await resvg().renderAsync(svg, resvgOptions())).asPng();
}
