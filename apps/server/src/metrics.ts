const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Request counters and latency histograms, exposed in Prometheus text format at `/metrics`. */
export class Metrics {
  readonly #requests = new Map<string, number>();
  readonly #durations = new Map<string, { counts: number[]; sum: number; count: number }>();
  readonly #counters = new Map<string, number>();
  inFlight = 0;

  /** Records a finished request. */
  observe(method: string, route: string, status: number, seconds: number): void {
    const k = `method="${method}",route="${route}",status="${status}"`;
    this.#requests.set(k, (this.#requests.get(k) ?? 0) + 1);
    const dk = `route="${route}"`;
    let d = this.#durations.get(dk);
    if (!d) {
      d = { counts: buckets.map(() => 0), sum: 0, count: 0 };
      this.#durations.set(dk, d);
    }
    for (let i = 0; i < buckets.length; i++) if (seconds <= buckets[i]!) d.counts[i]!++;
    d.sum += seconds;
    d.count++;
  }

  /** Adds to a plain counter (e.g. bytes received). */
  add(name: string, value: number): void {
    this.#counters.set(name, (this.#counters.get(name) ?? 0) + value);
  }

  /** The Prometheus exposition text. */
  render(): string {
    const lines: string[] = [];
    lines.push('# HELP lade_registry_http_requests_total HTTP requests by method, route and status.');
    lines.push('# TYPE lade_registry_http_requests_total counter');
    for (const [k, v] of this.#requests) lines.push(`lade_registry_http_requests_total{${k}} ${v}`);
    lines.push('# HELP lade_registry_http_request_duration_seconds Request latency by route.');
    lines.push('# TYPE lade_registry_http_request_duration_seconds histogram');
    for (const [k, d] of this.#durations) {
      for (const [i, b] of buckets.entries()) {
        lines.push(`lade_registry_http_request_duration_seconds_bucket{${k},le="${b}"} ${d.counts[i]}`);
      }
      lines.push(`lade_registry_http_request_duration_seconds_bucket{${k},le="+Inf"} ${d.count}`);
      lines.push(`lade_registry_http_request_duration_seconds_sum{${k}} ${d.sum}`);
      lines.push(`lade_registry_http_request_duration_seconds_count{${k}} ${d.count}`);
    }
    lines.push('# TYPE lade_registry_http_requests_in_flight gauge');
    lines.push(`lade_registry_http_requests_in_flight ${this.inFlight}`);
    for (const [name, v] of this.#counters) {
      lines.push(`# TYPE lade_registry_${name} counter`);
      lines.push(`lade_registry_${name} ${v}`);
    }
    if (typeof process !== 'undefined' && typeof process.memoryUsage === 'function') {
      lines.push('# TYPE process_resident_memory_bytes gauge');
      lines.push(`process_resident_memory_bytes ${process.memoryUsage.rss()}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
