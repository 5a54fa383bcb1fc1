/**
 * Draws an Animator chart (a `ChartScene`) as a standalone SVG document. Series lines are
 * `<polyline class="series" data-series="i">` elements, clipped to the plot area
 * (`<clipPath id="plot-area">`); text names DejaVu Sans first, matplotlib's font, with the
 * usual fallbacks.
 */
import type { ChartItem, ChartScene, Point, Stroke, TextRun } from './animator';
import { SUPERSCRIPT_RISE, SUPERSCRIPT_SCALE } from './chart-png';

const FONT_FAMILY = "'DejaVu Sans', 'Bitstream Vera Sans', Arial, Helvetica, sans-serif";

/** A coordinate or length with at most 2 decimals. */
function num(value: number): string {
  return String(Math.round(value * 100) / 100);
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function pointList(points: Point[]): string {
  return points.map(([x, y]) => `${num(x)},${num(y)}`).join(' ');
}

function strokeAttributes(stroke: Stroke): string {
  let attributes = `stroke="${stroke.color}" stroke-width="${num(stroke.width)}" stroke-linecap="${stroke.cap}"`;
  if (stroke.dash) attributes += ` stroke-dasharray="${stroke.dash.map(num).join(' ')}"`;
  if (stroke.opacity !== undefined && stroke.opacity !== 1) attributes += ` stroke-opacity="${stroke.opacity}"`;
  return attributes;
}

function textElement(at: Point, runs: TextRun[], size: number, anchor: string, vertical: boolean): string {
  const [x, y] = at;
  const rotate = vertical ? ` transform="rotate(-90 ${num(x)} ${num(y)})"` : '';
  let rise = 0;
  const spans = runs.map((run) => {
    const target = run.superscript ? SUPERSCRIPT_RISE * size : 0;
    const shift = rise - target; // SVG's dy points down
    rise = target;
    const attributes = (shift !== 0 ? ` dy="${num(shift)}"` : '') + (run.superscript ? ` font-size="${num(size * SUPERSCRIPT_SCALE)}"` : '');
    return attributes ? `<tspan${attributes}>${escapeXml(run.text)}</tspan>` : escapeXml(run.text);
  });
  return `<text x="${num(x)}" y="${num(y)}" font-size="${num(size)}" text-anchor="${anchor}"${rotate}>${spans.join('')}</text>`;
}

function itemElement(item: ChartItem): string {
  const clip = ' clip-path="url(#plot-area)"';
  switch (item.kind) {
    case 'rect': {
      const { x, y, width, height } = item.rect;
      const corner = item.radius > 0 ? ` rx="${num(item.radius)}"` : '';
      const fill = `fill="${item.fill}"${item.fillOpacity !== 1 ? ` fill-opacity="${item.fillOpacity}"` : ''}`;
      const stroke = item.stroke ? ` ${strokeAttributes(item.stroke)}` : '';
      return `<rect x="${num(x)}" y="${num(y)}" width="${num(width)}" height="${num(height)}"${corner} ${fill}${stroke}/>`;
    }
    case 'line': {
      const [[x1, y1], [x2, y2]] = [item.from, item.to];
      return `<line x1="${num(x1)}" y1="${num(y1)}" x2="${num(x2)}" y2="${num(y2)}" ${strokeAttributes(item.stroke)}/>`;
    }
    case 'polyline':
      return `<polyline class="series" data-series="${item.series}" points="${pointList(item.points)}" fill="none" ${strokeAttributes(item.stroke)} stroke-linejoin="round"${item.clip ? clip : ''}/>`;
    case 'markers': {
      const { shape, color } = item;
      const edge = `stroke="${color}" stroke-width="${num(item.edgeWidth)}"`;
      const marks = item.centers.map(([cx, cy]) => {
        const at = (p: Point): Point => [cx + p[0], cy + p[1]];
        switch (shape.kind) {
          case 'disk':
            return `<circle cx="${num(cx)}" cy="${num(cy)}" r="${num(shape.radius)}"/>`;
          case 'polygon':
            return `<polygon points="${pointList(shape.points.map(at))}"/>`;
          case 'strokes':
            return `<path d="${shape.segments.map(([a, b]) => `M${pointList([at(a)])}L${pointList([at(b)])}`).join('')}"/>`;
        }
      });
      const fill = shape.kind === 'strokes' ? 'none' : color;
      return `<g class="markers" data-series="${item.series}" fill="${fill}" ${edge}${item.clip ? clip : ''}>${marks.join('')}</g>`;
    }
    case 'text':
      return textElement(item.at, item.runs, item.size, item.anchor, item.vertical);
  }
}

/** The scene as an SVG 1.1 document, `width` x `height` user units (pixels). */
export function renderSVG(scene: ChartScene): string {
  const { width, height, plotArea } = scene;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT_FAMILY}">`,
    `<defs><clipPath id="plot-area"><rect x="${num(plotArea.x)}" y="${num(plotArea.y)}" width="${num(plotArea.width)}" height="${num(plotArea.height)}"/></clipPath></defs>`,
    ...scene.items.map(itemElement),
    '</svg>',
    '',
  ];
  return lines.join('\n');
}
