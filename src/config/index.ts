export type { AppConfig, HostPort, LogLevel, RedisEndpoint, RetryPolicy, Role } from './app-config.js';
export { APP_CONFIG } from './config.constants.js';
export { ConfigError } from './config.errors.js';
export { ConfigModule, InjectConfig } from './config.module.js';
export { loadConfig } from './load-config.js';
