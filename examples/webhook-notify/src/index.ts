export { WebhookNotifyPlugin, parseWebhookNotifyOptions, type WebhookNotifyOptions, type WebhookPayload } from "./WebhookNotifyPlugin.js";
