import type { SpanExporter } from '@opentelemetry/sdk-trace-node';
import type { AppConfig } from '../config/index.js';

/**
 * Registers a tracer provider when OTEL_* asked for an exporter; otherwise the
 * OpenTelemetry API stays a no-op and nothing needs a collector (the seed required
 * Zipkin to be up). Returns the shutdown to flush spans on exit.
 *
 * The SDK and the exporter are loaded only then: their 300-odd modules took about 200 ms of
 * every boot (of about 2 s here), traced or not.
 */
export async function startTracing(tracing: AppConfig['tracing']): Promise<() => Promise<void>> {
  if (!tracing) return async () => undefined;
  const [{ resourceFromAttributes }, { BatchSpanProcessor, ConsoleSpanExporter, NodeTracerProvider }] = await Promise.all([
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-node'),
  ]);
  let exporter: SpanExporter;
  if (tracing.exporter === 'zipkin') {
    const { ZipkinExporter } = await import('@opentelemetry/exporter-zipkin');
    exporter = new ZipkinExporter(tracing.endpoint ? { url: tracing.endpoint } : {});
  } else if (tracing.exporter === 'otlp') {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    exporter = new OTLPTraceExporter(tracing.endpoint ? { url: tracing.endpoint } : {});
  } else {
    exporter = new ConsoleSpanExporter();
  }
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': tracing.serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  provider.register();
  return () => provider.shutdown();
}
