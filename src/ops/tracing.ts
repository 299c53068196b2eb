import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { ZipkinExporter } from '@opentelemetry/exporter-zipkin';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ConsoleSpanExporter, NodeTracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace-node';
import type { AppConfig } from '../config/index.js';

/**
 * Registers a tracer provider when OTEL_* asked for an exporter; otherwise the
 * OpenTelemetry API stays a no-op and nothing needs a collector (the seed required
 * Zipkin to be up). Returns the shutdown to flush spans on exit.
 */
export function startTracing(tracing: AppConfig['tracing']): () => Promise<void> {
  if (!tracing) return async () => undefined;
  const exporter: SpanExporter =
    tracing.exporter === 'zipkin'
      ? new ZipkinExporter(tracing.endpoint ? { url: tracing.endpoint } : {})
      : tracing.exporter === 'otlp'
        ? new OTLPTraceExporter(tracing.endpoint ? { url: tracing.endpoint } : {})
        : new ConsoleSpanExporter();
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': tracing.serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  provider.register();
  return () => provider.shutdown();
}
