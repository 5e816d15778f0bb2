export { AppConfig, ConfigError, loadConfig } from './app-config.js';
export { ConfigModule } from './config.module.js';
export { PROCESS_MODES, type ProcessMode } from './env.schema.js';
