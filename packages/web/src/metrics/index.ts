// The agent's Prometheus metrics: AgentMetrics and the /metrics route.
export { AgentMetrics, type AgentMetricsOptions } from "./AgentMetrics.js";
export { registerMetricsRoute } from "./registerMetricsRoute.js";
export { B2_TRANSACTION_CLASS, type StorageCallKind, type TransactionClass } from "./meterStorage.js";
