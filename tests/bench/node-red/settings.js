// Node-RED settings for the benchmark: the lightest Node-RED can be (no editor, no HTTP nodes, no
// telemetry), so the comparison is with its best case.
module.exports = {
  flowFile: 'flows.json',
  uiHost: '127.0.0.1',
  httpAdminRoot: false,
  httpNodeRoot: false,
  credentialSecret: false,
  logging: { console: { level: 'info', metrics: false, audit: false } },
  externalModules: { autoInstall: false },
  diagnostics: { enabled: false },
  telemetry: { enabled: false },
};
