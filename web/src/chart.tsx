/**
 * A line chart on uPlot (a canvas): days on the x axis, one line per series. A table of the same figures
 * follows every chart for screen readers and for copying.
 */
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

/** One line: its label and a value per day. */
export interface Series {
  label: string;
  values: number[];
}

const COLOURS = ["#1f6feb", "#c2410c", "#15803d", "#9333ea", "#b91c1c", "#0e7490"];

/** A chart of series over days (`YYYY-MM-DD`). */
export function DayChart(props: { title: string; days: string[]; series: Series[]; unit?: string }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = host.current;
    if (el === null) return;
    const xs = props.days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
    const width = Math.max(260, el.clientWidth);
    const plot = new uPlot(
      {
        width,
        height: 220,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
        series: [
          {},
          ...props.series.map((s, i) => ({
            label: s.label,
            stroke: COLOURS[i % COLOURS.length],
            width: 2,
            points: { show: xs.length < 40 },
          })),
        ],
        axes: [{}, { size: 60 }],
        // The labels only: live values under the cursor read "--" until one hovers, which looks broken.
        legend: { show: true, live: false },
        cursor: { drag: { x: false, y: false } },
      },
      [xs, ...props.series.map((s) => s.values)],
      el,
    );
    const resize = () => plot.setSize({ width: Math.max(260, el.clientWidth), height: 220 });
    const observer = new ResizeObserver(resize);
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [props.days, props.series]);
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      {props.days.length === 0 ? (
        <p class="empty">No figures for these days yet.</p>
      ) : (
        <div
          ref={host}
          class="chart-canvas"
          role="img"
          aria-label={`${props.title}: chart; the table below has the figures`}
        />
      )}
      <details>
        <summary>Figures</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Day</th>
              {props.series.map((s) => (
                <th scope="col" key={s.label}>
                  {s.label}
                  {props.unit === undefined ? "" : ` (${props.unit})`}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {props.days.map((d, i) => (
              <tr key={d}>
                <th scope="row">{d}</th>
                {props.series.map((s) => (
                  <td key={s.label}>{s.values[i] ?? 0}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
