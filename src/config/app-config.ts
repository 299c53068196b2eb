export type Role = 'service' | 'balancer';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** The one typed configuration object; built once at boot by `loadConfig`. */
export interface AppConfig {
  readonly role: Role;
  readonly http: {
    readonly port: number;
    readonly host: string;
    /** Largest request body accepted; larger ones get 413. */
    readonly bodyLimitBytes: number;
  };
  readonly logLevel: LogLevel;
  readonly readiness: {
    /** Leave cooldown once in-flight clients drop below this. */
    readonly minClients: number;
    /** Enter cooldown when in-flight clients reach this. */
    readonly maxClients: number;
    /** While in cooldown, answer new tracked requests 503 instead of serving them. */
    readonly shed: boolean;
    /** Count in-flight requests at all (off: /ready reflects only shutdown and Redis). */
    readonly trackClients: boolean;
    readonly longTaskDefaultMs: number;
    readonly longTaskMaxMs: number;
  };
  readonly shutdown: {
    /** Pause between flipping readiness and draining, so endpoints drop the pod first. */
    readonly delayMs: number;
    /** Upper bound for the whole shutdown; past it the process exits 1. */
    readonly graceMs: number;
  };
  /** Unset: in-process memory drivers. */
  readonly redis?: {
    readonly url: string;
    readonly prefix: string;
  };
}

export const DEFAULT_PORTS: Record<Role, number> = { service: 8000, balancer: 8080 };
