/**
 * hostmux: many web sites in one Node.js process, routed by host name.
 * @packageDocumentation
 */
export {
  createApplication,
  type Application,
  type ApplicationOptions,
  type ReloadResult,
  type RouteMatch,
  type SiteDescriptor,
} from './application.js';
export type { IniValue } from './config/ini-file.js';
export type { ApplicationStats, ReloadRecord, SiteStats, SiteStatusState } from './metrics/stats.js';
export { diagnosticsChannels } from './diagnostics/channels.js';
export type {
  RequestRoutedMessage,
  ResponseFinishedMessage,
  SiteLoadedMessage,
  SiteLoadFailedMessage,
} from './diagnostics/messages.js';
export type { ReloadDoneMessage } from './diagnostics/reload-message.js';
export type { SiteSettings } from './config/site-file.js';
export {
  BadResponseError,
  ClientGoneError,
  ClosedError,
  ConfigError,
  HostmuxError,
  InvalidOptionError,
  isHostmuxError,
  SiteLoadError,
  UpstreamError,
  UpstreamTimeoutError,
  type ConfigProblem,
  type HostmuxErrorCode,
  type HostmuxErrorMap,
  type SiteLoadProblem,
} from './errors.js';
export type { Logger, LogFn } from './logger.js';
export type { AnyRequest } from './routing/request-host.js';
export type { AnyResponse } from './respond.js';
export { siteOf, type SiteInfo } from './site-of.js';
export type { SiteKind } from './sites/index.js';
export type {
  CreateHandler,
  SiteFetchHandler,
  SiteHandler,
  SiteHooks,
  SiteModule,
  SiteRequestListener,
  SiteUpgradeListener,
} from './sites/module/module-contract.js';
export type { SiteContext } from './sites/module/module-site.js';
