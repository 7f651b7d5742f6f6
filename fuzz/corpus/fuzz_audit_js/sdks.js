// expect: endpoint/error-reporting
// expect: remote-config/feature-flags
// expect: endpoint/telemetry
// expect-endpoint: o123.ingest.sentry.io
// Telemetry, error reporting and feature flags.
const Sentry = require("@sentry/node");
Sentry.init({ dsn: "https://abc@o123.ingest.sentry.io/456" });
const statsig = require("statsig-node");
statsig.initialize("secret-key", { api: "https://statsigapi.net/v1" });
const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-http");
new OTLPTraceExporter({ url: "https://otel.example.com/v1/traces" });
