import type { Registry } from 'prom-client';

/** One label set's buckets: plain numbers, so an observation is a bounds scan and three adds. */
export class HistogramSeries {
  /** Non-cumulative: counts[i] holds observations in (bounds[i-1], bounds[i]]; the last, above every bound. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let index = 0;
    while (index < bounds.length && value > bounds[index]) index += 1;
    this.counts[index] += 1;
    this.sum += value;
    this.count += 1;
  }
}

interface MetricValue {
  readonly metricName: string;
  readonly labels: Record<string, string | number>;
  readonly value: number;
}

/**
 * A Prometheus histogram for the proxy's per-request path: observations go into plain arrays
 * (no label hashing, no allocation), and prom-client reads them only when scraped, through the
 * registry's custom-metric interface (`get()`); a cluster's workers are summed like any histogram.
 * prom-client's own Histogram hashes the labels and allocates on every observation, which
 * `npm run bench:profile` showed on the proxy's hot path.
 */
export class PlainHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, HistogramSeries>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
    /** The one label the series are told apart by; none when undefined. */
    private readonly labelName: string | undefined,
    registry: Registry,
  ) {
    registry.registerMetric(this as never);
  }

  /** The series for a label value, made at its first use. */
  seriesFor(labelValue = ''): HistogramSeries {
    let found = this.series.get(labelValue);
    if (!found) {
      found = new HistogramSeries(this.bounds);
      this.series.set(labelValue, found);
    }
    return found;
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue[] }> {
    const values: MetricValue[] = [];
    for (const [labelValue, series] of this.series) {
      const labels: Record<string, string> = this.labelName === undefined ? {} : { [this.labelName]: labelValue };
      let cumulative = 0;
      this.bounds.forEach((bound, index) => {
        cumulative += series.counts[index];
        values.push({ metricName: `${this.name}_bucket`, labels: { le: bound, ...labels }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...labels }, value: series.count });
      values.push({ metricName: `${this.name}_sum`, labels, value: series.sum });
      values.push({ metricName: `${this.name}_count`, labels, value: series.count });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }
}
