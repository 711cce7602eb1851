// What the dashboard script finds on `window`: chart.js's UMD build (served from node_modules) and the state it
// exposes for the browser test.
interface Window {
  // chart.js's UMD build; its own types would need the package's ESM entry in this script-mode file.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  Chart: any;
  unknotDashboard: unknown;
}
