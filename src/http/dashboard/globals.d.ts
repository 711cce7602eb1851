// What the dashboard script finds on `window`: chart.js's UMD build (served from node_modules) and the state it
// exposes for the browser test.
interface Window {
  Chart: any;
  unknotDashboard: unknown;
}
