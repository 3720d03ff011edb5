// A reader for the Prometheus text exposition format (the sample lines; HELP and TYPE are skipped), so
// tests can check what GET /metrics serves the way a scraper would read it.

export interface PromSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?(?:[0-9.e+-]+|Inf|NaN))$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function unescape(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

/** Sample lines as metric name → samples; throws on a line that is neither a sample nor a comment. */
export function parsePrometheusText(text: string): Map<string, PromSample[]> {
  const out = new Map<string, PromSample[]>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = SAMPLE_LINE.exec(line);
    if (!m) throw new Error(`not a sample line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    const body = m[2] ?? "";
    // Between the labels there may be only the commas that separate them.
    if (!/^,*$/.test(body.replace(LABEL, ""))) throw new Error(`malformed labels: ${JSON.stringify(line)}`);
    for (const l of body.matchAll(LABEL)) labels[l[1]] = unescape(l[2]);
    const list = out.get(m[1]) ?? [];
    list.push({ labels, value: Number(m[3]) });
    out.set(m[1], list);
  }
  return out;
}
